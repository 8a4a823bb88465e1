"""Edge refinement: the inference-resolution probability map -> a full-resolution alpha.

``bilinear`` only upsamples. ``guided`` runs a fast guided filter (He & Sun 2015): the
linear coefficients are fitted against the frame's luma at a reduced scale and upsampled,
so the matte follows the image's own edges (hair, shoulders) instead of a blurred blob,
and no dilate-and-blur halo is added.
"""
from __future__ import annotations

import cv2
import numpy as np

from .config import RefineConfig

# The guided filter's coefficients are computed at about this many pixels on the short side.
GUIDE_SHORT_SIDE = 270


class Refiner:
    def __init__(self, config: RefineConfig | None = None):
        self.config = config or RefineConfig()
        self.config.validate()

    def __call__(self, prob: np.ndarray, frame: np.ndarray) -> np.ndarray:
        """float32 probability map (any size) + RGB uint8 frame -> float32 alpha at frame size."""
        h, w = frame.shape[:2]
        if self.config.method == "bilinear":
            alpha = cv2.resize(prob, (w, h), interpolation=cv2.INTER_LINEAR)
        else:
            alpha = self.guided(prob, frame)
        return np.clip(alpha, 0.0, 1.0, out=alpha)

    def guided(self, prob: np.ndarray, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        scale = min(1.0, GUIDE_SHORT_SIDE / min(h, w))
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        guide_small = cv2.resize(gray, (sw, sh), interpolation=cv2.INTER_AREA).astype(np.float32) * (1 / 255.0)
        p = cv2.resize(prob, (sw, sh), interpolation=cv2.INTER_LINEAR)
        r = max(1, round(self.config.radius * scale))
        a, b = guided_coefficients(guide_small, p, r, self.config.eps)
        a = cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR)
        b = cv2.resize(b, (w, h), interpolation=cv2.INTER_LINEAR)
        guide = gray.astype(np.float32)
        guide *= a * (1 / 255.0)
        guide += b
        return guide


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


def light_wrap(frame: np.ndarray, background: np.ndarray, alpha: np.ndarray, amount: float) -> np.ndarray:
    """Let blurred background light spill onto the subject's edge (only near the edge)."""
    h, w = frame.shape[:2]
    radius = max(3, round(min(h, w) / 60)) | 1
    soft = cv2.GaussianBlur(alpha, (0, 0), radius)
    # weight is large just inside the edge: where the blurred matte drops below the sharp one
    edge = np.clip((alpha - soft) * (2.0 * amount), 0.0, amount)
    glow = cv2.GaussianBlur(background, (0, 0), radius)
    return cv2.blendLinear(glow, frame, edge, 1.0 - edge)
