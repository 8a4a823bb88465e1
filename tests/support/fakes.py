"""Stand-ins and inputs to test stages on: a segmenter that needs no model, real frames of the
shared media and a synthetic scene."""
from __future__ import annotations

import time
from pathlib import Path

import av
import cv2
import numpy as np

from livebg.segment.base import Prediction, Segmenter


class ConstantSegmenter(Segmenter):
    """A segmenter with no model: every pixel gets the same probability."""

    name = "constant"
    device = "cpu"
    precision = "float32"

    def __init__(self, value: float = 0.0, batch_size: int = 1, fail_at: int | None = None):
        self.value = value
        self.batch_size = batch_size
        self.fail_at = fail_at
        self.calls = 0

    def describe(self) -> str:
        return f"constant {self.value}"

    def predict(self, frames, *, cuts=None):
        self.calls += len(frames)
        if self.fail_at is not None and self.calls > self.fail_at:
            raise RuntimeError("segmenter failed on purpose")
        return [Prediction(np.full((16, 16), self.value, np.float32)) for _ in frames]


class SlowSegmenter(Segmenter):
    """The real model, made to take ``delay`` seconds a frame (DeepLabV3 on a CPU, say)."""

    def __init__(self, inner, delay: float):
        self.inner, self.delay = inner, delay
        self.name, self.device = inner.name, inner.device

    def describe(self) -> str:
        return f"slow {self.inner.describe()}"

    def predict(self, frames, *, cuts=None):
        time.sleep(self.delay)
        return self.inner.predict(frames)


def lucia_frame(shared: Path, index: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(RGB frame, boolean person mask) of frame ``index`` of the labelled DAVIS clip lucia."""
    image = cv2.imread(str(shared / "media/labeled/davis_lucia/JPEGImages" / f"{index:05d}.jpg"))
    mask = cv2.imread(str(shared / "media/labeled/davis_lucia/Annotations" / f"{index:05d}.png"), cv2.IMREAD_GRAYSCALE)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), mask > 127


def yuv_frames(shared: Path, count: int = 3) -> list[np.ndarray]:
    """The first ``count`` frames of the doctor video as yuv420p planes (FFmpeg's packed layout)."""
    with av.open(str(shared / "media/videos/doctor_960x540.mp4")) as c:
        return [f.to_ndarray(format="yuv420p") for _, f in zip(range(count), c.decode(video=0))]


def square_scene(h: int = 180, w: int = 320) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A bright square on a dark frame, a blurry low-resolution guess at it (as a model gives),
    and the true matte: (frame, prob, truth)."""
    frame = np.full((h, w, 3), 30, np.uint8)
    frame[50:130, 100:220] = 220
    truth = np.zeros((h, w), np.float32)
    truth[50:130, 100:220] = 1
    prob = cv2.resize(cv2.GaussianBlur(truth, (0, 0), 8), (64, 64), interpolation=cv2.INTER_AREA)
    return frame, prob, truth
