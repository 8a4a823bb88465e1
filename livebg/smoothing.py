"""Temporal smoothing of the probability maps, with explicit state and reset().

``ema`` blends each new map with the previous result at a fixed strength. ``adaptive`` does
the same per pixel, but lowers the weight linearly with the change in probability, to zero
where it moved by ``motion_threshold`` or more: a still matte stops shimmering while a moving
arm is followed at once, without a trailing ghost. A scene cut (a large change in a small thumbnail of the
frame) resets the state.
"""
from __future__ import annotations

import cv2
import numpy as np

from .config import SmoothingConfig

THUMB_SIZE = (64, 36)


class TemporalSmoother:
    def __init__(self, config: SmoothingConfig | None = None):
        self.config = config or SmoothingConfig()
        self.config.validate()
        self.state: np.ndarray | None = None
        self._thumb: np.ndarray | None = None
        self.cuts = 0
        if self.config.method == "adaptive":
            # load the compiled kernel now (a third of a second the first time in a process),
            # at startup, not in the middle of the second frame
            self._adaptive(np.zeros((1, 1), np.float32), np.zeros((1, 1), np.float32))

    def reset(self) -> None:
        """Forget the past: call at the start of a job, on scene cuts and on effect toggles."""
        self.state = None
        self._thumb = None

    def is_cut(self, frame: np.ndarray) -> bool:
        """True when ``frame`` differs from the previous one as a scene cut does. ``frame`` is the
        RGB frame or any grey version of it (uint8, or float in [0, 1]; the matte stage passes
        its small guide image, which is ~5x cheaper to shrink than the frame)."""
        if frame.ndim == 3:
            frame = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        thumb = cv2.resize(frame, THUMB_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)
        if frame.dtype == np.uint8:
            thumb *= 1 / 255.0
        previous, self._thumb = self._thumb, thumb
        if previous is None:
            return False
        return float(cv2.absdiff(thumb, previous).mean()) > self.config.cut_threshold

    def __call__(self, prob: np.ndarray, frame: np.ndarray | None = None) -> np.ndarray:
        """Smooth one float32 probability map; ``frame`` (RGB or grey) enables scene-cut detection."""
        cfg = self.config
        if frame is not None and self.is_cut(frame):
            self.cuts += 1
            self.state = None
        if cfg.method == "none" or cfg.strength == 0 or self.state is None or self.state.shape != prob.shape:
            self.state = prob.astype(np.float32, copy=True)
            return self.state
        if cfg.method == "ema":
            self.state = cv2.addWeighted(self.state, cfg.strength, prob, 1 - cfg.strength, 0)
            return self.state
        self.state = self._adaptive(np.ascontiguousarray(prob, dtype=np.float32), self.state)
        return self.state

    def _adaptive(self, prob: np.ndarray, state: np.ndarray) -> np.ndarray:
        """keep = strength * (1 - |change| / threshold), clipped at 0, in one compiled pass (the
        result is a new array: the caller may hold the last one)."""
        from .kernels import adaptive_smooth

        out = np.empty_like(state)
        adaptive_smooth(prob, state, float(self.config.strength), float(self.config.motion_threshold), out)
        return out
