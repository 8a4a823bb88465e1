"""The per-frame chain after segmentation: smoothing -> refinement -> background -> blend.

Shared by file jobs, the live path and the Python API, so that every mode gives the same
result for the same settings.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from .compositing import Background, composite
from .config import Config
from .refine import Refiner
from .smoothing import TemporalSmoother


class Matter:
    """Probability map (inference size) + frame -> full-resolution float32 alpha."""

    def __init__(self, config: Config):
        self.smoother = TemporalSmoother(config.smoothing)
        self.refiner = Refiner(config.refine)

    def reset(self) -> None:
        self.smoother.reset()

    def __call__(self, prob: np.ndarray, frame: np.ndarray) -> np.ndarray:
        return self.refiner(self.smoother(prob, frame), frame)


class Compositor:
    """Frame + alpha -> output frame over a Background (RGB, or RGBA when transparent)."""

    def __init__(self, background: Background, light_wrap: float = 0.0):
        self.background = background
        self.light_wrap = light_wrap

    def __call__(self, frame: np.ndarray, alpha: np.ndarray, t: Fraction) -> np.ndarray:
        bg = self.background.frame_at(t, frame)
        if bg is not None and self.light_wrap > 0 and bg is not frame:
            from .refine import light_wrap

            frame = light_wrap(frame, bg, alpha, self.light_wrap)
        return composite(frame, alpha, bg)
