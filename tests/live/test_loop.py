"""The live main loop: what it does around the frames (the statistics log)."""
from __future__ import annotations

import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from livebg.frames.frame import Frame
from livebg.live.chooser import BackgroundChooser
from livebg.live.loop import LiveLoop, ViewState


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
