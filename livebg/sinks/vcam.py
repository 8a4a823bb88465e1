"""Virtual camera output through pyvirtualcam (v4l2loopback or PipeWire on Linux, OBS on Windows and macOS).

Frames arrive as RGB. The backend's native pixel format is asked for once; when it is one
OpenCV can produce directly (I420, NV12, YUYV, UYVY, BGR, RGBA), frames are converted here in
one OpenCV call and sent in that format, so the backend passes them through unconverted.
An odd size is padded by a pixel first: the YUV formats (and v4l2loopback) need even sizes.
"""
from __future__ import annotations

import fcntl
import os
import re
import struct
import sys
from typing import Callable

import cv2
import numpy as np

from livebg.errors import DeviceError

MODPROBE = "sudo modprobe v4l2loopback devices=1 video_nr=10 card_label=livebg exclusive_caps=1"


def _i420(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)


def _nv12(rgb: np.ndarray) -> np.ndarray:
    # NV12 is I420 with the two quarter-size chroma planes interleaved.
    h, w = rgb.shape[:2]
    i420 = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).reshape(-1)
    y, u, v = i420[:h * w], i420[h * w:h * w * 5 // 4], i420[h * w * 5 // 4:]
    out = np.empty(h * w * 3 // 2, dtype=np.uint8)
    out[:h * w] = y
    out[h * w::2] = u
    out[h * w + 1::2] = v
    return out


# Converters from RGB to the formats a backend may want natively; others get RGB.
CONVERTERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "RGB": lambda rgb: rgb,
    "BGR": lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
    "RGBA": lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA),
    "I420": _i420,
    "NV12": _nv12,
    "YUYV": lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_YUY2),
    "UYVY": lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_UYVY),
}


def backend_names() -> list[str]:
    """The pyvirtualcam backends, with livebg's PipeWire camera (Linux) registered, and ``auto``."""
    from pyvirtualcam.camera import BACKENDS

    if sys.platform.startswith("linux"):
        from livebg.sinks import pipewire

        pipewire.register()
    return sorted(BACKENDS) + ["auto"]


LOOPBACK_DEVICES = "/sys/devices/virtual/video4linux/video*"  # v4l2loopback's devices are virtual ones


def auto_backend(device: str | None, *, loopback_glob: str = LOOPBACK_DEVICES) -> str | None:
    """``auto``: v4l2loopback where a loopback device exists (or a /dev path is asked for), else
    PipeWire where its daemon answers, else None (pyvirtualcam tries each and says why each failed)."""
    import glob

    if not sys.platform.startswith("linux"):
        return None
    if (device or "").startswith("/dev/") or glob.glob(loopback_glob):
        return "v4l2loopback"
    from livebg.sinks import pipewire

    if pipewire.daemon_running():
        return "pipewire"
    return None


# Backends whose native format is known without opening them (opening twice would make a camera
# node appear, vanish and appear again in the apps' lists).
KNOWN_NATIVE = {"pipewire": "I420"}


# pyvirtualcam's v4l2loopback backend when the device refuses the format (VIDIOC_S_FMT failed)
REFUSED = re.compile(r"Virtual camera device (\S+) could not be configured: ([^\n]*)")
VIDIOC_ENUM_FMT = 0xC0405602  # _IOWR('V', 2, struct v4l2_fmtdesc)
V4L2_FMTDESC = struct.Struct("=III32sII12x")  # index, type, flags, description, pixelformat, mbus_code
V4L2_BUF_TYPES = (2, 1)  # VIDEO_OUTPUT (what a loopback device takes), then VIDEO_CAPTURE


def device_formats(device: str, *, ioctl: Callable = fcntl.ioctl) -> list[str]:
    """The pixel formats a V4L2 device lists (VIDIOC_ENUM_FMT), as "FOURCC (description)";
    [] when the device cannot be asked."""
    try:
        fd = os.open(device, os.O_RDWR | os.O_NONBLOCK)
    except OSError:
        return []
    found: list[str] = []
    try:
        for buf_type in V4L2_BUF_TYPES:
            for index in range(64):
                buf = bytearray(V4L2_FMTDESC.pack(index, buf_type, 0, b"", 0, 0))
                try:
                    ioctl(fd, VIDIOC_ENUM_FMT, buf)
                except OSError:  # EINVAL past the last one; ENOTTY: not a V4L2 device
                    break
                _, _, _, description, fourcc, _ = V4L2_FMTDESC.unpack(buf)
                name = fourcc.to_bytes(4, "little").decode("ascii", "replace").strip()
                text = description.split(b"\0", 1)[0].decode("ascii", "replace")
                entry = f"{name} ({text})" if text else name
                if entry not in found:
                    found.append(entry)
    finally:
        os.close(fd)
    return found


