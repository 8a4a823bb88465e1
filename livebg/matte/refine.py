"""Edge refinement: the inference-resolution probability map -> a full-resolution alpha.

``bilinear`` only upsamples. ``guided`` runs a fast guided filter (He & Sun 2015): the
linear coefficients ``alpha ~ a * luma + b`` are fitted in small windows at a reduced scale,
upsampled, and applied to the full-resolution luma, so the matte follows the image's own
edges (hair, shoulders) instead of a blurred blob. ``sharpness`` then steepens the edge ramp
around ``threshold`` (0.6 by default: the models spill a little onto the backdrop, which showed
as a pale fringe round a white coat); both are folded into the coefficients, so they cost
nothing per pixel. Nothing is dilated or blurred outward, so no halo is added.

``matte_photo`` (matte/photo.py) is the slower path for single photos: closed-form matting
in the soft band of this alpha, held to it by a prior, and the foreground's colour (pymatting).
"""
from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from livebg.config import RefineConfig
from livebg.frames.resize import shrink

# The guided filter's coefficients are computed at about this many pixels on the short side
# unless [refine] guide_size says otherwise.
GUIDE_SHORT_SIDE = 270


SEGMENTATION_EDGE = 0.6  # the threshold for a segmentation model's probability (see the module docstring)


class Refiner:
    def __init__(self, config: RefineConfig | None = None, *, edge_threshold: float = SEGMENTATION_EDGE):
        """``edge_threshold``: where the edge goes when the config leaves it to the model
        (threshold 0): 0.6 for segmentation models, the model's own for others (RVM: 0.5)."""
        config = config or RefineConfig()
        config.validate()
        self.config = config if config.threshold else replace(config, threshold=edge_threshold)

    def __call__(self, prob: np.ndarray, frame: np.ndarray) -> np.ndarray:
        """float32 probability map (any size) + RGB uint8 frame -> float32 alpha at frame size."""
        return self.apply(prob, *luma_and_guide(frame, self.config.guide_size))

    def apply(self, prob: np.ndarray, gray: np.ndarray, guide: np.ndarray, scale: float) -> np.ndarray:
        """``__call__`` for a frame already reduced to ``luma_and_guide(frame)``."""
        if prob.dtype != np.float32 or prob.ndim != 2:
            raise ValueError(f"probability map must be float32 HxW, got {prob.dtype} {prob.shape}")
        if gray.dtype != np.uint8 or gray.ndim != 2:
            raise ValueError(f"luma must be uint8 HxW, got {gray.dtype} {gray.shape}")
        h, w = gray.shape
        if self.config.method == "bilinear":
            alpha = cv2.resize(prob, (w, h), interpolation=cv2.INTER_LINEAR)
            return np.clip(alpha, 0.0, 1.0, out=alpha)
        a, b = self.coefficients(prob, guide, scale)
        # one two-channel resize is much cheaper than two one-channel ones
        ab = cv2.resize(cv2.merge((a, b)), (w, h), interpolation=cv2.INTER_LINEAR)
        alpha = cv2.multiply(ab[..., 0], gray, dtype=cv2.CV_32F)
        alpha += ab[..., 1]
        return np.clip(alpha, 0.0, 1.0, out=alpha)

    def working_map(self, prob: np.ndarray, guide: np.ndarray) -> np.ndarray:
        """``prob`` at the size refinement uses it: the guide's for ``guided`` (so smoothing
        before it costs a quarter of the model map's pixels), its own for ``bilinear``."""
        if self.config.method == "bilinear" or prob.shape == guide.shape:
            return prob
        return cv2.resize(prob, guide.shape[::-1], interpolation=cv2.INTER_LINEAR)

    def coefficients(self, prob: np.ndarray, guide: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
        """Low-resolution maps (a, b) with alpha = clip(a * luma + b, 0, 1) at full resolution,
        luma in 0..255 and (a, b) upsampled bilinearly. ``guide, scale`` is ``guide_small(luma)``.

        ``bilinear`` is the special case a = 0, b = prob; ``guided`` fits the linear model in
        windows of ``radius`` (scaled to the guide) and folds ``sharpness`` into it.
        """
        cfg = self.config
        if cfg.method == "bilinear":
            return np.zeros_like(prob), np.clip(prob, 0.0, 1.0)
        p = self.working_map(prob, guide)
        r = max(1, round(cfg.radius * scale))
        a, b = guided_coefficients(guide, p, r, cfg.eps)
        # alpha = sharpness * (a * I + b - threshold) + 0.5, with the luma I in [0, 1]
        k = cfg.sharpness
        a *= k / 255.0
        b -= cfg.threshold
        b *= k
        b += 0.5
        return a, b


def luma_and_guide(frame: np.ndarray, short_side: int = GUIDE_SHORT_SIDE) -> tuple[np.ndarray, np.ndarray, float]:
    """An RGB uint8 frame's luma (uint8, full size) and ``guide_small`` of it."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame must be uint8 HxWx3, got {frame.dtype} {frame.shape}")
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return (gray, *guide_small(gray, short_side))


def guide_small(luma: np.ndarray, short_side: int = GUIDE_SHORT_SIDE) -> tuple[np.ndarray, float]:
    """The full-resolution luma (uint8) at about ``short_side`` px, in [0, 1], and the scale."""
    h, w = luma.shape
    scale = min(1.0, short_side / min(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    factor = round(1 / scale)
    if scale < 1 and not (w % factor or h % factor) and (w // factor, h // factor) == size:  # e.g. 540p, 1080p
        small = shrink(luma, factor).astype(np.float32)
    else:  # INTER_AREA to a non-integer ratio (e.g. 720p to 270 px) is slow: halve first
        while luma.shape[0] >= 2 * size[1] and luma.shape[1] >= 2 * size[0]:
            luma = shrink(luma, 2)
        small = cv2.resize(luma, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    small *= 1 / 255.0
    return small, scale


def guided_coefficients(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Box-filtered linear coefficients (a, b) with src ~ a * guide + b in each window."""
    size = (2 * radius + 1, 2 * radius + 1)

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, cv2.CV_32F, size, borderType=cv2.BORDER_REFLECT)

    mean_i = box(guide)
    mean_p = box(src)
    cov_ip = box(guide * src) - mean_i * mean_p
    var_i = box(guide * guide) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return box(a), box(b)
