"""Virtual camera sink: pixel format chosen from the backend's native one, frame checks, close."""
from __future__ import annotations

import live_fakes
import numpy as np
import pytest
import pyvirtualcam.camera

from livebg.errors import DeviceError
from livebg.sinks.vcam import VirtualCamera, no_device_message


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
