"""Fakes for the live path: a recording pyvirtualcam backend, a camera that fails on purpose,
and an Xvfb display. Also a script: ``python tests/support/live_fakes.py RECORD.json -- <livebg cam args>``
runs the CLI in a child process with a recording backend named ``recorder`` that writes what it
received to RECORD.json when it is closed (the signal tests use it).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pyvirtualcam
from pyvirtualcam.util import decode_fourcc, encode_fourcc

from livebg.sources.capture_device import CapturedImage, CaptureFault
from livebg.sources.devices import register_capture

REPO = Path(__file__).resolve().parents[2]  # not tests.support.paths: this file also runs as a script
DOCTOR = REPO.parent / "shared" / "media" / "videos" / "doctor_960x540.mp4"


# -- virtual camera ---------------------------------------------------------------------------
@dataclass
class Recording:
    opened: list[dict] = field(default_factory=list)
    frames: list[tuple[float, str, np.ndarray]] = field(default_factory=list)  # (time sent, format, data)
    closed: int = 0

    def rgb(self, i: int) -> np.ndarray:
        """Frame ``i`` converted back to RGB from the format it was sent in."""
        _, fmt, data = self.frames[i]
        w, h = self.opened[-1]["width"], self.opened[-1]["height"]
        if fmt == "I420":
            return cv2.cvtColor(data.reshape(h * 3 // 2, w), cv2.COLOR_YUV2RGB_I420)
        if fmt == "NV12":
            return cv2.cvtColor(data.reshape(h * 3 // 2, w), cv2.COLOR_YUV2RGB_NV12)
        if fmt == "YUYV":
            return cv2.cvtColor(data.reshape(h, w, 2), cv2.COLOR_YUV2RGB_YUY2)
        if fmt == "UYVY":
            return cv2.cvtColor(data.reshape(h, w, 2), cv2.COLOR_YUV2RGB_UYVY)
        if fmt == "BGR":
            return cv2.cvtColor(data.reshape(h, w, 3), cv2.COLOR_BGR2RGB)
        if fmt == "RGBA":
            return data.reshape(h, w, 4)[..., :3]
        return data.reshape(h, w, 3)


def recording_backend(name: str, *, native: str = "I420", send_delay: float = 0.0, keep_frames: bool = True,
                      refuse: str = "") -> Recording:
    """Register a pyvirtualcam backend ``name`` whose native format is ``native``; returns what it records.

    ``refuse``: "odd" refuses odd sizes (as v4l2loopback does in its YUV formats), "all" every
    format; both with the error pyvirtualcam's v4l2loopback backend gives."""
    record = Recording()

    class RecordingBackend:
        def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw):
            self.fmt = pyvirtualcam.PixelFormat(decode_fourcc(fourcc)).name
            if refuse == "all" or (refuse == "odd" and (width % 2 or height % 2)):
                raise RuntimeError(f"Virtual camera device {device or '/dev/video10'} could not be configured: "
                                   f"Invalid argument")
            self._device = device or f"/dev/{name}"
            record.opened.append({"width": width, "height": height, "fps": fps, "fmt": self.fmt, "device": device})

        def send(self, frame: np.ndarray) -> None:
            record.frames.append((time.perf_counter(), self.fmt, frame.copy() if keep_frames else frame[:16].copy()))
            if send_delay:
                time.sleep(send_delay)

        def close(self) -> None:
            record.closed += 1

        def device(self) -> str:
            return self._device

        def native_fourcc(self) -> int | None:
            return encode_fourcc(pyvirtualcam.PixelFormat[native].value)

    pyvirtualcam.register_backend(name, RecordingBackend)
    return record


# -- a camera that stops delivering frames ------------------------------------------------------
class FlakyCamera:
    """``flaky://N``: a camera giving N frames (30 fps, 320x180) per open, then failing as if unplugged.

    ``FlakyCamera.opens_left`` limits how many times it can be opened; after that opening fails.
    """

    opens_left = 2
    opened = 0
    closed = 0

    def __init__(self, spec: str, *, width: int = 0, height: int = 0, fps: float = 0.0):
        from livebg.errors import DeviceError

        if FlakyCamera.opens_left <= 0:
            raise DeviceError("flaky camera is unplugged")
        FlakyCamera.opens_left -= 1
        FlakyCamera.opened += 1
        self.name = f"camera {spec}"
        self.width, self.height, self.fps = 320, 180, 30.0
        self.frames_per_open = int(spec.split("://", 1)[1])
        self._count = 0
        self._image = cv2.resize(first_frame(), (320, 180), interpolation=cv2.INTER_AREA)
        self._next = time.perf_counter()

    def read(self) -> CapturedImage:
        if self._count >= self.frames_per_open:
            raise CaptureFault(f"{self.name} stopped delivering frames")
        self._next += 1 / self.fps
        time.sleep(max(0.0, self._next - time.perf_counter()))  # a camera delivers at its own pace
        self._count += 1
        return CapturedImage(self._image.copy())

    def close(self) -> None:
        FlakyCamera.closed += 1


