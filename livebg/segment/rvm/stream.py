"""RVM on consecutive frames of one stream: the recurrent state carried between calls, the
portrait size chosen per shot, the box around the people, still frames reusing a call.
"""
from __future__ import annotations

from typing import Any, Sequence

import cv2
import numpy as np

from livebg.frames.yuv import downscale
from livebg.segment.base import Prediction, Predictor
from livebg.segment.region import (
    MARGIN,
    MAX_GROWS,
    Box,
    PeopleRegion,
    carry_state,
    paste,
    whole,
)
from livebg.segment.reuse import FlowReuse
from livebg.segment.rvm.colour import colour_around
from livebg.segment.rvm.zoom import ZOOM_MARGIN, rescale_state, zoom_size
from livebg.segment.rvm.session import RvmSegmenter
from livebg.segment.rvm.sizes import (
    PORTRAIT_KEEP_SHARE,
    PORTRAIT_SHARE,
    SIZE_HOLD,
    SWITCH_SETTLE_RUNS,
    RvmPlan,
    is_portrait,
)


class RvmStream(Predictor):
    """RVM on consecutive frames of one stream, carrying the recurrent state between them; the
    state is dropped where ``predict`` is told a shot starts (``cuts``, detected once upstream by
    ``frames.cuts.CutDetector``), on a new frame size or plan, and on ``reset()``."""

    def __init__(self, model: RvmSegmenter):
        self.model = model
        self.name = model.name
        self.device = model.device
        self.precision = model.precision
        self.reads_planes = True
        self.edge_threshold = model.edge_threshold
        self.resets = 0  # times the state was dropped (cuts, size changes, reset())
        # model calls (a frame where the size changes has more than one), frames that reused a call
        self.calls = self.reused = 0
        self.still = FlowReuse(model.still_reuse, model.still_threshold) if model.still_reuse else None
        # zoomed (live on a CPU, zoom.py): the box is cut from the frame at the model's detail and
        # given to the model at the working size's pixels; else the frame is at the working size
        self.zoom = model.zoom and model.uses_region
        self.region = (PeopleRegion(model.full_every, margin=ZOOM_MARGIN if self.zoom else MARGIN)
                       if model.uses_region else None)
        # people reaching beyond an inner side of the box: the same frame runs again on a wider
        # one, except zoomed (live): the re-run doubles that frame's call, its mask comes after
        # the loop stopped waiting, and a frame shown with the mask before it (fast motion, where
        # this happens) lost more than the cut-off limb costs; the next box reaches beyond that
        # side. The people mostly gone from the box (``lost``) still re-run on the whole frame.
        self.regrow = not self.zoom
        self.uncovered = 0  # zoomed calls whose people reached beyond the box, not re-run
        self._budget = 0.0  # zoomed: the pixels a call may have (the whole frame's at the working size)
        self._state_box: Box | None = None  # the box the state was made on
        self._state_size: tuple[int, int] | None = None  # ... and the (w, h) the model saw it at
        self._state: list[Any] | None = None  # OrtValues (on the model's device), or arrays moved by carry_state
        self._key: tuple | None = None  # (frame size, plan) the state was made for
        self.short = model.model_short  # the working size now (model.portrait_short for a portrait)
        self.portrait_shots = 0  # times a shot took the portrait size (at its start or later)
        self._against = 0  # frames in a row whose people want the other size (a reused frame: as its call)
        self._sized = False  # the size was set from outside (set_short): kept for new frame sizes too

    @property
    def infer_size(self) -> int:  # type: ignore[override]
        return self.short

    def reset(self) -> None:
        self._drop_state()

    def set_short(self, short: int) -> None:
        """Run the next calls at working size ``short`` (live: the size that holds the camera's
        rate, ``live.sizing``); the state, made at the old size, starts again on the next frame
        (zoomed: it is resampled onto the new size).
        Only for a model without a portrait size (that policy sets the size itself)."""
        if self.model.portrait_short:
            raise ValueError("set_short() is for a model without a portrait size")
        if short != self.short:
            self.short = short
            self._sized = True
            if not self.zoom:  # zoomed, the next call resamples the state onto its new size (rescale_state)
                self._drop_state(reset=False)

    def _drop_state(self, reset: bool = True) -> None:
        """Forget the recurrent state, the people's box and the key frame a still frame would
        reuse; ``reset`` False: the same shot goes on at another size, not a reset of the stream."""
        if self._state is not None and reset:
            self.resets += 1
        self._state = None
        self._state_box = None
        self._state_size = None
        if self.still is not None:
            self.still.reset()
        if self.region is not None:
            self.region.reset()

    def predict(self, frames: Sequence[Any], *, cuts: Sequence[bool] | None = None) -> list[Prediction]:
        out = []
        for i, frame in enumerate(frames):
            height, width = frame.shape[:2]
            if (self._key is None or (height, width) != self._key[0]) and not self._sized:
                self.short = self.model.model_short  # a new size of frame: sized again from its first call
            plan = self.model.plan(height, width, self.short)
            if self.zoom:  # the frame at the model's detail; the call gets the working size's pixels of it
                self._budget = float(plan.src_size[0] * plan.src_size[1])
                plan = self.model.plan(height, width)
            small = downscale(frame, plan.src_size)
            key = (frame.shape[:2], plan)
            if key != self._key or (cuts is not None and cuts[i]):
                self._drop_state()
                self._key = key
            first = self._state is None  # a shot's first call: its size is chosen at once
            grey = self._grey(small)
            reused = self.still.reuse(grey) if self.still is not None and grey is not None else None
            foreground: np.ndarray | None
            if reused is not None:
                alpha, foreground = reused
                self.reused += 1
                if self._against:
                    self._against += 1
                if self.region is not None:
                    self.region.skipped()
            else:
                alpha, foreground = self._call(small, plan.ratio, grey)
                self.calls += 1
                short = self._wanted_size(alpha, first) if self.model.portrait_short else self.short
                if short == self.model.portrait_short and (first or short != self.short):
                    self.portrait_shots += 1
                if short != self.short:
                    small, plan = self._resize(frame, short, 1 if first else SWITCH_SETTLE_RUNS)
                    grey = self._grey(small)
                    alpha, foreground = self._call(small, plan.ratio, grey)
                    self.calls += 1
                if self.still is not None and grey is not None:
                    self.still.remember(grey, alpha, foreground)
            out.append(Prediction(np.clip(alpha, 0, 1), foreground))
        return out

    def _grey(self, small: np.ndarray) -> np.ndarray | None:
        return FlowReuse.grey(small) if self.still is not None or self.region is not None else None

    def _wanted_size(self, alpha: np.ndarray, first: bool) -> int:
        """The working size for the next call, from this call's alpha: the portrait size while
        one person fills the frame (``is_portrait``), else the model's. A shot's first call
        chooses at once; later, the other size must be wanted for SIZE_HOLD frames in a row
        (someone walking in, the camera moving closer), and a portrait stays one down to
        PORTRAIT_KEEP_SHARE, so a person near the threshold does not switch back and forth."""
        at_portrait = self.short == self.model.portrait_short
        share = PORTRAIT_KEEP_SHARE if at_portrait and not first else PORTRAIT_SHARE
        wanted = self.model.portrait_short if is_portrait(alpha, share) else self.model.model_short
        if first or wanted == self.short:
            self._against = 0
            return wanted
        self._against += 1
        return wanted if self._against >= SIZE_HOLD else self.short

    def _resize(self, frame: Any, short: int, settle_runs: int) -> tuple[np.ndarray, RvmPlan]:
        """Move the stream to working size ``short`` on ``frame``: the state (made at the other
        size), the people's box and the still frame's key are dropped, and the frame is shrunk
        for the new size; (the picture, its plan) for the call that follows. Within a shot the
        new state is first settled on this frame (``settle_runs`` - 1 runs, as for a photo),
        so the size change does not start the shot's memory over from a blank."""
        self.short = short
        self._against = 0
        height, width = frame.shape[:2]
        plan = self.model.plan(height, width, short)
        self._drop_state(reset=False)
        self._key = (frame.shape[:2], plan)
        small = downscale(frame, plan.src_size)
        for _ in range(settle_runs - 1):
            _, _, self._state = self.model.run(small, self._state, plan.ratio)
            self.calls += 1
        return small, plan

    def _call(self, small: np.ndarray, ratio: float, grey: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        """The model on ``small`` (or on the box around its people), carrying the state: the
        whole picture's alpha and foreground colour."""
        if self.region is None or grey is None:
            alpha, foreground, self._state = self.model.run(small, self._state, ratio)
            return alpha, foreground
        h, w = small.shape[:2]
        full = whole(h, w)
        box = self.region.next_box(h, w, grey)
        grows = 0
        while True:
            size = zoom_size(box, self._budget) if self.zoom else (box.x1 - box.x0, box.y1 - box.y0)
            state = self._state
            if state is not None and self._state_box is not None and (box, size) != (self._state_box, self._state_size):
                arrays = [v if isinstance(v, np.ndarray) else v.numpy() for v in state]
                state = (rescale_state(arrays, self._state_box, self._state_size, box, size)
                         if self.zoom and self._state_size is not None else carry_state(arrays, self._state_box, box))
            part = small[box.slices()]
            zoomed = size != (part.shape[1], part.shape[0])
            alpha, foreground, next_state = self.model.run(downscale(part, size) if zoomed else part, state, ratio)
            if zoomed:  # back to the box's own px
                alpha = cv2.resize(alpha, part.shape[1::-1], interpolation=cv2.INTER_LINEAR)
            self.region.ran(box)
            if box == full:
                break
            wider = self.region.wider(box, alpha, h, w)
            if (wider is None or not self.regrow) and not self.region.lost(alpha):
                if wider is not None:  # zoomed: the next frame's box reaches beyond this side (region.next_box)
                    self.uncovered += 1
                break
            grows += 1
            box = wider if wider is not None and grows <= MAX_GROWS else full
        self._state, self._state_box, self._state_size = next_state, box, size
        colour: np.ndarray | None = foreground
        if zoomed and colour is not None:  # at the box's own px, as the alpha (live blends it at the edge)
            colour = cv2.resize(np.ascontiguousarray(colour), part.shape[1::-1], interpolation=cv2.INTER_LINEAR)
        if box != full:  # outside the box: nobody
            alpha = paste(alpha, box, np.zeros((h, w), np.float32))
            colour = None if colour is None else paste(colour, box, colour_around(small, box))
        self.region.done(box, alpha, grows, grey)
        return alpha, colour
