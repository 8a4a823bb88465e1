"""Photo matting: a trimap from the model's probability, solved with pymatting (closed-form).
"""
from __future__ import annotations

import cv2
import numpy as np

from livebg.config import RefineConfig
from livebg.matte.refine import Refiner

# -- photo matting ------------------------------------------------------------------------------

TRIMAP_HIGH = 0.9  # probability above which a pixel is sure foreground
TRIMAP_LOW = 0.1  # below which it is sure background
TRIMAP_BAND = 0.012  # unknown band widened by this fraction of the short side on each side


def trimap_from_probability(prob: np.ndarray, *, high: float = TRIMAP_HIGH, low: float = TRIMAP_LOW,
                            band: int = 0) -> np.ndarray:
    """float32 trimap at prob's size: 1 sure foreground, 0 sure background, 0.5 unknown.

    Sure regions are shrunk by ``band`` pixels (erosion), so the unknown band covers the
    model's whole uncertain edge and some of the certain side, where hair usually is.
    """
    if band <= 0:
        band = max(2, round(TRIMAP_BAND * min(prob.shape)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    sure_fg = cv2.erode((prob > high).astype(np.uint8), kernel)
    sure_bg = cv2.erode((prob < low).astype(np.uint8), kernel)
    trimap = np.full(prob.shape, 0.5, np.float32)
    trimap[sure_fg > 0] = 1.0
    trimap[sure_bg > 0] = 0.0
    return trimap


def matting_compiled() -> bool:
    """True when pymatting's compiled code is cached. numba compiles it on the first use (which
    takes far longer than matting a photo does afterwards) and caches it beside the package, or
    under NUMBA_CACHE_DIR when that is set."""
    import importlib.util
    import os
    from pathlib import Path

    spec = importlib.util.find_spec("pymatting")
    if spec is None or not spec.submodule_search_locations:
        return True  # not installed: the import error says so
    places = [Path(p) for p in spec.submodule_search_locations]
    if os.environ.get("NUMBA_CACHE_DIR"):
        places.append(Path(os.environ["NUMBA_CACHE_DIR"]))
    return any(next(place.rglob("estimate_foreground_ml*.nbi"), None) for place in places)


# Closed-form matting's cost grows with the unknown band's pixels (at full size a large photo
# is very slow and can run out of memory): it is solved at this working size, and the alpha
# and the foreground colour are brought to full size edge-aware, a strip of rows at a time.
MATTING_PIXELS = 1_000_000
STRIP_ROWS = 512
UPSAMPLE_RADIUS = 2  # guided upsampling window, in working-size pixels
UPSAMPLE_EPS = 1e-4
REMAP_BLOCK = 16384  # cv2.remap takes images and maps under 32767 (SHRT_MAX) pixels a side


def matte_photo(image: np.ndarray, prob: np.ndarray, *, refine: RefineConfig | None = None,
                max_pixels: int = MATTING_PIXELS) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form matting for one photo: RGB uint8 image + probability map (any size) ->
    (float32 alpha at image size, RGB uint8 image with the foreground colour re-estimated
    where alpha is fractional, so the old background does not bleed into the new one).

    Photos above ``max_pixels`` are matted at that size and brought back up edge-aware (the
    alpha as a guided-filter fit of the full-size luma), so memory stays bounded by a few
    copies of the photo itself."""
    h, w = image.shape[:2]
    scale = min(1.0, (max_pixels / (h * w)) ** 0.5)
    if scale >= 1.0:
        return _matte_full(image, prob, refine)
    small_size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(image, small_size, interpolation=cv2.INTER_AREA)
    alpha_small, fg_small = _matte_full(small, prob, refine)
    gray_small = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    from livebg.matte.refine import guided_coefficients

    a, b = guided_coefficients(gray_small, alpha_small, UPSAMPLE_RADIUS, UPSAMPLE_EPS)
    colour = fg_small.astype(np.int16) - small.astype(np.int16)  # the foreground correction
    alpha = np.empty((h, w), np.float32)
    out = image.copy()
    map_x = ((np.arange(w, dtype=np.float32) + 0.5) * (small_size[0] / w) - 0.5)[None, :]
    for r0 in range(0, h, STRIP_ROWS):
        r1 = min(h, r0 + STRIP_ROWS)
        ys = ((np.arange(r0, r1, dtype=np.float32) + 0.5) * (small_size[1] / h) - 0.5)[:, None]
        mx = np.broadcast_to(map_x, (r1 - r0, w)).astype(np.float32)
        my = np.broadcast_to(ys, (r1 - r0, w)).astype(np.float32)

        def up(x: np.ndarray) -> np.ndarray:
            return _remap_blocks(x, mx, my)

        luma = cv2.cvtColor(image[r0:r1], cv2.COLOR_RGB2GRAY).astype(np.float32)
        luma *= 1 / 255.0
        strip = up(a) * luma
        strip += up(b)
        np.clip(strip, 0.0, 1.0, out=strip)
        alpha[r0:r1] = strip
        fractional = (strip > 0.005) & (strip < 0.995)
        if fractional.any():
            corrected = np.clip(image[r0:r1].astype(np.int16) + up(colour.astype(np.float32)).astype(np.int16), 0, 255)
            out[r0:r1][fractional] = corrected.astype(np.uint8)[fractional]
    return alpha, out


def _remap_blocks(src: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """cv2.remap (bilinear, edges replicated) of any size: in blocks of columns, each from the
    part of ``src`` its map reaches (``map_x`` the same in every row, both maps increasing), so
    a panorama wider than SHRT_MAX works and the result is the same as one call's."""
    rows = slice(max(0, int(map_y[0, 0])), min(src.shape[0], int(map_y[-1, 0]) + 2))
    out = np.empty(map_x.shape + src.shape[2:], np.float32)
    for c0 in range(0, map_x.shape[1], REMAP_BLOCK):
        c1 = min(map_x.shape[1], c0 + REMAP_BLOCK)
        s0 = max(0, int(map_x[0, c0]))
        s1 = min(src.shape[1], int(map_x[0, c1 - 1]) + 2)
        out[:, c0:c1] = cv2.remap(src[rows, s0:s1], map_x[:, c0:c1] - s0, map_y[:, c0:c1] - rows.start,
                                  cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out


def _matte_full(image: np.ndarray, prob: np.ndarray, refine: RefineConfig | None) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form matting at the image's own size (see matte_photo)."""
    from pymatting import estimate_alpha_cf, estimate_foreground_ml

    h, w = image.shape[:2]
    # the edge-aware upsampling first, so that the trimap's band sits on the image's edges
    soft = Refiner(refine or RefineConfig(radius=6, sharpness=1.0, threshold=0.5))(prob, image)
    trimap = trimap_from_probability(soft)
    unknown = trimap == 0.5
    if not unknown.any():
        return (trimap > 0.5).astype(np.float32), image
    if not (trimap == 1.0).any() or not (trimap == 0.0).any():
        # no sure person (nobody there, or only a faint guess) or no sure background (the
        # person fills the photo): closed-form matting has nothing to anchor the solution to,
        # so the refined map is the alpha
        return np.clip(soft, 0.0, 1.0).astype(np.float32), image
    # solve only in the bounding box of the unknown band (plus a margin of known pixels)
    ys, xs = np.nonzero(unknown)
    margin = max(8, round(0.02 * min(h, w)))
    y0, y1 = max(0, ys.min() - margin), min(h, ys.max() + margin + 1)
    x0, x1 = max(0, xs.min() - margin), min(w, xs.max() + margin + 1)
    crop = image[y0:y1, x0:x1].astype(np.float64) / 255.0
    alpha_crop = estimate_alpha_cf(crop, trimap[y0:y1, x0:x1].astype(np.float64))
    alpha_crop = np.clip(alpha_crop, 0.0, 1.0)
    foreground = estimate_foreground_ml(crop, alpha_crop)
    alpha = trimap.copy()
    alpha[y0:y1, x0:x1] = alpha_crop
    out = image.copy()
    fractional = alpha_crop < 0.995  # opaque pixels keep the photo's own colour
    estimated = np.clip(foreground * 255.0 + 0.5, 0, 255).astype(np.uint8)
    out[y0:y1, x0:x1][fractional] = estimated[fractional]
    return alpha, out
