"""The base class every file source implements (Frame itself lives in frames/frame.py).
"""
from __future__ import annotations

import abc
from fractions import Fraction
from typing import TYPE_CHECKING, Iterator, Sequence

from livebg.frames.frame import Frame
from livebg.frames.orientation import Orientation

if TYPE_CHECKING:
    from livebg.sources.video import FrameRange


class FrameSource(abc.ABC):
    """Frames in presentation order with exact timestamps, for a file job.

    A source must set ``name``, ``width``, ``height`` (as the frames come: upright), ``rate``
    (the average frame rate), ``base_rate`` (the rate every timestamp falls on: r_frame_rate,
    = rate for constant-rate input) and ``time_base``, and implement ``__iter__``. Everything
    else is an optional capability with a default for a source that has none of it, so a job
    asks the source, never its type:

    - ``frame_count`` (0: unknown), ``duration`` (None: unknown), ``has_audio``;
    - ``gives_yuv``: frames come with their yuv420p planes (Frame.yuv), the YUV chain's input;
    - ``own_rate``: the rate is the file's own (a video), not the one given for a sequence;
    - ``orientation`` and ``stored_size()``: how the stored picture is turned for display (a
      phone video), and its size as stored;
    - ``seekable`` and ``restrict()``: only a range of the frames (a ``livebg batch`` chunk);
    - ``damaged`` (index ranges of frames decoded from damaged data) and ``stopped`` (why the
      frames ended before the file did; "" when they did not);
    - ``close()``: release the file; safe to call twice.
    """

    name: str
    width: int
    height: int
    rate: Fraction
    base_rate: Fraction
    time_base: Fraction
    frame_count: int = 0
    duration: Fraction | None = None
    has_audio: bool = False
    gives_yuv: bool = False
    own_rate: bool = False
    orientation: Orientation = Orientation()
    seekable: bool = False
    damaged: Sequence[tuple[int, int]] = ()
    stopped: str = ""

    @abc.abstractmethod
    def __iter__(self) -> Iterator[Frame]: ...

    def stored_size(self) -> tuple[int, int]:
        """(width, height) of the picture as stored, before ``orientation`` turns it."""
        return self.width, self.height

    def restrict(self, frames: FrameRange, *, tail: int = 0) -> None:
        """Give only ``frames`` (and ``tail`` frames past its stop); for ``seekable`` sources."""
        raise NotImplementedError(f"{type(self).__name__} cannot give a range of its frames (it is not seekable)")

    def close(self) -> None:
        """Release what the source holds."""
