"""The frame type and the protocol every source follows."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator, Protocol

import cv2
import numpy as np

from ..i420 import frame_size


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
        return self.image.shape[0] if self.image is not None else frame_size(self.yuv)[0]

    def rgb(self) -> np.ndarray:
        """The RGB frame, converted from ``yuv`` on first use (OpenCV's BT.601 conversion)."""
        if self.image is None:
            self.image = cv2.cvtColor(self.yuv, cv2.COLOR_YUV2RGB_I420)
        return self.image


class FrameSource(Protocol):
    name: str
    width: int
    height: int
    rate: Fraction  # average frame rate
    base_rate: Fraction  # the rate every timestamp falls on (r_frame_rate; = rate for constant-rate input)
    time_base: Fraction
    frame_count: int  # 0 when unknown
    duration: Fraction | None
    has_audio: bool

    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...