def refused_message(device: str, why: str, size: tuple[int, int], offered: list[str]) -> str:
    """One line: the device refused our frames; which formats it offers, and what to do."""
    offers = f"it offers {', '.join(offered)}" if offered else "it lists no formats"
    return (f"virtual camera {device} refused {size[0]}x{size[1]} frames (could not be configured: {why}); {offers}: "
            f"close the program that set the device up, pick another with --vcam-device, or run with --no-vcam")


def no_device_message(reason: str, device: str | None) -> str:
    """One line: what failed and how to create a virtual camera on this platform."""
    # pyvirtualcam says "'name' backend: <what>. Did you run …"; keep the backend and the first sentence
    parts = []
    for line in reason.splitlines():
        backend, _, what = line.partition(" backend: ")
        what = what or backend
        parts.append(f"{backend.strip(chr(39))}: {what.split('. ')[0].rstrip('.')}" if _ else what.split(". ")[0])
    reason = "; ".join(" ".join(p.split()) for p in parts if p.strip())[:200]
    what = f"virtual camera {device} cannot be used" if device else "no virtual camera device found"
    if sys.platform.startswith("linux"):
        how = (f"create one with `{MODPROBE}` (package v4l2loopback-dkms; Chrome and Meet only list it with "
               f"exclusive_caps=1) and pass --vcam-device /dev/video10, or on a PipeWire desktop use "
               f"--vcam-backend pipewire")
    else:
        how = "install OBS Studio and start its Virtual Camera once"
    return f"{what} ({reason}): {how}, or run with --no-vcam"


class VirtualCamera:
    """A pyvirtualcam camera fed with RGB frames; ``close()`` is safe twice; usable with ``with``."""

    def __init__(self, *, width: int, height: int, fps: float, device: str | None = None,
                 backend: str | None = None):
        try:
            import pyvirtualcam
        except ImportError:
            raise DeviceError("pyvirtualcam is not installed: pip install pyvirtualcam, or run with --no-vcam") from None
        if backend is not None and backend not in backend_names():
            known = ", ".join(backend_names()) or "none on this platform"
            raise DeviceError(f"unknown virtual camera backend {backend!r}: use one of {known}")
        if backend == "auto":
            backend = auto_backend(device)
        self.width, self.height, self.fps = width, height, fps
        self.size = (width + width % 2, height + height % 2)  # what the camera is opened at
        self.frames = 0
        self._camera = None
        if backend in KNOWN_NATIVE:
            self._camera = self._open(pyvirtualcam, pyvirtualcam.PixelFormat[KNOWN_NATIVE[backend]], device, backend)
        else:
            self._camera = self._open(pyvirtualcam, pyvirtualcam.PixelFormat.RGB, device, backend)
        native = self._camera.native_fmt
        self.native_format = native.name if native is not None else None
        if native is not None and native.name != "RGB" and native.name in CONVERTERS:
            self._camera.close()
            self._camera = self._open(pyvirtualcam, native, device, backend)
        self.pixel_format = self._camera.fmt.name
        self._convert = CONVERTERS[self.pixel_format]
        self.device = self._camera.device
        self.backend = self._camera.backend

    def _open(self, pyvirtualcam, fmt, device, backend):
        try:
            return pyvirtualcam.Camera(*self.size, self.fps, fmt=fmt, device=device, backend=backend)
        except RuntimeError as exc:
            if backend == "pipewire":  # its messages are already one line saying what to do
                raise DeviceError(str(exc).removeprefix("'pipewire' backend: ")) from None
            refused = REFUSED.search(str(exc))
            if refused:
                where = device or refused.group(1)
                raise DeviceError(refused_message(where, refused.group(2).strip().rstrip("."), self.size,
                                                  device_formats(where))) from None
            raise DeviceError(no_device_message(str(exc), device)) from None

    def describe(self) -> str:
        native = "" if self.native_format in (None, self.pixel_format) else f", backend converts to {self.native_format}"
        padded = f", padded from {self.width}x{self.height}" if self.size != (self.width, self.height) else ""
        return (f"virtual camera {self.device} ({self.backend}, {self.size[0]}x{self.size[1]} {self.pixel_format}"
                f"{native}{padded})")

    def send(self, rgb: np.ndarray) -> None:
        """Send one RGB uint8 frame of the camera's size."""
        if rgb.dtype != np.uint8 or rgb.shape != (self.height, self.width, 3):
            raise ValueError(f"virtual camera frame must be uint8 {(self.height, self.width, 3)}, got {rgb.dtype} {rgb.shape}")
        if self._camera is None:
            raise ValueError("virtual camera is closed")
        if self.size != (self.width, self.height):
            rgb = cv2.copyMakeBorder(rgb, 0, self.size[1] - self.height, 0, self.size[0] - self.width, cv2.BORDER_REPLICATE)
        self._camera.send(self._convert(rgb))
        self.frames += 1

    def close(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            camera.close()

    def __enter__(self) -> "VirtualCamera":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
