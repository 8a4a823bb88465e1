"""The live mask thread: segments the newest captured frame, smooths and refines its matte.
"""
from __future__ import annotations

import collections
import os
import threading
import time
from array import array
from dataclasses import dataclass

import numpy as np

from livebg.sources.camera import LiveCapture

FIRST_MASK_TIMEOUT = 10.0  # seconds to wait for the very first mask before showing anything
WAIT_FOR_MASK_SHARE = 0.5  # wait for the current frame's mask only when the model needs at most half a frame interval
# The nice value the mask thread takes when the model needs more than WAIT_FOR_MASK_SHARE of a
# frame interval (the loop then uses the newest mask rather than wait for the frame's own): the
# compositing thread, which holds the camera's rate, wins the CPU whenever both want it (docs/speed.md)
SLOW_MODEL_NICE = 10


# -- segmentation thread -----------------------------------------------------------------------
@dataclass
class Mask:
    index: int  # the frame it was computed on
    captured_at: float
    prob: np.ndarray  # float32, inference resolution


class MaskWorker:
    """Runs the segmenter in its own thread, always on the newest captured frame.

    Keeps the last few masks; ``seconds`` is a running estimate of one prediction's time.
    ``nice``: the thread's nice value (Linux sets it per thread), raised for a model the loop does
    not wait for (SLOW_MODEL_NICE) so that it never holds the output back; 0 leaves it as it is.
    """

    def __init__(self, *, segmenter, capture: LiveCapture, keep: int = 4, seconds: float | None = None,
                 nice: int = 0):

        self.segmenter = segmenter.stream()
        self.nice = nice
        self._forget = threading.Event()
        self.capture = capture
        self.seconds = seconds
        self.masks = 0
        self.error: BaseException | None = None
        self.paused = threading.Event()
        self._keep: collections.deque[Mask] = collections.deque(maxlen=keep)
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="livebg-segment", daemon=True)
        self._predict_ms = array("f")

    def reset(self) -> None:
        """Forget state carried between frames (the followed person box) before the next one."""
        self._forget.set()

    def forget_masks(self) -> None:
        """Drop the kept masks (they are stale after a pause): the next frame waits for a new one."""
        with self._cond:
            self._keep.clear()

    def start(self) -> "MaskWorker":
        self._thread.start()
        return self

    def _run(self) -> None:
        last = -1
        if self.nice:
            lower_thread_priority(self.nice)
        try:
            while not self._stop.is_set():
                if self.paused.is_set():
                    self._stop.wait(0.02)
                    continue
                frame = self.capture.wait_newer(last, 0.1)
                if frame is None:
                    if self.capture.mailbox.finished:
                        break
                    continue
                if self._forget.is_set():
                    self._forget.clear()
                    self.segmenter.reset()
                started = time.perf_counter()
                prob = self.segmenter.predict([frame.image])[0]
                spent = time.perf_counter() - started
                self.seconds = spent if self.seconds is None else 0.8 * self.seconds + 0.2 * spent
                self._predict_ms.append(spent * 1000)
                with self._cond:
                    self._keep.append(Mask(frame.index, frame.captured_at, prob))
                    self.masks += 1
                    self._cond.notify_all()
                last = frame.index
        except BaseException as exc:  # re-raised on the main thread
            self.error = exc
        finally:
            with self._cond:
                self._stop.set()
                self._cond.notify_all()

    def pick(self, index: int) -> Mask | None:
        """The newest mask of a frame at or before ``index``; else the oldest one after it."""
        with self._cond:
            before = [m for m in self._keep if m.index <= index]
            if before:
                return before[-1]
            return self._keep[0] if self._keep else None

    def wait_for(self, index: int, timeout: float) -> Mask | None:
        """Wait up to ``timeout`` for a mask of frame ``index`` or later, then ``pick(index)``."""
        deadline = time.perf_counter() + timeout
        with self._cond:
            while not (self._keep and self._keep[-1].index >= index) and not self._stop.is_set():
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                self._cond.wait(left)
        return self.pick(index)

    def predict_ms(self) -> array:
        return self._predict_ms

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=10)


def lower_thread_priority(nice: int) -> bool:
    """Give the calling thread ``nice`` (on Linux a thread has its own nice value; elsewhere this
    would apply to the whole process, so it is left alone). False when it could not be done."""
    if not hasattr(os, "setpriority") or not os.path.isdir("/proc/self/task"):
        return False
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except OSError:
        return False
    return True
