"""The live mask thread: segments the newest captured frame, smooths and refines its matte.
"""
from __future__ import annotations

import collections
import os
import threading
import time
from array import array
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from livebg.frames.cuts import CUT_THRESHOLD, CutDetector
from livebg.frames.frame import ForegroundEstimate
from livebg.live.sizing import FALLBACK, LiveSizer, SizeChange
from livebg.segment.base import Predictor, Segmenter
from livebg.segment.rvm import RvmStream
from livebg.sources.capture import LiveCapture

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
    edge_threshold: float = 0.6  # the model's own edge (Segmenter.edge_threshold): which matte chain refines it
    grey: np.ndarray | None = None  # that frame, small and grey (CARRY_WIDTH wide): to carry the mask along the flow
    # a matting model's foreground colour and its own alpha (``prob``), at inference resolution:
    # blended at the soft edge instead of the camera's mix of person and room (RVM's ``fgr``)
    estimate: ForegroundEstimate | None = None


class MaskWorker:
    """Runs the segmenter in its own thread, always on the newest captured frame.

    Keeps the last few masks; ``seconds`` is a running estimate of one prediction's time.
    ``nice``: the thread's nice value (Linux sets it per thread), raised for a model the loop does
    not wait for (SLOW_MODEL_NICE) so that it never holds the output back; 0 leaves it as it is.
    """

    def __init__(self, *, segmenter: Segmenter, capture: LiveCapture, keep: int = 4, seconds: float | None = None,
                 nice: int = 0, sizer: LiveSizer | None = None, fallback: Segmenter | None = None,
                 keep_grey: bool = False, log: Callable[[str], None] | None = None,
                 cut_threshold: float = CUT_THRESHOLD):
        """``sizer``: changes the working size of an RVM stream as its calls' time asks
        (``live.sizing``), and ``fallback`` (a segmenter, the selfie model) takes over below the
        smallest size. ``keep_grey``: masks keep their frame's small grey picture (carrying
        them along the optical flow onto a newer frame, ``LiveLoop``). ``cut_threshold``: the
        scene cuts between the frames this thread segments (the newest ones: it skips some),
        found here once a frame and given to the model. A model's estimate of the foreground's
        colour, when it gives one, is kept with its mask (``Mask.estimate``)."""
        self.segmenter: Predictor = segmenter.stream()
        self.primary: Predictor = self.segmenter
        self.fallback = fallback.stream() if fallback is not None else None
        self.cuts = CutDetector(cut_threshold)
        self.sizer = sizer
        self.keep_grey = keep_grey
        self.log = log or (lambda message: None)
        if sizer is not None:
            self.primary_sized().set_short(sizer.short)
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
                    self.cuts.reset()
                started = time.perf_counter()
                segmenter = self.segmenter
                image = frame.image if frame.image is not None else frame.rgb()  # captured frames are RGB
                cut = self.cuts(image)
                prediction = segmenter.predict([image], cuts=[cut])[0]
                prob = prediction.alpha
                estimate = ForegroundEstimate(prediction.foreground, prob) if prediction.foreground is not None else None
                spent = time.perf_counter() - started
                self.seconds = spent if self.seconds is None else 0.8 * self.seconds + 0.2 * spent
                self._predict_ms.append(spent * 1000)
                grey = small_grey(image) if self.keep_grey else None
                with self._cond:
                    self._keep.append(Mask(frame.index, frame.captured_at, prob, segmenter.edge_threshold, grey, estimate))
                    self.masks += 1
                    self._cond.notify_all()
                last = frame.index
                if self.sizer is not None and segmenter is self.segmenter:
                    change = self.sizer.observe(spent, time.perf_counter())
                    if change is not None:
                        self._resize(change)
        except BaseException as exc:  # re-raised on the main thread
            self.error = exc
        finally:
            with self._cond:
                self._stop.set()
                self._cond.notify_all()

    def _resize(self, change: SizeChange) -> None:
        if change.short == FALLBACK:
            if self.fallback is None:
                return
            self.fallback.reset()
            self.segmenter = self.fallback
            self.log(f"cam: the bundled selfie model takes over from RVM: {change.reason}")
            return
        if self.segmenter is not self.primary:
            self.primary.reset()
            self.segmenter = self.primary
        self.primary_sized().set_short(change.short)
        self.log(f"cam: RVM now at {change.short} px: {change.reason}")

    def primary_sized(self) -> RvmStream:
        """The primary stream, which a ``sizer`` resizes: RVM's."""
        if not isinstance(self.primary, RvmStream):
            raise TypeError(f"live sizing is for RVM's stream, not {type(self.primary).__name__}")
        return self.primary

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


CARRY_WIDTH = 320  # px: the grey picture the live loop measures the motion since a mask's frame on


def small_grey(image: np.ndarray) -> np.ndarray:
    """An RGB frame as a CARRY_WIDTH-wide grey picture (the optical flow's input)."""
    h, w = image.shape[:2]
    size = (CARRY_WIDTH, max(8, round(h * CARRY_WIDTH / w)))
    return cv2.cvtColor(cv2.resize(image, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)


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
