"""Photo matting (``livebg image --matting``): closed-form matting (pymatting's matting
Laplacian) in the soft band of livebg's own alpha, held to that alpha by a prior, and pymatting's
multilevel estimate of the foreground's colour there.

The first version solved closed-form matting on a trimap cut from the model's probability (sure
above 0.9, below 0.1, shrunk by 1.2 % of the short side): the solution replaced a matting model's
alpha in a band 10-15 px wide, and was worse than the plain output on every labelled set
(docs/quality.md, "Photo matting"). Now the plain alpha (the Refiner's, from the full-size
photo) is the starting point: the band is where it is fractional, widened by PRIOR_BAND px, and
the solve minimises  a^T L a + PRIOR_WEIGHT * |a - plain|^2  there, the pixels outside fixed at the
plain alpha's values. The Laplacian moves the soft edge onto the photo's own colour edges; the
prior keeps it from wandering where the colours say little (a matting model knows the person
better than the colours of a few pixels do).
"""
from __future__ import annotations

import cv2
import numpy as np

# the soft band: the plain alpha strictly between these, widened by PRIOR_BAND px
SOFT_LOW = 0.02
SOFT_HIGH = 0.98
PRIOR_BAND = 2
# the prior's weight against the matting Laplacian (docs/quality.md, "Photo matting": 0.003-3
# measured on every labelled set; at 3 the solve hardly moves the alpha, below 0.3 it softens the
# band beyond what the labelled outlines show and lowers boundary F)
PRIOR_WEIGHT = 0.3
LAPLACIAN_EPSILON = 1e-7  # pymatting's default regulariser of the colour model


def soft_band(alpha: np.ndarray, *, low: float = SOFT_LOW, high: float = SOFT_HIGH,
              band: int = PRIOR_BAND) -> np.ndarray:
    """bool mask: where ``alpha`` is fractional, widened by ``band`` px each side."""
    soft = ((alpha > low) & (alpha < high)).astype(np.uint8)
    if band > 0:
        soft = cv2.dilate(soft, np.ones((2 * band + 1, 2 * band + 1), np.uint8))
    return soft > 0


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


# The matting's cost grows with the band's pixels and the foreground estimate's with its box (at
# full size a large photo is very slow and can run out of memory): above this many pixels both
# run at this working size, and what they changed is brought to full size a strip of rows at a time.
MATTING_PIXELS = 1_000_000
STRIP_ROWS = 512
REMAP_BLOCK = 16384  # cv2.remap takes images and maps under 32767 (SHRT_MAX) pixels a side


def matte_photo(image: np.ndarray, alpha: np.ndarray, *,
                max_pixels: int = MATTING_PIXELS) -> tuple[np.ndarray, np.ndarray]:
    """RGB uint8 image + its plain alpha (float32, the image's size) -> (the matted alpha,
    float32; the image with the foreground colour re-estimated where the alpha is fractional,
    so the old background does not bleed into the new one).

    Photos above ``max_pixels`` are matted at that size: what matting changed there (the alpha's
    correction and the colour's) is brought to full size and added to the full-size plain alpha
    and picture, so memory stays bounded by a few copies of the photo itself."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise TypeError(f"image must be RGB uint8 HxWx3, got {image.dtype} {image.shape}")
    if alpha.shape != image.shape[:2]:
        raise ValueError(f"alpha must be the image's size {image.shape[:2]}, got {alpha.shape}")
    alpha = np.clip(alpha, 0.0, 1.0).astype(np.float32)
    h, w = image.shape[:2]
    scale = min(1.0, (max_pixels / (h * w)) ** 0.5)
    if scale >= 1.0:
        return _matte_full(image, alpha)
    small_size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(image, small_size, interpolation=cv2.INTER_AREA)
    alpha_small = cv2.resize(alpha, small_size, interpolation=cv2.INTER_AREA)
    matted_small, fg_small = _matte_full(small, alpha_small)
    correction = matted_small - alpha_small
    colour = (fg_small.astype(np.int16) - small.astype(np.int16)).astype(np.float32)  # the foreground correction
    out = image.copy()
    matted = np.empty((h, w), np.float32)
    map_x = ((np.arange(w, dtype=np.float32) + 0.5) * (small_size[0] / w) - 0.5)[None, :]
    for r0 in range(0, h, STRIP_ROWS):
        r1 = min(h, r0 + STRIP_ROWS)
        ys = ((np.arange(r0, r1, dtype=np.float32) + 0.5) * (small_size[1] / h) - 0.5)[:, None]
        mx = np.broadcast_to(map_x, (r1 - r0, w)).astype(np.float32)
        my = np.broadcast_to(ys, (r1 - r0, w)).astype(np.float32)
        strip = alpha[r0:r1] + _remap_blocks(correction, mx, my)
        np.clip(strip, 0.0, 1.0, out=strip)
        matted[r0:r1] = strip
        fractional = (strip > 0.005) & (strip < 0.995)
        if fractional.any():
            corrected = np.clip(image[r0:r1].astype(np.int16) + _remap_blocks(colour, mx, my).astype(np.int16), 0, 255)
            out[r0:r1][fractional] = corrected.astype(np.uint8)[fractional]
    return matted, out


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


def _matte_full(image: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The matting at the image's own size (see the module's docstring and matte_photo)."""
    import scipy.sparse
    from pymatting import cf_laplacian, cg, estimate_foreground_ml, ichol

    band = soft_band(alpha)
    if not band.any():
        return alpha, image  # a hard mask (nobody, or a cut-out with no soft edge): nothing to solve
    # solve only in the band's bounding box (plus a margin of fixed pixels)
    h, w = alpha.shape
    ys, xs = np.nonzero(band)
    margin = PRIOR_BAND + 2
    y0, y1 = max(0, ys.min() - margin), min(h, ys.max() + margin + 1)
    x0, x1 = max(0, xs.min() - margin), min(w, xs.max() + margin + 1)
    crop = image[y0:y1, x0:x1].astype(np.float64) / 255.0
    prior = alpha[y0:y1, x0:x1].astype(np.float64).ravel()
    unknown = band[y0:y1, x0:x1].ravel()
    known = ~unknown
    laplacian = cf_laplacian(crop, epsilon=LAPLACIAN_EPSILON, is_known=known.reshape(y1 - y0, x1 - x0))
    rows = laplacian[unknown]
    system = (rows[:, unknown] + PRIOR_WEIGHT * scipy.sparse.identity(int(unknown.sum()), format="csr")).tocsr()
    rhs = PRIOR_WEIGHT * prior[unknown] - rows[:, known].dot(prior[known])
    solved = prior.copy()
    solved[unknown] = cg(system, rhs, M=ichol(system))
    alpha_crop = np.clip(solved, 0.0, 1.0).reshape(y1 - y0, x1 - x0)
    matted = alpha.copy()
    matted[y0:y1, x0:x1] = alpha_crop
    foreground = estimate_foreground_ml(crop, alpha_crop)
    out = image.copy()
    fractional = (alpha_crop > 0.005) & (alpha_crop < 0.995)  # opaque pixels keep the photo's own colour
    estimated = np.clip(foreground * 255.0 + 0.5, 0, 255).astype(np.uint8)
    out[y0:y1, x0:x1][fractional] = estimated[fractional]
    return matted, out
