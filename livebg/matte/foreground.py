"""The foreground's own colour at the soft edge of a matte, without the old background in it.

An edge pixel of a photo is a mix, I = a * F + (1 - a) * B: hair over a white wall is part hair,
part wall. Blending I itself over a new background keeps the old wall's share, which shows as a
pale or grey-green rim along hair and shoulders.

The estimate is a blur fusion (after Forte and Pitie's approximate fast foreground colour
estimation): the local mean colours of foreground and background, each weighted by its alpha,

    F_mean = blur(a * I) / blur(a),   B_mean = blur((1 - a) * I) / blur(1 - a),

are corrected by the pixel's own residual, shared out in proportion to alpha:

    r = I - a * F_mean - (1 - a) * B_mean,   F = F_mean + a * r,   B = B_mean + (1 - a) * r.

A wide pass finds the colours, a narrow one (on the first pass's F and B) keeps detail. Nothing
is divided by a small alpha, so faint edge pixels cannot turn into noise. Only pixels with
0.01 < a < 0.99 change.
"""
from __future__ import annotations

import cv2
import numpy as np

BAND = (0.01, 0.99)
RADII = (0.1, 0.007)  # the two passes' box radius, as a share of the picture's short side
MIN_RADII = (16, 3)
EPS = 1e-4


def _mean(values: np.ndarray, weight: np.ndarray, radius: int) -> np.ndarray:
    k = (2 * radius + 1, 2 * radius + 1)
    total = cv2.boxFilter(weight, -1, k, borderType=cv2.BORDER_REFLECT)
    summed = cv2.boxFilter(values * weight[..., None], -1, k, borderType=cv2.BORDER_REFLECT)
    return summed / (total[..., None] + EPS)


def blur_fusion(image: np.ndarray, alpha: np.ndarray, radius: int,
                fg: np.ndarray | None = None, bg: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One pass: (F, B) float32 HxWx3 from the picture, its alpha, and the previous pass's F
    and B (the picture itself for the first pass)."""
    a = alpha[..., None]
    f_mean = _mean(image if fg is None else fg, alpha, radius)
    b_mean = _mean(image if bg is None else bg, 1.0 - alpha, radius)
    residual = image - a * f_mean - (1.0 - a) * b_mean
    return f_mean + a * residual, b_mean + (1.0 - a) * residual


def foreground_colour(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``image`` (RGB uint8) with the old background taken out of its soft-edge pixels."""
    band = (alpha > BAND[0]) & (alpha < BAND[1])
    if not band.any():
        return image
    short = min(alpha.shape)
    wide, narrow = (max(least, round(short * r)) for r, least in zip(RADII, MIN_RADII))
    rows, cols = np.nonzero(band)
    pad = 2 * wide + 2  # what the wide pass reads around the band
    y0, y1 = max(0, rows.min() - pad), min(alpha.shape[0], rows.max() + pad + 1)
    x0, x1 = max(0, cols.min() - pad), min(alpha.shape[1], cols.max() + pad + 1)
    region = (slice(y0, y1), slice(x0, x1))
    picture = image[region].astype(np.float32)
    a = np.clip(alpha[region], 0.0, 1.0).astype(np.float32)
    fg, bg = blur_fusion(picture, a, wide)
    fg, _ = blur_fusion(picture, a, narrow, fg, bg)
    out = image.copy()
    edge = band[region]
    out[region][edge] = np.clip(fg[edge] + 0.5, 0, 255).astype(np.uint8)
    return out
