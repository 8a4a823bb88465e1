"""Backgrounds that need no file: a solid colour, the grey frame, the original, transparency.
"""
from __future__ import annotations

import cv2
import numpy as np

from livebg.composite.base import Background
from livebg.frames.yuv import frame_size


class ColorBackground(Background):
    uses_frame = False  # only the frame's shape
    transparent = False

    def __init__(self, rgb: tuple[int, int, int], kind: str):
        self.rgb = rgb
        self.kind = kind
        self._canvas: np.ndarray | None = None

    def frame_at(self, t, frame):
        if self._canvas is None or self._canvas.shape != frame.shape:
            self._canvas = np.empty_like(frame)
            self._canvas[:] = self.rgb
        return self._canvas



class GrayBackground(Background):
    uses_frame = True  # made from the frame's pixels
    transparent = False
    kind = "gray"

    def frame_at(self, t, frame):
        return cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)

    def i420_at(self, t, yuv):
        """The grey frame as yuv420p planes: the frame's own luma, neutral chroma."""
        h, _ = frame_size(yuv)
        out = np.empty_like(yuv)
        out[:h] = yuv[:h]
        out[h:] = 128
        return out



class OriginalBackground(Background):
    """``none``: keep the frame as it is (useful with --alpha-out)."""

    uses_frame = False  # the frame itself: the YUV blend takes the planes as they are
    transparent = False
    kind = "none"

    def frame_at(self, t, frame):
        return frame



class TransparentBackground(Background):
    uses_frame = False  # only the frame's shape
    transparent = True
    kind = "transparent"

    def frame_at(self, t, frame):
        return None

