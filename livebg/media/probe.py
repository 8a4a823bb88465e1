"""What a video is, read from its container once: stored and displayed size, frame rate,
frame count, duration, orientation and audio. The default frame rate is decided here.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from livebg.frames.orientation import Orientation, from_display_matrix

# The rate of a video that states none, and of image sequences and photos without --fps: a
# camera's and most phones' rate, and what every default in livebg assumed. (FFmpeg's own
# guess is 25; a stream that has no rate of its own gets it as guessed_rate already.)
DEFAULT_RATE = Fraction(30)
DEFAULT_FPS = float(DEFAULT_RATE)


def frame_rate(stream: Any) -> Fraction:
    """A video stream's average rate, else FFmpeg's guess, else DEFAULT_RATE."""
    return Fraction(stream.average_rate or stream.guessed_rate or DEFAULT_RATE)


def duration(container: Any, stream: Any) -> Fraction | None:
    """The stream's duration in seconds, else the container's; None when neither says."""
    if stream.duration and stream.time_base:
        return stream.duration * Fraction(stream.time_base)
    if container.duration:
        return Fraction(container.duration, 1_000_000)
    return None


def orientation_of(frame: Any) -> Orientation:
    """How a decoded frame is shown (phone videos: stored sideways, turned by a display matrix)."""
    side: Any = frame.side_data  # iterates SideData objects (the stubs say keys)
    for data in side:
        if str(data.type).endswith("DISPLAYMATRIX"):
            return from_display_matrix(bytes(data))
    return Orientation()


@dataclass(frozen=True)
class VideoProbe:
    """A video stream as its container describes it (no frame decoded but the first, when given)."""
    stored_width: int
    stored_height: int
    orientation: Orientation  # from the first frame; upright when none was decoded
    rate: Fraction  # average frame rate
    base_rate: Fraction  # the rate every timestamp falls on (r_frame_rate): above ``rate`` for variable-rate video
    time_base: Fraction
    frame_count: int  # as the container lists it; 0 when unknown
    duration: Fraction | None
    has_audio: bool
    pix_fmt: str | None
    format_names: tuple[str, ...]  # the demuxer's names ("mov", "mp4", …)

    @property
    def width(self) -> int:
        """The displayed width (the stored one, turned by the orientation)."""
        return self.orientation.size(self.stored_width, self.stored_height)[0]

    @property
    def height(self) -> int:
        return self.orientation.size(self.stored_width, self.stored_height)[1]


def probe_video(container: Any, stream: Any, first_frame: Any = None) -> VideoProbe:
    """Read ``stream`` of ``container``; ``first_frame``, its first decoded frame, gives the orientation."""
    rate = frame_rate(stream)
    codec = stream.codec_context
    return VideoProbe(
        stored_width=codec.width, stored_height=codec.height,
        orientation=orientation_of(first_frame) if first_frame is not None else Orientation(),
        rate=rate, base_rate=Fraction(stream.base_rate or rate),
        time_base=Fraction(stream.time_base or Fraction(1, 90000)),
        frame_count=int(stream.frames or 0), duration=duration(container, stream),
        has_audio=bool(container.streams.audio), pix_fmt=codec.pix_fmt,
        format_names=tuple(container.format.name.split(",")))
