"""The live main loop: what it does around the frames (the statistics log, masks after a pause)."""
from __future__ import annotations

import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from livebg.frames.frame import Frame
from livebg.live.chooser import BackgroundChooser
from livebg.live.loop import LiveLoop, ViewState
from livebg.live.mask import MaskWorker
from livebg.segment.base import Prediction, Segmenter


class ReplayedFrames:
    """A capture that hands out ``n`` small frames, then ends."""

    def __init__(self, n: int):
        self.fps, self.n, self.frames_in, self.dropped = 30.0, n, 0, 0

    def get(self, timeout: float) -> Frame | None:
        if self.frames_in == self.n:
            return None
        i = self.frames_in
        self.frames_in += 1
        return Frame(i, i, Fraction(i, 30), np.zeros((18, 32, 3), np.uint8), time.perf_counter())

    @property
    def ended(self) -> bool:
        return self.frames_in == self.n


class NoWorker:
    error = None

    def __init__(self):
        self.paused = threading.Event()


def test_a_stats_log_that_cannot_be_written_warns_once_and_the_session_goes_on():
    """A full disk (/dev/full) or a removed directory under --stats-log ended the live session
    with a traceback: logging stops, with one line, and the frames keep flowing."""
    for path in ("/dev/full", "/nonexistent-livebg-dir/stats.jsonl"):
        logged: list[str] = []
        capture = ReplayedFrames(6)
        loop = LiveLoop(capture=capture, worker=NoWorker(), matter=None, chooser=BackgroundChooser("white", (32, 18)),
                        light_wrap=0.0, state=ViewState(passthrough=True), stop=threading.Event(), log=logged.append)
        loop.stats_log = (Path(path), 0.0)  # a line after every frame
        loop.run()
        assert loop.stop_reason == "source ended" and loop.stats.frames_out == 6
        assert len(logged) == 1 and logged[0].startswith(f"--stats-log {path}: cannot write"), logged
        assert "\n" not in logged[0] and "statistics are no longer logged" in logged[0]
        assert loop.stats_log is None


class NewestCamera:
    """A 30 fps camera as the mask thread sees it: the newest frame, as time goes on."""

    fps = 30.0

    def __init__(self):
        self.started = time.perf_counter()
        self.mailbox = self
        self.finished = False

    def frame_now(self) -> Frame:
        i = int((time.perf_counter() - self.started) * self.fps)
        return Frame(i, i, Fraction(i, 30), np.zeros((18, 32, 3), np.uint8), self.started + i / self.fps)

    def wait_newer(self, last: int, timeout: float) -> Frame | None:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            frame = self.frame_now()
            if frame.index > last:
                return frame
            time.sleep(0.002)
        return None


class SlowModel(Segmenter):
    """Slower than the camera (RVM or DeepLabV3 on a CPU)."""

    name = "slow"

    def describe(self) -> str:
        return "slow"

    def predict(self, frames, *, cuts=None):
        time.sleep(0.1)
        return [Prediction(np.full(f.shape[:2], 0.9, np.float32)) for f in frames]


class Passing:
    def reset(self) -> None:
        pass

    def __call__(self, prob, image):
        return prob


def test_after_pass_through_the_first_frame_waits_for_a_new_mask():
    """A model slower than the camera: the newest mask is used without waiting. After the
    replacement was off for a while, the kept masks show where the person was before; they were
    used at once (mask age: the whole pause) until the model's next one came."""
    camera = NewestCamera()
    worker = MaskWorker(segmenter=SlowModel(), capture=camera, seconds=0.1).start()
    chooser = BackgroundChooser("white", (32, 18))
    loop = LiveLoop(capture=camera, worker=worker, matter=Passing(), chooser=chooser, light_wrap=0.0,
                    state=ViewState(), stop=threading.Event(), log=lambda _: None)
    try:
        for _ in range(10):
            _, _, age = loop.process(camera.frame_now())
            time.sleep(1 / 30)
        assert age is not None and age < 0.4  # the newest mask, about two model calls old at most
        loop.handle_key(ord(" "))  # replacement off for a second
        time.sleep(1.0)
        loop.handle_key(ord(" "))
        _, _, age = loop.process(camera.frame_now())
        assert age is not None and age < 0.4, f"mask age {age:.2f} s after the pause"
    finally:
        worker.close()
        chooser.close()
