"""Compiled per-pixel kernels (numba) for the CPU hot path of file jobs.

``blend_i420`` fuses the last full-resolution steps of the chain — applying the guided
filter's upsampled coefficients to the luma, the blend, and the RGB -> YUV 4:2:0 conversion
the encoder needs — into one pass over a frame that is already YUV 4:2:0 (as the decoder
gives it), over a background in the same layout. Blending Y, U and V with the same alpha is
the RGB blend followed by the (affine) colour conversion. The coefficients are low-resolution
maps: where the linear model gives an alpha of 0 or 1 for every possible luma across a 2x2
block, the block is copied from the background or the frame without any arithmetic, and that
is most of a frame. Only the soft edge is computed.

numba compiles on first use (a pause at startup) and caches the machine code on disk.
"""
from __future__ import annotations

import numpy as np

from livebg.frames.jit import compiled


@compiled
def adaptive_smooth(prob, state, strength, threshold, out):  # pragma: no cover - compiled
    """out = prob + keep * (state - prob), keep = max(0, strength * (1 - |prob - state| / threshold)):
    the adaptive smoother's update in one pass (float32 maps of one shape)."""
    h, w = prob.shape
    s = np.float32(strength)
    k = np.float32(strength / threshold)
    zero = np.float32(0.0)
    for y in range(h):
        for x in range(w):
            p = prob[y, x]
            q = state[y, x]
            keep = max(zero, s - k * abs(p - q))
            out[y, x] = p + keep * (q - p)


@compiled
def neighbour_average(p, g, p1, g1, w1, p2, g2, w2, slope, out):  # pragma: no cover - compiled
    """out = (p + a * p1 + b * p2) / (1 + a + b) per pixel, a = max(0, w1 - slope * |g1 - g|)
    and b likewise: a map averaged with two neighbours' maps, each weighed by how little its
    guide differs (``smoothing.neighbour_average``). float32 maps of one shape, C-contiguous."""
    p, g, p1, g1, p2, g2, flat = p.ravel(), g.ravel(), p1.ravel(), g1.ravel(), p2.ravel(), g2.ravel(), out.ravel()
    one = np.float32(1.0)
    zero = np.float32(0.0)
    w1 = np.float32(w1)
    w2 = np.float32(w2)
    k = np.float32(slope)
    for i in range(p.size):
        here = g[i]
        a = max(zero, w1 - k * abs(g1[i] - here))
        b = max(zero, w2 - k * abs(g2[i] - here))
        flat[i] = (p[i] + a * p1[i] + b * p2[i]) / (one + a + b)
