"""The blend for file jobs that stay YUV 4:2:0 from decoder to encoder.
"""
from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np

from livebg.composite.base import Background
from livebg.frames.frame import LumaCoefficients
from livebg.frames.yuv import frame_size, i420_planes


class I420Compositor:
    """The blend for file jobs whose frames arrive and leave as YUV 4:2:0 (H.264 in and out).

    Takes the decoder's planes and the low-resolution coefficients from
    ``Matter.luma_coefficients`` and returns the encoder's planes; upsampling the matte, the
    blend and the colour conversion are one compiled pass (``kernels.blend_i420``) that does
    arithmetic only on the soft edge. Luma equals ``Compositor`` followed by OpenCV's RGB -> I420
    conversion to within rounding; chroma too, except on 2x2 blocks across a sharp edge, where
    this takes the block's mean alpha and OpenCV the top-left pixel's colour
    (tests/composite/test_i420.py). Backgrounds made from the frame (blur, gray) are made from its
    planes here: a fifth of a level from the RGB background's conversion on average.
    """

    def __init__(self, background: Background):
        from livebg.composite.kernels import blend_i420, linear_axis

        self.background = background
        self._kernel = blend_i420
        self._axis = linear_axis
        self._axes: dict = {}
        self._bg: tuple[np.ndarray, np.ndarray] | None = None  # last RGB background and its planes
        self.mixed_blocks = 0
        # compile (or load from numba's cache) now, at startup, not on the first frame
        tiny = np.zeros((6, 4), np.uint8)
        coef = np.zeros((2, 2), np.float32)
        self._kernel(*self.planes(tiny), *self.planes(tiny), *self.planes(tiny), coef, coef, *linear_axis(4, 2),
                     *linear_axis(4, 2), *self.planes(tiny.copy()))

    planes = staticmethod(i420_planes)

    def _background_planes(self, bg: np.ndarray) -> np.ndarray:
        # a still background (image, colour, a video frame shown twice) is converted once
        if self._bg is None or self._bg[0] is not bg:
            self._bg = (bg, cv2.cvtColor(bg, cv2.COLOR_RGB2YUV_I420))
        return self._bg[1]

    def __call__(self, frame: np.ndarray | None, yuv: np.ndarray, coefficients: LumaCoefficients,
                 t: Fraction, foreground: np.ndarray | None = None) -> np.ndarray:
        """RGB frame (for backgrounds made from it; None: made from ``yuv`` when one needs it) +
        its planes + (A, B) -> output planes. ``foreground``: planes like ``yuv``'s of the colour
        to blend where alpha is above 0 (a matting model's estimate of the foreground's own
        colour at the edge, ``matte.foreground.model_foreground_i420``); None: the frame's."""
        h, w = frame_size(yuv)
        if foreground is not None and foreground.shape != yuv.shape:
            raise ValueError(f"foreground planes must have the frame's shape {yuv.shape}, got {foreground.shape}")
        bg_yuv = None
        # video, blur, gray: planes made without passing through RGB
        bg_yuv = self.background.i420_at(t, yuv)
        if bg_yuv is None:
            if frame is None:
                if self.background.uses_frame:
                    frame = cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420)
                else:  # colours, images, videos and ``none`` only look at the frame's shape
                    frame = np.broadcast_to(np.zeros((), np.uint8), (h, w, 3))
            bg = self.background.frame_at(t, frame)
            if bg is None:
                raise ValueError("I420Compositor cannot make transparent output: use Compositor")
            bg_yuv = yuv if bg is frame else self._background_planes(bg)
        a, b = coefficients
        key = (h, w, a.shape)
        if key not in self._axes:
            self._axes[key] = (*self._axis(w, a.shape[1]), *self._axis(h, a.shape[0]))
        # the background ``none`` is the frame itself: nothing to take out of its edge
        colour = yuv if foreground is None or bg_yuv is yuv else foreground
        out = np.empty_like(yuv)
        self.mixed_blocks += self._kernel(*self.planes(yuv), *self.planes(colour), *self.planes(bg_yuv), a, b,
                                          *self._axes[key], *self.planes(out))
        return out
