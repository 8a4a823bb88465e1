"""Virtual camera sink: pixel format chosen from the backend's native one, frame checks, close."""
from __future__ import annotations

import errno
import struct

import numpy as np
import pytest
import pyvirtualcam.camera

from livebg.errors import DeviceError
from livebg.sinks import vcam
from livebg.sinks.vcam import VirtualCamera, device_formats, no_device_message
from tests.support import live_fakes


@pytest.mark.parametrize("native, sent", [("I420", "I420"), ("NV12", "NV12"), ("YUYV", "YUYV"), ("UYVY", "UYVY"),
                                          ("BGR", "BGR"), ("RGBA", "RGBA"), ("RGB", "RGB"), ("GRAY", "RGB")])
def test_frames_go_out_in_the_backends_native_format(native, sent):
    name = f"livebg-test-native-{native}"
    record = live_fakes.recording_backend(name, native=native)
    try:
        rng = np.random.default_rng(0)
        small = rng.integers(0, 256, (9, 16, 3), dtype=np.uint8)
        rgb = np.ascontiguousarray(np.repeat(np.repeat(small, 8, axis=0), 8, axis=1))  # 72x128, smooth for 4:2:0
        with VirtualCamera(width=128, height=72, fps=30, backend=name) as cam:
            assert cam.pixel_format == sent and cam.device == f"/dev/{name}"
            cam.send(rgb)
            with pytest.raises(ValueError, match=r"must be uint8 \(72, 128, 3\)"):
                cam.send(rgb[:10])
        cam.close()  # twice is fine
        assert record.closed == len(record.opened)
        assert record.opened[-1]["fmt"] == sent
        back = record.rgb(0)
        error = np.abs(back.astype(int) - rgb)
        if sent in ("RGB", "BGR", "RGBA"):
            assert error.max() == 0
        else:  # YUV: rounding, limited range and 2x2 (I420/NV12) or 2x1 chroma; the colours come back
            assert error.mean() < 3 and error.max() < 40
    finally:
        pyvirtualcam.camera.BACKENDS.pop(name, None)


def test_no_device_message_says_how_to_create_one():
    message = no_device_message("'v4l2loopback' backend: No v4l2 loopback device found at /dev/video[0-99]. "
                                "Did you run 'modprobe v4l2loopback'? See also pyvirtualcam's documentation.", None)
    assert message.startswith("no virtual camera device found (v4l2loopback: No v4l2 loopback device found at /dev/video[0-99])")
    assert "modprobe v4l2loopback devices=1 video_nr=10 card_label=livebg exclusive_caps=1" in message
    assert "exclusive_caps=1" in message and "--no-vcam" in message and "\n" not in message
    with pytest.raises(DeviceError, match="unknown virtual camera backend 'nope'"):
        VirtualCamera(width=64, height=48, fps=30, backend="nope")


def test_an_odd_size_is_padded_before_the_first_frame():
    """A camera or replayed file of odd size went to the virtual camera as odd I420, which
    v4l2loopback refuses (and OpenCV's I420 conversion fails on): the frames are padded by one
    pixel, the edge repeated, and the startup line says so."""
    name = "livebg-test-odd"
    record = live_fakes.recording_backend(name, native="I420", refuse="odd")
    try:
        rng = np.random.default_rng(1)
        rgb = np.ascontiguousarray(np.repeat(np.repeat(rng.integers(0, 256, (9, 16, 3), dtype=np.uint8), 8, 0), 8, 1)[:71, :127])
        with VirtualCamera(width=127, height=71, fps=30, backend=name) as cam:
            assert cam.pixel_format == "I420" and "128x72 I420, padded from 127x71" in cam.describe()
            cam.send(rgb)
        assert [(o["width"], o["height"]) for o in record.opened] == [(128, 72), (128, 72)]
        back = record.rgb(0).astype(int)
        assert np.abs(back[:71, :127] - rgb).mean() < 3
        assert np.abs(back[:71, 127] - rgb[:, 126]).mean() < 6 and np.abs(back[71, :127] - rgb[70]).mean() < 6
    finally:
        pyvirtualcam.camera.BACKENDS.pop(name, None)


def test_a_refused_format_names_the_formats_the_device_offers(monkeypatch):
    """v4l2loopback refusing our format (a device another program set up) said only "could not be
    configured: Invalid argument": the message lists what the device offers, in one line."""
    name = "livebg-test-refuses"
    live_fakes.recording_backend(name, refuse="all")
    asked = []
    monkeypatch.setattr(vcam, "device_formats", lambda device: asked.append(device) or ["YUYV (YUYV 4:2:2)", "MJPG (Motion-JPEG)"])
    try:
        with pytest.raises(DeviceError) as refused:
            VirtualCamera(width=128, height=72, fps=30, device="/dev/video7", backend=name)
    finally:
        pyvirtualcam.camera.BACKENDS.pop(name, None)
    message = str(refused.value)
    assert asked == ["/dev/video7"] and "\n" not in message
    assert message.startswith("virtual camera /dev/video7 refused 128x72 frames (could not be configured: Invalid argument)")
    assert "it offers YUYV (YUYV 4:2:2), MJPG (Motion-JPEG)" in message
    assert "--vcam-device" in message and "--no-vcam" in message
    monkeypatch.setattr(vcam, "device_formats", lambda device: [])
    live_fakes.recording_backend(name, refuse="all")
    try:
        with pytest.raises(DeviceError, match="refused 128x72 frames .*; it lists no formats"):
            VirtualCamera(width=128, height=72, fps=30, backend=name)
    finally:
        pyvirtualcam.camera.BACKENDS.pop(name, None)


def test_device_formats_come_from_vidioc_enum_fmt(tmp_path):
    """VIDIOC_ENUM_FMT is asked for the output formats (what a loopback device takes), then the
    capture ones, index by index until EINVAL; a path that is not a V4L2 device gives none."""
    fmtdesc = struct.Struct("=III32sII12x")
    assert fmtdesc.size == 64  # struct v4l2_fmtdesc
    listed = {2: [(b"YU12", b"Planar YUV 4:2:0"), (b"YUYV", b"YUYV 4:2:2")], 1: [(b"YU12", b"Planar YUV 4:2:0")]}
    calls = []

    def ioctl(fd, request, buf):
        assert request == 0xC0405602  # _IOWR('V', 2, struct v4l2_fmtdesc)
        index, buf_type, *_ = fmtdesc.unpack(buf)
        calls.append((buf_type, index))
        if index >= len(listed.get(buf_type, [])):
            raise OSError(errno.EINVAL, "Invalid argument")
        fourcc, description = listed[buf_type][index]
        buf[:] = fmtdesc.pack(index, buf_type, 0, description, int.from_bytes(fourcc, "little"), 0)
        return 0

    device = tmp_path / "video10"
    device.write_bytes(b"")
    assert device_formats(str(device), ioctl=ioctl) == ["YU12 (Planar YUV 4:2:0)", "YUYV (YUYV 4:2:2)"]
    assert calls == [(2, 0), (2, 1), (2, 2), (1, 0), (1, 1)]
    assert device_formats("/dev/null") == [] and device_formats(str(tmp_path / "missing")) == []
