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
0.01 < a < 0.99 change. Photos use it (``foreground_colour``).

Video with a matting model that estimates F itself (RVM's ``fgr``) uses the model's estimate
instead (``model_foreground``, ``model_foreground_i420``): it costs a resize and a blend, not
box filters, and it is placed by the model's own soft alpha. That matters because livebg's
refined alpha is steep (``[refine] sharpness``): the mixed pixels of a hair's outer row get an
alpha of 1 there, so no band of livebg's fractional alpha covers them, and they kept the old
backdrop's white as a rim (docs/quality.md, "The foreground's colour at the edge").
"""
from __future__ import annotations

import functools

import cv2
import numpy as np

from livebg.composite.kernels import blend_edge_colour, linear_axis

# where the estimate is blended: EXTENT_LEVEL, EXTENT_PAD (frames/frame.py, beside ForegroundEstimate)
from livebg.frames.frame import EXTENT_LEVEL, EXTENT_PAD, ForegroundEstimate
from livebg.frames.yuv import frame_size, i420_planes

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


# The model's colour is taken where its alpha is at most 1 - MODEL_RAMP, and faded into the
# frame's own colour over the model alpha's last MODEL_RAMP: inside the person the frame keeps
# its full-resolution detail (the model's estimate is at its own, smaller size).
MODEL_RAMP = 0.1


def model_weight(alpha: np.ndarray) -> np.ndarray:
    """How much of the model's colour a pixel takes, from the model's alpha: 1 up to
    1 - MODEL_RAMP (the soft edge, and outside, where livebg's alpha hides it), 0 at 1."""
    weight = (1.0 - alpha) * np.float32(1.0 / MODEL_RAMP)  # the model's own size: small
    return np.clip(weight, 0.0, 1.0, out=weight)


def _check(estimate: ForegroundEstimate) -> None:
    colour, alpha = estimate
    if colour.dtype != np.float32 or colour.ndim != 3 or colour.shape[2] != 3:
        raise ValueError(f"the estimate's colour must be float32 hxwx3, got {colour.dtype} {colour.shape}")
    if alpha.dtype != np.float32 or alpha.shape != colour.shape[:2]:
        raise ValueError(f"the estimate's alpha must be float32 {colour.shape[:2]}, got {alpha.dtype} {alpha.shape}")


def _levels(colour: np.ndarray) -> np.ndarray:
    """The estimate's colour in uint8 levels. RVM's comes as a view of its three channel planes:
    converted plane by plane (OpenCV would first copy the strided view)."""
    if colour.flags.c_contiguous:
        return cv2.convertScaleAbs(colour, alpha=255.0)
    return cv2.merge([cv2.convertScaleAbs(colour[..., k], alpha=255.0) for k in range(3)])




def extent(alpha: np.ndarray, height: int, width: int) -> tuple[int, int, int, int] | None:
    """The frame box (x0, y0, x1, y1), even corners, of a ``height`` x ``width`` frame that
    holds the model alpha's pixels above EXTENT_LEVEL, EXTENT_PAD model px wider; None when
    there are none."""
    found = alpha > EXTENT_LEVEL
    cols, rows = np.flatnonzero(found.any(0)), np.flatnonzero(found.any(1))
    if not len(cols):
        return None
    h, w = alpha.shape
    sx, sy = width / w, height / h

    def low(v: int, scale: float) -> int:
        return max(0, int(np.floor(max(0, v - EXTENT_PAD) * scale)) & ~1)

    def high(v: int, scale: float, size: int) -> int:
        return min(size, -(-int(np.ceil(min(v + 1 + EXTENT_PAD, size / scale) * scale)) // 2) * 2)

    return low(cols[0], sx), low(rows[0], sy), high(cols[-1], sx, width), high(rows[-1], sy, height)


def _resized(small: np.ndarray, size: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    """``cv2.resize(small, size)`` (bilinear, half-pixel centres), only its ``box`` (x0, y0,
    x1, y1): one affine warp at the same sample positions (OpenCV 5 warps at them to within a
    level; 4.x rounds positions to 1/32 px, a few levels on sharp detail)."""
    (w, h), (sw, sh) = size, small.shape[1::-1]
    x0, y0, x1, y1 = box
    ax, ay = sw / w, sh / h
    to_small = np.array([[ax, 0, (x0 + 0.5) * ax - 0.5], [0, ay, (y0 + 0.5) * ay - 0.5]], np.float32)
    return cv2.warpAffine(small, to_small, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def model_foreground(image: np.ndarray, estimate: ForegroundEstimate, matte: np.ndarray | None = None,
                     flow: np.ndarray | None = None) -> np.ndarray:
    """The colour to blend for an RGB uint8 frame: the model's estimate of the foreground's
    colour (brought to the frame's size, bilinearly) at the model's soft edge, the frame inside
    and where the model found nobody (``extent``). ``matte``: the frame's own alpha (float32
    H x W), when it is known: where it is 0 the pixel is not shown, and is left as it is (one
    compiled pass then touches the soft edge only: ``kernels.blend_edge_colour``). ``flow``
    (float32 h x w x 2 at the estimate's size, px): the estimate's alpha was moved along it
    onto this frame (``segment.reuse.moved``) and its colour is read where the flow points,
    as if moved the same way (live: an older mask carried onto a newer frame)."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"frame must be uint8 HxWx3, got {image.dtype} {image.shape}")
    _check(estimate)
    h, w = image.shape[:2]
    if matte is not None and (matte.dtype != np.float32 or matte.shape != (h, w)):
        raise ValueError(f"the matte must be float32 {(h, w)}, got {matte.dtype} {matte.shape}")
    if flow is not None and (flow.dtype != np.float32 or flow.shape != (*estimate.alpha.shape, 2)):
        raise ValueError(f"the flow must be float32 {(*estimate.alpha.shape, 2)}, got {flow.dtype} {flow.shape}")
    box = extent(estimate.alpha, h, w)
    if box is None:
        return image
    x0, y0, x1, y1 = box
    sh, sw = estimate.alpha.shape
    out = image.copy()
    blend_edge_colour(image, _levels(estimate.colour), model_weight(estimate.alpha),
                      _EVERYWHERE if matte is None else matte, _NO_FLOW if flow is None else flow,
                      *_axis(w, sw), *_axis(h, sh), x0, x1, y0, y1, out)
    return out


_EVERYWHERE = np.ones((1, 1), np.float32)  # blend_edge_colour's matte when none is given
_NO_FLOW = np.zeros((1, 1, 2), np.float32)  # ... and its flow


@functools.lru_cache(maxsize=16)
def _axis(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``kernels.linear_axis``, kept per size (a stream's sizes hardly change)."""
    return linear_axis(n_out, n_in)


def model_foreground_i420(yuv: np.ndarray, estimate: ForegroundEstimate) -> np.ndarray:
    """``model_foreground`` for a frame that is yuv420p planes: the planes of the colour to
    blend (the blend is linear, so blending Y, U and V with the same weights is blending RGB)."""
    _check(estimate)
    h, w = frame_size(yuv)
    box = extent(estimate.alpha, h, w)
    if box is None:
        return yuv
    x0, y0, x1, y1 = box
    colour = cv2.cvtColor(_resized(_levels(estimate.colour), (w, h), box), cv2.COLOR_RGB2YUV_I420)
    small = model_weight(estimate.alpha)
    luma = _resized(small, (w, h), box)
    chroma = _resized(small, (w // 2, h // 2), (x0 // 2, y0 // 2, x1 // 2, y1 // 2))
    out = yuv.copy()
    for d, src, dst in zip((1, 2, 2), i420_planes(colour), i420_planes(out)):
        part = dst[y0 // d:y1 // d, x0 // d:x1 // d]
        weight = luma if d == 1 else chroma
        part[:] = cv2.blendLinear(src, part, weight, 1.0 - weight)
    return out
