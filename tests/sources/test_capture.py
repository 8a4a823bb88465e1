"""Live capture (sources/capture.py): replay pacing, reopening after a fault, closing."""
from __future__ import annotations

import time
from fractions import Fraction

import numpy as np

from livebg.errors import DeviceError
from livebg.sources.capture import LiveCapture
from livebg.sources.capture_device import CapturedImage, CaptureFault
from livebg.sources.devices import open_capture_device
from tests.support import decode_index, write_clip


def test_a_file_is_replayed_at_its_own_rate(tmp_path):
    video = write_clip(tmp_path / "v.mov", picture="index", frames=15, rate=Fraction(30), size=(64, 48))
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


def test_a_camera_that_stops_is_reopened_until_its_time_is_up():
    Scripted.opens = 3
    messages = []
    with LiveCapture(lambda: Scripted(4), reopen_delay=0.01, reopen_seconds=0.3, log=messages.append) as capture:
        capture.start()
        assert drain(capture) == 12
    assert capture.reopens == 2
    assert messages[0] == "camera scripted stopped delivering frames; reopening (trying for up to 0.3 s)"
    assert messages[1].startswith("reopened after") and "reopening failed: unplugged; trying again" in messages
    assert capture.failure.startswith("camera scripted stopped delivering frames and could not be reopened within 0.3 s")
    assert capture.device is None  # released


class Unplugged:
    """A camera that stops after 5 frames and cannot be opened for ``outage`` seconds after."""

    outage = 3.0
    back_at = 0.0
    opened = 0

    def __init__(self):
        if time.monotonic() < Unplugged.back_at:
            raise DeviceError("no such device")
        Unplugged.opened += 1
        self.name, self.width, self.height, self.fps = "camera usb", 8, 6, 30.0
        self.n = 5 if Unplugged.opened == 1 else 10_000

    def read(self):
        if self.n == 0:
            Unplugged.back_at = time.monotonic() + Unplugged.outage
            raise CaptureFault("camera usb stopped delivering frames")
        self.n -= 1
        time.sleep(0.01)
        return CapturedImage(np.zeros((6, 8, 3), np.uint8))

    def close(self):
        pass


def test_a_camera_gone_for_3_seconds_is_picked_up_again_without_a_restart():
    Unplugged.opened, Unplugged.back_at = 0, 0.0
    messages = []
    with LiveCapture(Unplugged, log=messages.append) as capture:  # the default reopen window
        capture.start()
        got = 0
        deadline = time.monotonic() + 12
        while got < 30 and time.monotonic() < deadline:
            got += capture.get(0.2) is not None
    assert got >= 30 and capture.failure is None and capture.reopens == 1, messages
    assert any(m.startswith("reopened after 3.") or m.startswith("reopened after 4.") for m in messages), messages


def test_a_replayed_file_that_fails_at_the_same_frame_again_ends_the_session(media):
    """A replayed file whose decoding fails was reopened without end: each replay delivered the
    frames before the damage, which counted as frames flowing again. Failing at the same frame
    after a reopen ends the capture with the reason; a camera keeps its reopen window."""
    messages = []
    garbled = str(media["garbled"])  # decoding fails at frame 19
    with LiveCapture(lambda: open_capture_device(garbled, fps=300), reopen_delay=0.01, log=messages.append) as capture:
        capture.start()
        deadline = time.monotonic() + 10
        while not capture.ended and time.monotonic() < deadline:
            capture.get(0.2)
        assert capture.ended, f"still reopening after 10 s ({capture.reopens} reopens)"
    assert capture.reopens == 1 and capture.frames_in == 2 * 19
    assert capture.failure.startswith(f"{garbled} failed after 19 frames (Invalid data found when processing input) "
                                      f"again after reopening: the file is damaged there")
    assert "\n" not in capture.failure and capture.device is None

def test_close_releases_the_device_and_is_safe_twice():
    Scripted.opens = 1
    capture = LiveCapture(lambda: Scripted(10_000)).start()
    device = capture.device
    time.sleep(0.05)
    capture.close()
    capture.close()
    assert device.closed and capture.device is None and capture.frames_in > 0
