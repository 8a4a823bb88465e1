"""Fitting a background picture to the frame: cover (crop to the aspect), in RGB and YUV.
"""
from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from livebg.frames.yuv import crop_planes, frame_size, i420_planes
from livebg.frames.yuv import from_frame as i420_from_frame


def cover_rect(w: int, h: int, width: int, height: int, *, even: bool = False) -> tuple[int, int, int, int]:
    """(x, y, cw, ch): the centre of a w x h source with the aspect of width x height.
    ``even`` puts the corner and the size on even pixels, so that a YUV 4:2:0 frame's chroma
    planes can be cut at exactly the same place."""
    scale = max(width / w, height / h)
    cw, ch = min(w, max(1, round(width / scale))), min(h, max(1, round(height / scale)))
    x, y = (w - cw) // 2, (h - ch) // 2
    if even:
        x, y, cw, ch = x & ~1, y & ~1, max(2, cw & ~1), max(2, ch & ~1)
    return x, y, cw, ch


def fit_cover(image: np.ndarray, width: int, height: int, *, even: bool = False) -> np.ndarray:
    """Scale to fill width x height, keeping the aspect ratio, and crop the centre.

    The centre is cut from the source and scaled straight to the target (a crop of the
    scaled image would cost a strided copy of the whole frame, dearer than the resize itself)."""
    h, w = image.shape[:2]
    x, y, cw, ch = cover_rect(w, h, width, height, even=even)
    interp = cv2.INTER_AREA if cw > width else cv2.INTER_LINEAR
    return cv2.resize(image[y:y + ch, x:x + cw], (width, height), interpolation=interp)


class BackgroundFrame:
    """One decoded background-video frame, fitted (cover) to the output size on first use, as
    RGB or as yuv420p planes: the decoder thread only copies the small frame out, and a frame
    shown several times is scaled once. The YUV version scales the planes themselves (half the
    bytes of RGB, and no colour conversion either way)."""

    def __init__(self, frame, width: int, height: int):
        self.width, self.height = width, height
        self._yuv = None
        if frame.format.name == "yuv420p" and not (frame.width % 2 or frame.height % 2) \
                and not (width % 2 or height % 2):
            self._yuv = i420_from_frame(frame)
            self._small_rgb = None
        else:
            self._small_rgb = frame.to_ndarray(format="rgb24")
        self._rgb: np.ndarray | None = None
        self._i420: np.ndarray | None = None

    def rgb(self) -> np.ndarray:
        if self._rgb is None:
            small: Any = self._small_rgb if self._yuv is None else cv2.cvtColor(self._yuv, cv2.COLOR_YUV2RGB_I420)
            self._rgb = fit_cover(small, self.width, self.height, even=self._yuv is not None)
        return self._rgb

    def i420(self) -> np.ndarray:
        if self._i420 is None:
            if self._yuv is None:
                self._i420 = cv2.cvtColor(self.rgb(), cv2.COLOR_RGB2YUV_I420)
            else:
                self._i420 = fit_cover_i420(self._yuv, self.width, self.height)
        return self._i420


def fit_cover_i420(yuv: np.ndarray, width: int, height: int) -> np.ndarray:
    """fit_cover(..., even=True) for yuv420p planes ((H * 3 / 2) x W, FFmpeg's layout): the same
    source rectangle cut from each plane and scaled to the target's planes."""
    h, w = frame_size(yuv)
    x0, y0, cw, ch = cover_rect(w, h, width, height, even=True)
    out = np.empty((height * 3 // 2, width), np.uint8)
    interp = cv2.INTER_AREA if cw > width else cv2.INTER_LINEAR
    for part, dst in zip(crop_planes(yuv, (x0, y0, x0 + cw, y0 + ch)), i420_planes(out)):
        cv2.resize(part, (dst.shape[1], dst.shape[0]), dst=dst, interpolation=interp)
    return out
