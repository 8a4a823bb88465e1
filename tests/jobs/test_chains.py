"""jobs/chains.py: the typed items between a video job's stages, and scene cuts found once in
the segment stage, with [smoothing] cut_threshold, and given to the model and the matte alike."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from livebg.config import Config
from livebg.frames.frame import ForegroundEstimate, Frame
from livebg.jobs.chains import Segmented, mattes, segment_stage
from livebg.matte.matter import Matter
from livebg.segment.base import Prediction, Predictor, Segmenter


class Recording(Predictor):
    """A stream that records the cuts it is told of and gives a foreground colour."""

    def __init__(self, told: list[bool]):
        self.told = told

    def predict(self, frames, *, cuts=None):
        self.told.extend(cuts)
        return [Prediction(np.full((9, 16), 0.5, np.float32), np.full((9, 16, 3), 0.25, np.float32)) for _ in frames]


class Model(Segmenter):
    name = "recording"

    def __init__(self, batch_size: int = 1):
        self.batch_size = batch_size
        self.told: list[bool] = []

    def describe(self) -> str:
        return "recording"

    def predict(self, frames, *, cuts=None):
        raise AssertionError("a video job runs the stream, not the model")

    def stream(self) -> Predictor:
        return Recording(self.told)


def shots(levels: list[int], *, yuv: bool) -> list[Frame]:
    """Flat frames at the given grey levels; a large change of level is a cut."""
    frames = []
    for i, level in enumerate(levels):
        rgb = np.full((36, 64, 3), level, np.uint8)
        if yuv:
            import cv2

            frames.append(Frame(i, i, Fraction(i, 30), None, yuv=cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)))
        else:
            frames.append(Frame(i, i, Fraction(i, 30), rgb))
    return frames


@pytest.mark.parametrize("yuv", [False, True], ids=["rgb", "yuv"])
@pytest.mark.parametrize("batch_size", [1, 3])
def test_the_segment_stage_finds_cuts_once_and_tells_the_model(yuv, batch_size):
    model = Model(batch_size)
    frames = shots([20, 22, 200, 201, 202, 30, 31], yuv=yuv)
    items = list(segment_stage(model, planes=False)(iter(frames)))
    expected = [False, False, True, False, False, True, False]
    assert model.told == expected  # the model was told, in frame order, batched or not
    assert [item.cut for item in items] == expected  # and the frame carries the same verdict on
    assert [item.frame for item in items] == frames
    assert all(isinstance(item, Segmented) and isinstance(item.estimate, ForegroundEstimate) for item in items)


def test_the_configured_cut_threshold_reaches_the_model():
    model = Model()
    frames = shots([20, 200, 20], yuv=False)
    list(segment_stage(model, planes=False, cut_threshold=1.0)(iter(frames)))
    assert model.told == [False, False, False]  # nothing differs by more than everything
    model = Model()
    list(segment_stage(model, planes=False, cut_threshold=0.001)(iter(shots([20, 22, 24], yuv=False))))
    assert model.told == [False, True, True]


def test_without_edge_colour_the_estimate_is_dropped():
    items = list(segment_stage(Model(), planes=False, edge_colour=False)(iter(shots([20, 21], yuv=False))))
    assert [item.estimate for item in items] == [None, None]


def test_the_matte_follows_the_cut_it_is_given():
    """The smoother resets where the segment stage found a cut, not where it would find one."""
    config = Config().override("smoothing", method="ema", strength=0.9, look_ahead=False)
    frames = shots([20] * 4, yuv=False)  # one picture: the matte would find no cut itself
    probs = [np.zeros((9, 16), np.float32)] * 2 + [np.ones((9, 16), np.float32)] * 2
    items = iter(Segmented(f, p, None, cut=i == 2) for i, (f, p) in enumerate(zip(frames, probs)))
    out = list(mattes(Matter(config), items, Frame.rgb))
    assert [m.frame.index for m in out] == [0, 1, 2, 3]
    assert out[2].matte.min() > 0.99  # the past dropped at the cut: no trail of the zeros
