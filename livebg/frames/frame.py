"""What passes between stages: the Frame (pixels as RGB or yuv420p, timestamp, index), the
matte of a YUV frame as LumaCoefficients, and a matting model's ForegroundEstimate.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

import cv2
import numpy as np

from livebg.frames.yuv import frame_size


@dataclass
class Frame:
    index: int
    pts: int  # in the source's time_base
    time: Fraction  # seconds since the source's first frame
    # RGB uint8, HxWx3; None for a frame that came as ``yuv`` until ``rgb()`` converts it (the
    # file jobs' YUV path never needs the full-size RGB frame)
    image: np.ndarray | None
    captured_at: float = 0.0  # time.perf_counter() when captured (live sources)
    # the decoder's own YUV 4:2:0 planes, (H * 3 / 2) x W as FFmpeg lays out yuv420p, when the
    # source has them (file jobs blend and encode in this layout without converting back)
    yuv: np.ndarray | None = None

    @property
    def height(self) -> int:
        return self.image.shape[0] if self.image is not None else frame_size(self.i420())[0]

    def rgb(self) -> np.ndarray:
        """The RGB frame, converted from ``yuv`` on first use (OpenCV's BT.601 conversion)."""
        if self.image is None:
            self.image = cv2.cvtColor(self.yuv, cv2.COLOR_YUV2RGB_I420)
        return self.image

    def i420(self) -> np.ndarray:
        """The yuv420p planes, converted from ``image`` on first use (a source that gives planes
        for most frames may give one as RGB: it joins the YUV chain here)."""
        if self.yuv is None:
            self.yuv = cv2.cvtColor(self.image, cv2.COLOR_RGB2YUV_I420)
        return self.yuv


class LumaCoefficients(NamedTuple):
    """The matte of a YUV frame, left at low resolution: alpha = clip(a * Y + b, 0, 1), with Y
    the limited-range (16..235) luma plane and (a, b) upsampled bilinearly to its size."""
    a: np.ndarray
    b: np.ndarray


class ForegroundEstimate(NamedTuple):
    """A matting model's own estimate of the foreground's colour, with its alpha, both at the
    size the model saw the frame (RVM's ``fgr`` and ``pha``). Carried from the segment stage
    to the composite stage beside the frame, so that the soft edge is blended with the
    foreground's colour rather than the frame's mix of it with the old background
    (``matte.foreground.model_foreground``)."""
    colour: np.ndarray  # RGB float32 h x w x 3 in [0, 1]
    alpha: np.ndarray  # float32 h x w in [0, 1]


# Where the model's alpha stays at or below EXTENT_LEVEL, the frame keeps its own colour: that is
# the background, which livebg's matte hides. Only the box around the rest, EXTENT_PAD model px
# wider (the bilinear resize's reach, and livebg's refinement spreading the edge a little), is
# blended (matte.foreground): on a seated speaker about half the frame, on a dancer a fifth
# (docs/speed.md). Here, below both stages, because the model's side (segment.rvm.colour)
# fills the frame's own colour that far around the box it ran on.
EXTENT_LEVEL = 0.01
EXTENT_PAD = 8
