"""The protocol every file source follows (Frame itself lives in frames/frame.py).
"""
from __future__ import annotations

from fractions import Fraction
from typing import Iterator, Protocol

from livebg.frames.frame import Frame


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
    gives_yuv: bool  # frames come with their yuv420p planes (Frame.yuv), the YUV chain's input

    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...
