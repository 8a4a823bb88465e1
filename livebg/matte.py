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
    """Frame + alpha -> output frame over a Background (RGB, or RGBA when transparent).

    ``device`` "cuda" blends on the GPU in float16 (``blend_torch``) and copies back uint8;
    any other torch device string (e.g. "cpu") runs that same tensor path, which is how the
    tests exercise it without a GPU. None (default) blends with OpenCV in uint8/float32.
    """

    def __init__(self, background: Background, light_wrap: float = 0.0, device: str | None = None):
        self.background = background
        self.light_wrap = light_wrap
        self.device = device

    def __call__(self, frame: np.ndarray, alpha: np.ndarray, t: Fraction) -> np.ndarray:
        bg = self.background.frame_at(t, frame)
        if bg is not None and self.light_wrap > 0 and bg is not frame:
            from .refine import light_wrap

            frame = light_wrap(frame, bg, alpha, self.light_wrap)
        if self.device is None or bg is None or bg is frame:
            return composite(frame, alpha, bg)
        return self._blend_on_device(frame, alpha, bg)

    def _blend_on_device(self, frame: np.ndarray, alpha: np.ndarray, bg: np.ndarray) -> np.ndarray:
        import torch

        from .compositing import blend_torch

        cuda = self.device.startswith("cuda")
        dtype = torch.float16 if cuda else torch.float32

        def upload(array: np.ndarray):
            tensor = torch.from_numpy(array)
            return tensor.pin_memory().to(self.device, non_blocking=True) if cuda else tensor

        out = blend_torch(upload(frame), upload(alpha).to(dtype), upload(bg))
        return out.cpu().numpy()
