"""Compiled per-pixel kernels (numba) for the CPU hot path of file jobs.

``blend_i420`` fuses the last full-resolution steps of the chain — applying the guided
filter's upsampled coefficients to the luma, the blend, and the RGB -> YUV 4:2:0 conversion
the encoder needs — into one pass over a frame that is already YUV 4:2:0 (as the decoder
gives it), over a background in the same layout. Blending Y, U and V with the same alpha is
the RGB blend followed by the (affine) colour conversion. The coefficients are low-resolution
maps: where the linear model gives an alpha of 0 or 1 for every possible luma across a 2x2
block, the block is copied from the background or the frame without any arithmetic, and that
is most of a frame. Only the soft edge is computed.

numba compiles on first use (about a second) and caches the machine code on disk.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def blend_i420(fy, fu, fv, by, bu, bv, ca, cb, x0, x1, wx, y0, y1, wy, oy, ou, ov):  # pragma: no cover - compiled
    """out = bg + alpha * (fg - bg) on YUV 4:2:0 planes, alpha = clip(A * Y_fg + B, 0, 1).

    A and B (``ca``, ``cb``: float32 h x w) are upsampled bilinearly to the frame with the
    row/column tables (``y0``/``y1``/``wy``, ``x0``/``x1``/``wx``: OpenCV's INTER_LINEAR
    sample positions). Chroma takes the mean alpha of its 2x2 block. Returns the number of
    blocks that needed arithmetic.
    """
    H, W = fy.shape
    w = ca.shape[1]
    ra0 = np.empty(w, np.float32)
    rb0 = np.empty(w, np.float32)
    ra1 = np.empty(w, np.float32)
    rb1 = np.empty(w, np.float32)
    cls = np.empty(w, np.int8)
    mixed = 0
    for yy in range(H // 2):
        ya = 2 * yy
        yb = ya + 1
        ja0, ja1, ta = y0[ya], y1[ya], wy[ya]
        jb0, jb1, tb = y0[yb], y1[yb], wy[yb]
        for i in range(w):
            ra0[i] = ca[ja0, i] + ta * (ca[ja1, i] - ca[ja0, i])
            rb0[i] = cb[ja0, i] + ta * (cb[ja1, i] - cb[ja0, i])
            ra1[i] = ca[jb0, i] + tb * (ca[jb1, i] - ca[jb0, i])
            rb1[i] = cb[jb0, i] + tb * (cb[jb1, i] - cb[jb0, i])
        # class of low-res column i (and its right neighbour, the other end of the lerp):
        # 0 = alpha 0 for any luma in [0, 255], 2 = alpha 1 for any luma, 1 = compute
        for i in range(w):
            j = min(i + 1, w - 1)
            lo = min(min(rb0[i], rb0[i] + 255 * ra0[i]), min(rb1[i], rb1[i] + 255 * ra1[i]))
            lo = min(lo, min(min(rb0[j], rb0[j] + 255 * ra0[j]), min(rb1[j], rb1[j] + 255 * ra1[j])))
            hi = max(max(rb0[i], rb0[i] + 255 * ra0[i]), max(rb1[i], rb1[i] + 255 * ra1[i]))
            hi = max(hi, max(max(rb0[j], rb0[j] + 255 * ra0[j]), max(rb1[j], rb1[j] + 255 * ra1[j])))
            cls[i] = 0 if hi <= 0.0 else (2 if lo >= 1.0 else 1)
        for xx in range(W // 2):
            xa = 2 * xx
            xb = xa + 1
            ca_ = cls[x0[xa]]
            cb_ = cls[x0[xb]]
            if ca_ == cb_ and ca_ != 1:
                if ca_ == 0:
                    oy[ya, xa] = by[ya, xa]
                    oy[ya, xb] = by[ya, xb]
                    oy[yb, xa] = by[yb, xa]
                    oy[yb, xb] = by[yb, xb]
                    ou[yy, xx] = bu[yy, xx]
                    ov[yy, xx] = bv[yy, xx]
                else:
                    oy[ya, xa] = fy[ya, xa]
                    oy[ya, xb] = fy[ya, xb]
                    oy[yb, xa] = fy[yb, xa]
                    oy[yb, xb] = fy[yb, xb]
                    ou[yy, xx] = fu[yy, xx]
                    ov[yy, xx] = fv[yy, xx]
                continue
            mixed += 1
            total = np.float32(0.0)
            for r in range(2):
                y = ya + r
                for c in range(2):
                    x = xa + c
                    i0 = x0[x]
                    i1 = x1[x]
                    s = wx[x]
                    if r == 0:
                        a = ra0[i0] + s * (ra0[i1] - ra0[i0])
                        b = rb0[i0] + s * (rb0[i1] - rb0[i0])
                    else:
                        a = ra1[i0] + s * (ra1[i1] - ra1[i0])
                        b = rb1[i0] + s * (rb1[i1] - rb1[i0])
                    f = np.float32(fy[y, x])
                    alpha = min(max(a * f + b, np.float32(0.0)), np.float32(1.0))
                    total += alpha
                    g = np.float32(by[y, x])
                    oy[y, x] = np.uint8(g + alpha * (f - g) + np.float32(0.5))
            alpha = total * np.float32(0.25)
            g = np.float32(bu[yy, xx])
            ou[yy, xx] = np.uint8(g + alpha * (np.float32(fu[yy, xx]) - g) + np.float32(0.5))
            g = np.float32(bv[yy, xx])
            ov[yy, xx] = np.uint8(g + alpha * (np.float32(fv[yy, xx]) - g) + np.float32(0.5))
    return mixed


def linear_axis(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OpenCV INTER_LINEAR sample positions for resizing an axis of n_in samples to n_out:
    (index of the left sample, of the right one, weight of the right one)."""
    s = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    s = np.clip(s, 0, n_in - 1)
    i0 = np.floor(s).astype(np.int32)
    i1 = np.minimum(i0 + 1, n_in - 1).astype(np.int32)
    return i0, i1, (s - i0).astype(np.float32)


@njit(nogil=True, cache=True)
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
