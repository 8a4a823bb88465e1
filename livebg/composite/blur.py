"""The blurred frame as the background (`--bg blur`, `blur:STRENGTH`).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from livebg.composite.base import Background
from livebg.config import DEFAULT_BLUR
from livebg.frames.resize import shrink
from livebg.frames.yuv import frame_size, i420_planes


class BlurBackground(Background):
    """The frame itself, blurred: at an eighth of its size for the default strength (the result
    is smooth anyway; see ``blur_factor``). File jobs whose frames stay YUV blur the planes
    themselves (``i420_at``): the same picture, without converting the frame to RGB and back."""

    uses_frame = True  # made from the frame's pixels
    transparent = False
    kind = "blur"

    def __init__(self, strength: int = DEFAULT_BLUR):
        self.strength = strength

    def frame_at(self, t, frame):
        factor = blur_factor(self.strength, frame.shape[:2])
        return np.ascontiguousarray(blur_at(frame, factor, self.strength / factor))

    def i420_at(self, t, yuv):
        """The blurred frame as yuv420p planes, made from the frame's planes: chroma, at half
        size already, is shrunk half as much, onto the same grid as luma, and blurred alike."""
        h, w = frame_size(yuv)
        factor = blur_factor(self.strength, (h, w))
        sigma = self.strength / factor
        out = np.empty_like(yuv)
        y, u, v = i420_planes(out)
        src_y, src_u, src_v = i420_planes(yuv)
        y[:] = blur_at(src_y, factor, sigma)
        if factor == 1:  # chroma at its own size, sigma in its (twice as large) pixels
            sigma /= 2
        else:
            factor //= 2
        u[:] = blur_at(src_u, factor, sigma)
        v[:] = blur_at(src_v, factor, sigma)
        return out



def blur_factor(strength: float, shape: tuple[int, int]) -> int:
    """How much smaller than the frame a blur of ``strength`` pixels is done: the largest of 8, 4,
    2 that leaves a sigma of 2 pixels or more and 16 pixels or more on the short side (1: none).
    Blurring an eighth-size copy costs a small fraction of the full-size blur."""
    for factor in (8, 4, 2):
        if strength / factor >= 2 and min(shape) / factor >= 16:
            return factor
    return 1


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """``cv2.GaussianBlur`` of a uint8 image (borders reflected), computed in float32 and
    rounded back. For uint8 OpenCV takes a bit-exact fixed-point path; on a small image, such as
    the 120x76 copy the default blur works on, this float32 route is faster (for small images
    only: at full size the conversions cost more than they save). The kernel is the one OpenCV sizes for
    uint8 (3 sigma each side; float32 would get 4)."""
    size = round(sigma * 6 + 1) | 1
    blurred = cv2.GaussianBlur(image.astype(np.float32), (size, size), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)
    return cv2.convertScaleAbs(blurred)


def blur_at(image: np.ndarray, factor: int, sigma: float) -> np.ndarray:
    """``image`` Gaussian-blurred by ``sigma`` pixels of a copy ``factor`` times smaller: shrunk by
    averaging ``factor`` x ``factor`` blocks (``resize.shrink``, OpenCV's fast 2x steps), blurred,
    scaled back and cut to size. Each small pixel is centred on its block, where the bilinear
    scaling back puts it: nothing shifts. May return a view (not contiguous) of a larger array.

    A side that ends inside a block is first mirrored out beyond the blur's reach (3 sigma, in
    whole blocks): mirroring the small copy at its own edge would mirror about the block's edge,
    past the frame's, and weigh the last rows several times over."""
    sigma = max(0.5, sigma)
    if factor == 1:  # full size: here OpenCV's own uint8 path is the faster one
        return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)
    h, w = image.shape[:2]
    reach = factor * math.ceil(3 * sigma)
    pad_h = -h % factor + reach if h % factor else 0
    pad_w = -w % factor + reach if w % factor else 0
    if pad_h or pad_w:
        image = cv2.copyMakeBorder(image, 0, pad_h, 0, pad_w, cv2.BORDER_REFLECT)
    small = gaussian_blur(shrink(image, factor), sigma)
    # scale back only the small pixels the frame's own pixels interpolate between
    small = small[:-(-h // factor) + 1, :-(-w // factor) + 1]
    return cv2.resize(small, (small.shape[1] * factor, small.shape[0] * factor),
                      interpolation=cv2.INTER_LINEAR)[:h, :w]
