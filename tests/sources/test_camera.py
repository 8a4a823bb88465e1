"""Live capture: latest-frame mailbox, replay pacing, reopening after a fault, missing devices."""
from __future__ import annotations

import time
from fractions import Fraction

import numpy as np
import pytest
from conftest import decode_index, make_index_video

from livebg.errors import DeviceError, InputError
from livebg.frames.frame import Frame
from livebg.sources.camera import (
    CapturedImage,
    CaptureFault,
    FrameMailbox,
    LiveCapture,
    open_capture_device,
)


def frame(i: int) -> Frame:
    return Frame(i, i, Fraction(i, 30), np.zeros((2, 2, 3), np.uint8), time.perf_counter())


def test_mailbox_drops_the_oldest_never_the_newest():
    box = FrameMailbox(max_pending=2)
    for i in range(5):
        box.put(frame(i))
    assert box.dropped == 3 and box.received == 5
    assert [box.get(0).index, box.get(0).index] == [3, 4]
    assert box.get(0.01) is None
    assert box.wait_newer(3, 0).index == 4 and box.wait_newer(4, 0.01) is None
    box.end()
    assert box.ended and box.get(1.0) is None  # no wait once ended
    with pytest.raises(ValueError):
        FrameMailbox(max_pending=0)


def test_a_file_is_replayed_at_its_own_rate(tmp_path):
    video = make_index_video(tmp_path / "v.mov", frames=15, rate=Fraction(30))
    with LiveCapture(lambda: open_capture_device(str(video))) as capture:
        assert (capture.width, capture.height, capture.fps) == (64, 48, 30.0)
        capture.start()
        frames = []
        while not capture.ended:
            f = capture.get(0.5)
            if f is not None:
                frames.append(f)
    assert [decode_index(f.image[0, 0]) for f in frames] == list(range(15))
    assert capture.failure is None and capture.dropped == 0
    spent = frames[-1].captured_at - frames[0].captured_at
    assert 14 / 30 * 0.9 < spent < 14 / 30 * 1.5  # paced like a camera, not decoded as fast as possible
    # --fps replays at another rate; --width/--height scale
    with LiveCapture(lambda: open_capture_device(str(video), width=32, height=24, fps=60)) as capture:
        assert (capture.width, capture.height, capture.fps) == (32, 24, 60.0)


class Scripted:
    """A device that gives ``n`` frames, then fails; opening fails once ``opens`` is used up."""

    opens = 0

    def __init__(self, n: int):
        if Scripted.opens <= 0:
            raise DeviceError("unplugged")
        Scripted.opens -= 1
        self.name, self.width, self.height, self.fps = "camera scripted", 8, 6, 100.0
        self.n, self.closed = n, False

    def read(self):
        if self.n == 0:
            raise CaptureFault("camera scripted stopped delivering frames")
        self.n -= 1
        time.sleep(0.005)
        return CapturedImage(np.zeros((6, 8, 3), np.uint8))

    def close(self):
        self.closed = True


def drain(capture: LiveCapture) -> int:
    n = 0
    while not capture.ended:
        n += capture.get(0.2) is not None
    return n


def test_a_camera_that_stops_is_reopened_a_few_times_then_given_up():
    Scripted.opens = 3
    messages = []
    with LiveCapture(lambda: Scripted(4), reopen_delay=0.01, log=messages.append) as capture:
        capture.start()
        assert drain(capture) == 12
    assert capture.reopens == 2
    assert messages[:2] == ["camera scripted stopped delivering frames; reopening (1/3)"] * 2
    assert messages[-2:] == ["camera scripted stopped delivering frames; reopening (3/3)", "reopening failed: unplugged"]
    assert capture.failure.startswith("camera scripted stopped delivering frames and could not be reopened")
    assert capture.device is None  # released


def test_close_releases_the_device_and_is_safe_twice():
    Scripted.opens = 1
    capture = LiveCapture(lambda: Scripted(10_000)).start()
    device = capture.device
    time.sleep(0.05)
    capture.close()
    capture.close()
    assert device.closed and capture.device is None and capture.frames_in > 0


def test_missing_sources_fail_with_a_clear_message(tmp_path):
    with pytest.raises(DeviceError, match=r"camera /dev/video99 does not exist: list cameras"):
        open_capture_device("/dev/video99")
    with pytest.raises(DeviceError, match=r"camera 42 \(/dev/video42\) does not exist"):
        open_capture_device("42")
    with pytest.raises(InputError, match="--source nothere.mp4 not found"):
        open_capture_device("nothere.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    with pytest.raises(InputError, match="cannot be opened as a video"):
        open_capture_device(str(tmp_path / "junk.mp4"))
