"""The per-frame matte after segmentation: smoothing -> refinement, and the look-ahead of
file jobs. Shared by file jobs, the live path and the Python API, so every mode gives the
same matte for the same settings.
"""
from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import cv2
import numpy as np

from livebg.config import Config
from livebg.frames.cuts import CutDetector, thumbnail
from livebg.frames.frame import LumaCoefficients
from livebg.matte.refine import SEGMENTATION_EDGE, Refiner, guide_small, luma_and_guide
from livebg.matte.smoothing import (
    BACKWARD_FRAMES,
    TemporalSmoother,
    neighbour_average,
)


@dataclass
class _Step:
    """One frame between the model and refinement: its map at the working size and its guide."""
    tag: Any
    prob: np.ndarray  # at Refiner.working_map's size
    guide: np.ndarray  # the small luma refinement is guided by
    scale: float  # guide pixels per frame pixel
    gray: np.ndarray | None  # the RGB frame's full-size luma; None when the frame came as its Y plane
    gate: np.ndarray | None  # the guide at the map's size, for the look-ahead's picture comparison
    cut: bool  # a new shot starts at this frame: the smoother and the look-ahead do not reach across


Tag = TypeVar("Tag")


class Matter:
    """Probability map (inference size) + frame -> full-resolution float32 alpha, or the
    low-resolution coefficients of it for a frame that is YUV (``luma_coefficients``).

    Calls on single frames are causal (the live camera, the API). ``stream`` is the file jobs'
    form: with ``[smoothing] look_ahead`` it holds frames back, so that each map can be
    averaged with the next frame's as well as the previous one's (``neighbour_average``) and
    the smoother can run back from BACKWARD_FRAMES frames ahead (``TemporalSmoother.backward``):
    1 + BACKWARD_FRAMES frames of delay.

    Scene cuts: each call takes ``cut``, whether a new shot starts at that frame, detected once
    upstream (``frames.cuts``) and given to the model too; None (a caller that has not detected
    them) makes the matte find them itself, on its small guide, with ``[smoothing] cut_threshold``."""

    def __init__(self, config: Config, *, edge_threshold: float = SEGMENTATION_EDGE):
        """``edge_threshold``: the model's own edge (``Segmenter.edge_threshold``), used when
        ``[refine] threshold`` is 0."""
        self.config = config
        self.edge_threshold = edge_threshold
        self.smoother = TemporalSmoother(config.smoothing)
        self.cuts = CutDetector(config.smoothing.cut_threshold)  # for calls given no cut
        self.refiner = Refiner(config.refine, edge_threshold=edge_threshold)
        self.look_ahead = config.smoothing.look_ahead and config.smoothing.method != "none"
        if self.look_ahead:  # load its compiled kernel now, at startup, not inside the first frame
            tiny = np.zeros((1, 1), np.float32)
            neighbour_average(tiny, tiny, [(tiny, tiny)])

    @property
    def frames_held(self) -> int:
        """Frames ``stream`` reads past a frame before giving it out (the look-ahead's window)."""
        return 1 + BACKWARD_FRAMES if self.look_ahead else 0

    def reset(self) -> None:
        self.smoother.reset()
        self.cuts.reset()

    def warm_up(self, frame: np.ndarray, prob: np.ndarray) -> None:
        """Run the chain twice on a throwaway frame (loading compiled kernels, allocating), then
        forget it: the first real frames then take their usual time."""
        for _ in range(2):
            self(prob, frame)
        self.reset()

    def __call__(self, prob: np.ndarray, frame: np.ndarray, *, cut: bool | None = None) -> np.ndarray:
        """The alpha of an RGB frame, at its full size; ``cut``: see the class."""
        step = self._prepare(None, prob, frame, cut, luma=False)
        return self._finish(step, step.prob)

    def luma_coefficients(self, prob: np.ndarray, luma: np.ndarray, *, cut: bool | None = None) -> LumaCoefficients:
        """The same matte as ``__call__`` left at low resolution, for frames that are YUV:
        maps (A, B) with alpha = clip(A * Y + B, 0, 1), Y the limited-range (16..235) luma
        plane and (A, B) upsampled bilinearly (``I420Compositor`` does that per pixel).

        The guided filter fits its model on full-range grey, (Y - 16) * 255 / 219, so the
        coefficients are those of the RGB path, rewritten for Y.
        """
        step = self._prepare(None, prob, luma, cut, luma=True)
        return self._finish(step, step.prob)

    def stream(self, items: Iterable[tuple[Tag, np.ndarray, np.ndarray, bool | None]], *,
               luma: bool = False) -> Iterator[tuple[Tag, Any]]:
        """``(tag, prob, image, cut)`` of consecutive frames -> ``(tag, matte)`` in the same order.
        ``image`` is the RGB frame (the matte: an alpha, as ``__call__``) or, with ``luma``,
        its limited-range Y plane (LumaCoefficients, as ``luma_coefficients``). With look-ahead each frame comes out
        when 1 + BACKWARD_FRAMES more have gone in (the last ones when the input ends)."""
        if not self.look_ahead:
            for tag, prob, image, cut in items:
                step = self._prepare(tag, prob, image, cut, luma=luma)
                yield tag, self._finish(step, step.prob)
            return
        before = current = None
        ahead: deque[tuple[_Step, np.ndarray, bool]] = deque()  # smoothed forward, awaiting the pass back
        for tag, prob, image, cut in items:
            step = self._prepare(tag, prob, image, cut, luma=luma, ahead=True)
            if current is not None:
                ahead.append(self._forward(current, self._averaged(current, before, step)))
                yield from self._backward(ahead, BACKWARD_FRAMES)
            before, current = current, step
        if current is not None:
            ahead.append(self._forward(current, self._averaged(current, before, None)))
        yield from self._backward(ahead, 0)

    def _forward(self, step: _Step, prob: np.ndarray) -> tuple[_Step, np.ndarray, bool]:
        """The causal smoother's output for the step, and whether a shot starts there."""
        return step, self.smoother(prob, cut=step.cut), step.cut

    def _backward(self, ahead: deque, keep: int) -> Iterator[tuple[Any, Any]]:
        """Finish the oldest steps while more than ``keep`` wait: each with the smoother's pass
        back from up to BACKWARD_FRAMES frames ahead of it, never from beyond a scene cut."""
        while len(ahead) > keep:
            window = [ahead[0][1]]
            for _, smoothed, starts_shot in itertools.islice(ahead, 1, BACKWARD_FRAMES + 1):
                if starts_shot:
                    break
                window.append(smoothed)
            step = ahead.popleft()[0]
            yield step.tag, self._refine(step, self.smoother.backward(window))

    def _averaged(self, step: _Step, before: _Step | None, after: _Step | None) -> np.ndarray:
        """The step's map averaged with those of its neighbours in the same shot (a cut at the
        step parts it from the one before, a cut at the next frame from the one after)."""
        if step.gate is None:  # made without the look-ahead's picture comparison
            return step.prob
        same_shot = [n for n, parted in ((before, step.cut), (after, after is not None and after.cut)) if not parted]
        usable = [(n.prob, n.gate) for n in same_shot
                  if n is not None and n.gate is not None and n.prob.shape == step.prob.shape]
        return neighbour_average(step.prob, step.gate, usable) if usable else step.prob

    def _prepare(self, tag: Any, prob: np.ndarray, image: np.ndarray, cut: bool | None, *, luma: bool,
                 ahead: bool = False) -> _Step:
        """``image`` is an RGB frame (``luma`` False) or its limited-range Y plane; ``cut`` None:
        found here; ``ahead``: also what the look-ahead compares (the guide at the map's size)."""
        if not luma:
            gray, guide, scale = luma_and_guide(image, self.refiner.config.guide_size)  # checks uint8 HxWx3
        else:  # the Y plane: the guide in full-range grey, as the RGB path's
            if image.dtype != np.uint8 or image.ndim != 2:
                raise ValueError(f"luma must be a uint8 HxW plane, got {image.dtype} {image.shape}")
            gray = None
            guide, scale = guide_small(image, self.refiner.config.guide_size)
            guide -= 16 / 255
            guide *= 255 / 219
        prob = self.refiner.working_map(prob, guide)
        gate = None
        if ahead:
            gate = guide if prob.shape == guide.shape else cv2.resize(guide, prob.shape[::-1], interpolation=cv2.INTER_LINEAR)
        if cut is None:  # the small guide's thumbnail: much cheaper than the frame's
            cut = self.cuts(thumb=thumbnail(guide))
        return _Step(tag, prob, guide, scale, gray, gate, cut)

    def _finish(self, step: _Step, prob: np.ndarray):
        return self._refine(step, self.smoother(prob, cut=step.cut))

    def _refine(self, step: _Step, prob: np.ndarray):
        if step.gray is not None:
            return self.refiner.apply(prob, step.gray, step.guide, step.scale)
        a, b = self.refiner.coefficients(prob, step.guide, step.scale)
        a *= 255 / 219
        b -= 16 * a
        return LumaCoefficients(a, b)
