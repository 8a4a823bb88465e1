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
    """True when pymatting's compiled code is cached. numba compiles it on the first use (about
    40 s on 2 cores, against 2-5 s a photo after) and caches it beside the package, or under
    NUMBA_CACHE_DIR when that is set."""
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


def matte_photo(image: np.ndarray, prob: np.ndarray, *, refine: RefineConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form matting for one photo: RGB uint8 image + probability map (any size) ->
    (float32 alpha at image size, RGB uint8 image with the foreground colour re-estimated
    where alpha is fractional, so the old background does not bleed into the new one)."""
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
