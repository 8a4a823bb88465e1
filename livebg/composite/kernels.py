"""The compiled YUV 4:2:0 blend (numba): upsample the matte, blend, write the encoder's planes.
"""
from __future__ import annotations

import numpy as np

from livebg.frames.jit import compiled


@compiled
def blend_i420(fy, fu, fv, gy, gu, gv, by, bu, bv, ca, cb, x0, x1, wx, y0, y1, wy, oy, ou, ov):  # pragma: no cover - compiled
    """out = bg + alpha * (colour - bg) on YUV 4:2:0 planes, alpha = clip(A * Y_fg + B, 0, 1).

    ``fy``/``fu``/``fv``: the frame (its luma gives alpha); ``gy``/``gu``/``gv``: the colour
    blended where alpha is above 0, the frame's planes themselves unless a matting model
    estimated the foreground's own colour (``matte.foreground.model_foreground_i420``).

    A and B (``ca``, ``cb``: float32 h x w) are upsampled bilinearly to the frame with the
    row/column tables (``y0``/``y1``/``wy``, ``x0``/``x1``/``wx``: OpenCV's INTER_LINEAR
    sample positions). Chroma takes the mean alpha of its 2x2 block. Returns the number of
    blocks that needed arithmetic.
    """
    H, W = fy.shape
    w = ca.shape[1]
    ra = np.empty((2, w), np.float32)  # A and B interpolated to the two rows of a block
    rb = np.empty((2, w), np.float32)
    lo = np.empty(w, np.float32)  # least and greatest alpha column i can give, any luma
    hi = np.empty(w, np.float32)
    cls = np.empty(w, np.int8)
    blocks = np.empty(W // 2, np.int8)
    mixed = 0
    for yy in range(H // 2):
        ya = 2 * yy
        for r in range(2):
            j0, j1, t = y0[ya + r], y1[ya + r], wy[ya + r]
            for i in range(np.uint64(w)):
                ra[r, i] = ca[j0, i] + t * (ca[j1, i] - ca[j0, i])
                rb[r, i] = cb[j0, i] + t * (cb[j1, i] - cb[j0, i])
        for i in range(np.uint64(w)):  # alpha = A * Y + B is linear in Y: its extremes are at Y = 0 and 255
            a0, b0, a1, b1 = ra[0, i], rb[0, i], ra[1, i], rb[1, i]
            lo[i] = min(min(b0, b0 + 255 * a0), min(b1, b1 + 255 * a1))
            hi[i] = max(max(b0, b0 + 255 * a0), max(b1, b1 + 255 * a1))
        # class of low-res column i with its right neighbour (the other end of the lerp):
        # 0 = alpha 0 for any luma, 2 = alpha 1 for any luma, 1 = compute
        for i in range(w):
            j = min(i + 1, w - 1)
            cls[i] = 0 if max(hi[i], hi[j]) <= 0.0 else (2 if min(lo[i], lo[j]) >= 1.0 else 1)
        # a 2x2 block takes the class its two columns share, else 1
        for xx in range(W // 2):
            c = cls[x0[2 * xx]]
            blocks[xx] = c if c != 1 and c == cls[x0[2 * xx + 1]] else 1
        # runs of blocks that are all background or all frame are copied in tight loops, the
        # rest blended block by block
        xx = 0
        while xx < W // 2:
            c = blocks[xx]
            if c != 1:
                end = xx + 1
                while end < W // 2 and blocks[end] == c:
                    end += 1
                sy, su, sv = (by, bu, bv) if c == 0 else (gy, gu, gv)
                # unsigned indices: no negative-index check, so the copies vectorise (much faster)
                for x in range(np.uint64(2 * xx), np.uint64(2 * end)):
                    oy[ya, x] = sy[ya, x]
                    oy[ya + 1, x] = sy[ya + 1, x]
                for x in range(np.uint64(xx), np.uint64(end)):
                    ou[yy, x] = su[yy, x]
                    ov[yy, x] = sv[yy, x]
                xx = end
                continue
            mixed += 1
            xa = 2 * xx
            total = np.float32(0.0)
            for r in range(2):
                y = ya + r
                for x in range(xa, xa + 2):
                    i0, i1, s = x0[x], x1[x], wx[x]
                    a = ra[r, i0] + s * (ra[r, i1] - ra[r, i0])
                    b = rb[r, i0] + s * (rb[r, i1] - rb[r, i0])
                    f = np.float32(fy[y, x])
                    alpha = min(max(a * f + b, np.float32(0.0)), np.float32(1.0))
                    total += alpha
                    g = np.float32(by[y, x])
                    oy[y, x] = np.uint8(g + alpha * (np.float32(gy[y, x]) - g) + np.float32(0.5))
            alpha = total * np.float32(0.25)
            g = np.float32(bu[yy, xx])
            ou[yy, xx] = np.uint8(g + alpha * (np.float32(gu[yy, xx]) - g) + np.float32(0.5))
            g = np.float32(bv[yy, xx])
            ov[yy, xx] = np.uint8(g + alpha * (np.float32(gv[yy, xx]) - g) + np.float32(0.5))
            xx += 1
    return mixed


def linear_axis(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OpenCV INTER_LINEAR sample positions for resizing an axis of n_in samples to n_out:
    (index of the left sample, of the right one, weight of the right one)."""
    s = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    s = np.clip(s, 0, n_in - 1)
    i0 = np.floor(s).astype(np.int32)
    i1 = np.minimum(i0 + 1, n_in - 1).astype(np.int32)
    return i0, i1, (s - i0).astype(np.float32)


@compiled
def blend_edge_colour(image, colour, weight, matte, flow, x0, x1, wx, y0, y1, wy, bx0, bx1, by0, by1, out):  # pragma: no cover - compiled
    """out = image + w * (colour - image) in the frame box [bx0, bx1) x [by0, by1), w and colour
    upsampled bilinearly from the model's size (``weight`` float32 h x w, ``colour`` uint8
    h x w x 3) with the row/column tables (as ``blend_i420``); ``out`` holds ``image`` already.

    Only pixels where w > 0 and the frame's ``matte`` (float32 H x W; 1 x 1: everywhere) is
    above 0 are touched: inside the person w is 0, and where the matte is 0 the pixel is not
    shown, so the arithmetic is the soft edge's, not the box's. ``flow`` (float32 h x w x 2, in
    model px; 1 x 1 x 2: none): the colour is read at p + flow(p), p the pixel's position at the
    model's size (an older estimate carried onto this frame, as ``segment.reuse.moved`` would
    move the colour, but only where it is blended). Returns the pixels blended."""
    h, w_small = weight.shape
    everywhere = matte.shape[0] == 1 and matte.shape[1] == 1
    carried = flow.shape[0] == h and flow.shape[1] == w_small
    c_lo, c_hi = x0[bx0], x1[bx1 - 1] + 1  # the model's columns the box reads
    rw = np.zeros(w_small, np.float32)
    blended = 0
    for y in range(by0, by1):
        j0, j1, t = y0[y], y1[y], wy[y]
        live = False
        for i in range(c_lo, c_hi):
            v = weight[j0, i] + t * (weight[j1, i] - weight[j0, i])
            rw[i] = v
            if v > 0:
                live = True
        if not live:
            continue
        for x in range(bx0, bx1):
            i0, i1 = x0[x], x1[x]
            a, b = rw[i0], rw[i1]
            if (a <= 0 and b <= 0) or (not everywhere and matte[y, x] <= 0):
                continue
            s = wx[x]
            g = a + s * (b - a)
            ci0, ci1, cj0, cj1, cs, ct = i0, i1, j0, j1, s, t
            if carried:  # the colour's own position: p + flow(p), p's nearest model pixel's flow
                pi, pj = i0 + s, j0 + t
                ni, nj = min(int(pi + 0.5), w_small - 1), min(int(pj + 0.5), h - 1)
                qi = min(max(pi + flow[nj, ni, 0], 0.0), w_small - 1.0)
                qj = min(max(pj + flow[nj, ni, 1], 0.0), h - 1.0)
                ci0, cj0 = int(qi), int(qj)
                ci1, cj1 = min(ci0 + 1, w_small - 1), min(cj0 + 1, h - 1)
                cs, ct = np.float32(qi - ci0), np.float32(qj - cj0)
            for k in range(3):
                c0 = colour[cj0, ci0, k] + ct * (np.float32(colour[cj1, ci0, k]) - colour[cj0, ci0, k])
                c1 = colour[cj0, ci1, k] + ct * (np.float32(colour[cj1, ci1, k]) - colour[cj0, ci1, k])
                f = np.float32(image[y, x, k])
                v = f + g * (c0 + cs * (c1 - c0) - f) + 0.5
                out[y, x, k] = np.uint8(min(255.0, max(0.0, v)))
            blended += 1
    return blended