def register_flaky_camera(opens: int) -> type[FlakyCamera]:
    FlakyCamera.opens_left, FlakyCamera.opened, FlakyCamera.closed = opens, 0, 0
    register_capture("flaky", FlakyCamera)
    return FlakyCamera


_FIRST: list[np.ndarray] = []


def first_frame() -> np.ndarray:
    if not _FIRST:
        import av

        with av.open(str(DOCTOR)) as container:
            _FIRST.append(next(container.decode(video=0)).to_ndarray(format="rgb24"))
    return _FIRST[0]


# -- an X display for the preview window ---------------------------------------------------------
APT_HINT = "install them with: sudo apt-get install -y xvfb xdotool imagemagick (or run bash scripts/setup.sh as root)"


class XvfbDisplay:
    """A private Xvfb server; ``env`` has DISPLAY set for child processes."""

    def __init__(self, size: tuple[int, int] = (1600, 1000)):
        missing = [tool for tool in ("Xvfb", "xdotool", "import") if shutil.which(tool) is None]
        if missing:
            raise RuntimeError(f"the preview tests need {', '.join(missing)}: {APT_HINT}")
        read_fd, write_fd = os.pipe()
        self.process = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{size[0]}x{size[1]}x24", "-nolisten", "tcp"],
            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number:
            self.process.kill()
            raise RuntimeError("Xvfb did not start")
        self.display = f":{number}"
        self.env = {**os.environ, "DISPLAY": self.display}

    def xdotool(self, *args: str) -> str:
        return subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True, timeout=10).stdout

    def find_window(self, name: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ids = self.xdotool("search", "--onlyvisible", "--name", f"^{name}$").split()
            if ids:
                return ids[-1]
            time.sleep(0.2)
        raise TimeoutError(f"no window named {name!r} appeared within {timeout} s")

    def screenshot(self) -> np.ndarray:
        """The whole screen as RGB."""
        png = subprocess.run(["import", "-display", self.display, "-window", "root", "png:-"],
                             capture_output=True, timeout=20, check=True).stdout
        return cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "XvfbDisplay":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -- child-process entry point --------------------------------------------------------------------
def _child(record_path: str, argv: list[str]) -> int:
    from livebg.cli import main

    record = recording_backend("recorder", native="I420", keep_frames=False)
    marker = Path(record_path + ".started")

    original_send = pyvirtualcam.camera.BACKENDS["recorder"].send

    def send(self, frame):
        original_send(self, frame)
        if len(record.frames) == 5:
            marker.touch()

    pyvirtualcam.camera.BACKENDS["recorder"].send = send
    try:
        return main(argv)
    finally:
        Path(record_path).write_text(json.dumps({"opened": record.opened, "frames": len(record.frames),
                                                 "closed": record.closed}))


if __name__ == "__main__":
    split = sys.argv.index("--")
    sys.exit(_child(sys.argv[1], sys.argv[split + 1:]))


def close_window(display: str, window: str) -> None:
    """Ask a window to close as a window manager's close button does (a WM_DELETE_WINDOW message)."""
    import ctypes
    import ctypes.util

    x11 = ctypes.cdll.LoadLibrary(ctypes.util.find_library("X11") or "libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
    x11.XFlush.argtypes = [ctypes.c_void_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]

    class ClientMessage(ctypes.Structure):
        _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                    ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                    ("format", ctypes.c_int), ("data", ctypes.c_long * 5), ("pad", ctypes.c_long * 12)]

    handle = x11.XOpenDisplay(display.encode())
    if not handle:
        raise RuntimeError(f"cannot open X display {display}")
    try:
        event = ClientMessage(type=33, send_event=1, display=handle, window=int(window), format=32,
                              message_type=x11.XInternAtom(handle, b"WM_PROTOCOLS", 0))
        event.data[0] = x11.XInternAtom(handle, b"WM_DELETE_WINDOW", 0)
        x11.XSendEvent(handle, int(window), 0, 0, ctypes.byref(event))
        x11.XFlush(handle)
    finally:
        x11.XCloseDisplay(handle)
