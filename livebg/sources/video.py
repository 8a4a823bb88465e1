"""Video file source: PyAV decoding (FFmpeg, multithreaded), frames in presentation order."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

import av

from livebg.errors import InputError
from livebg.frames import yuv as i420
from livebg.frames.frame import Frame
from livebg.frames.orientation import Orientation, from_display_matrix
from livebg.sources.base import FrameSource


@dataclass(frozen=True)
class FrameRange:
    """A part of a video for a job to write: frames ``start`` to ``stop`` (exclusive, indices in
    presentation order, as a whole run numbers them). The ``preroll`` frames before ``start``
    go through the model and the matte, warming their state (a recurrent model's, the
    smoothing, the look-ahead), and are not written. Decoding begins at the key frame
    ``seek_index`` (its pts ``seek_pts``), at or before ``start - preroll``; ``livebg batch``
    finds those by probing the packets (``livebg.batch.plan``)."""
    start: int
    stop: int
    preroll: int = 0
    seek_index: int = 0
    seek_pts: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.seek_index <= self.start - self.preroll or self.preroll < 0 or self.stop <= self.start:
            raise ValueError(f"bad frame range {self}: need 0 <= seek_index <= start - preroll and start < stop")

    @property
    def first(self) -> int:
        """The first frame decoded for the model (the pre-roll's first)."""
        return self.start - self.preroll


class VideoFileSource(FrameSource):
    """A video file's frames in presentation order, upright, with exact timestamps.

    Damage does not cost the frames before it: a file cut off (or unreadable from some point)
    ends the frames there and ``stopped`` says why; frames the decoder made from damaged data
    are given (as players show them) and listed in ``damaged`` as (first, last) index ranges.
    With ``strict`` either raises InputError instead."""

    own_rate = seekable = True  # capabilities (FrameSource): the file's own rate; restrict()

    def __init__(self, path: str | Path, *, strict: bool = False):
        self.path = Path(path)
        self.name = str(path)
        self.strict = strict
        self.stopped = ""  # why the frames ended before the file's end ("": they did not)
        self.damaged: list[tuple[int, int]] = []
        if not self.path.is_file():
            raise InputError(f"input not found: {path} — check the path")
        try:
            self._container = av.open(str(self.path))
        except av.FFmpegError as exc:
            raise InputError(f"{path} is not a video FFmpeg can read ({_reason(exc)}): check that the file is complete and is a video") from None
        if not self._container.streams.video:
            self._container.close()
            raise InputError(f"{path} has no video stream: give a video file")
        self._stream = stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        self.stored_width = stream.codec_context.width
        self.stored_height = stream.codec_context.height
        if not self.stored_width or not self.stored_height:
            self._container.close()
            raise InputError(f"{path}: the video stream has no frame size; the file is corrupt or truncated")
        # phone videos: stored sideways, with the rotation in a display matrix
        self.orientation = _orientation(self.path)
        self.width, self.height = self.orientation.size(self.stored_width, self.stored_height)
        self.rate = Fraction(stream.average_rate or stream.guessed_rate or 30)
        # FFmpeg's guess of the lowest rate that represents every timestamp (r_frame_rate): above
        # the average for variable-rate video. Outputs that count frames (AVI) tick at it.
        self.base_rate = Fraction(stream.base_rate or self.rate)
        self.time_base = Fraction(stream.time_base or Fraction(1, 90000))
        self.frame_count = int(stream.frames or 0)
        self.duration: Fraction | None
        if stream.duration:
            self.duration = stream.duration * self.time_base
        elif self._container.duration:
            self.duration = Fraction(self._container.duration, 1_000_000)
        else:
            self.duration = None
        self.has_audio = bool(self._container.streams.audio)
        # 4:2:0 at an even size: the frames keep their planes (Frame.yuv), RGB only when asked for
        self.gives_yuv = (stream.codec_context.pix_fmt == "yuv420p" and not (self.width % 2 or self.height % 2)
                          and self.orientation.upright)
        # MP4/MOV list every sample in an index, so a packet count below it means a cut-off file
        self._indexed = "mov" in self._container.format.name.split(",")
        self.start_pts: int | None = None
        self.range: FrameRange | None = None
        self._end: int | None = None  # the index decoding stops at (a range's stop and its tail)

    def stored_size(self) -> tuple[int, int]:
        return self.stored_width, self.stored_height

    def restrict(self, frames: FrameRange, *, tail: int = 0) -> None:
        """Give only ``frames``: from its pre-roll to ``tail`` frames past its stop (what a
        look-ahead reads beyond the last frame written), indexed as a whole run indexes them.
        Frame times stay relative to the video's first frame, so backgrounds pair as in a
        whole run."""
        self.range = frames
        self._end = frames.stop + tail
        if frames.seek_index:
            # the first frame's pts: what a whole run counts frame times from
            first = self._container.decode(self._stream)
            try:
                self.start_pts = next(iter(first)).pts
            except (StopIteration, av.FFmpegError) as exc:
                raise InputError(f"{self.path}: cannot decode its first frame ({exc}): check the file") from None
            self._container.seek(frames.seek_pts if frames.seek_pts is not None else 0, stream=self._stream,
                                 backward=True, any_frame=False)
        self.frame_count = frames.stop - frames.start

    def __iter__(self) -> Iterator[Frame]:
        self._index = self.range.seek_index if self.range else 0
        self._in_damage = False
        packets = 0
        try:
            # Demux and decode separately: with frame threading FFmpeg's decoder drops a cut-off
            # last packet silently, so truncation shows only in the packets (flagged corrupt,
            # or fewer than the MP4/MOV index lists).
            for packet in self._container.demux(self._stream):
                if packet.is_corrupt:
                    # the frames the decoder still holds (its threads work a few frames behind)
                    # are intact: they come out first
                    yield from self._frames(self._stream.decode(None))
                    self._stop(f"packet {packets} is damaged (after {self._index} frames)")
                    return
                packets += packet.size > 0
                yield from self._frames(packet.decode())
                if self._end is not None and self._index >= self._end:
                    return
        except av.FFmpegError as exc:
            if self._index == 0:
                raise InputError(f"{self.path} is corrupt: decoding failed at the first frame ({_reason(exc)}): "
                                 "use a complete copy of the file, or re-encode it") from None
            self._stop(f"decoding failed after {self._index} frames ({_reason(exc)})")
            return
        if self.range is None and self._indexed and self._index and packets < self.frame_count:
            self._stop(f"its index lists {self.frame_count} frames but the file holds {packets}")
            return
        if self._index == 0:
            raise InputError(f"{self.path} has no video frames: give a video that has at least one frame")

    def _frames(self, decoded) -> Iterator[Frame]:
        """Frames from the decoder, upright, with their planes when they stay YUV; noting damage."""
        frame_step = max(1, round(1 / (self.rate * self.time_base)))
        for frame in decoded:
            index = self._index
            if self._end is not None and index >= self._end:
                return
            if self.range is not None and index == self.range.seek_index and self.range.seek_pts is not None \
                    and frame.pts != self.range.seek_pts:
                raise InputError(f"{self.path}: decoding from key frame {index} gave pts {frame.pts}, not "
                                 f"{self.range.seek_pts}: the file cannot be cut there; process it whole (livebg video)")
            # A frame the decoder flags corrupt spoils the frames that refer to it, up to the
            # next intact key frame
            if frame.is_corrupt:
                if self.strict:
                    raise InputError(f"{self.path} is damaged: frame {index} decodes with errors "
                                     f"(--strict): use a complete copy of the file, or drop --strict")
                if not self._in_damage:
                    self.damaged.append((index, index))
                self._in_damage = True
            elif frame.key_frame:
                self._in_damage = False
            if self._in_damage:
                self.damaged[-1] = (self.damaged[-1][0], index)
            pts = frame.pts if frame.pts is not None else (self.start_pts or 0) + index * frame_step
            if self.start_pts is None:
                self.start_pts = pts
            if self.range is not None and index < self.range.first:  # decoded on the way to the pre-roll
                self._index += 1
                continue
            if not self.orientation.upright:
                yuv, image = None, self.orientation.apply(frame.to_ndarray(format="rgb24"))
            elif frame.format.name == "yuv420p" and not (frame.width % 2 or frame.height % 2):
                # RGB only if asked for (Frame.rgb: OpenCV's conversion, faster than swscale's,
                # same BT.601 result); the model reads the planes
                yuv, image = i420.from_frame(frame), None
            else:
                yuv, image = None, frame.to_ndarray(format="rgb24")
            yield Frame(index, pts, (pts - self.start_pts) * self.time_base, image, yuv=yuv)
            self._index += 1

    def _stop(self, reason: str) -> None:
        """The frames end here: raise (no frame yet, or --strict), else note why."""
        message = f"{self.path} is truncated or corrupt: {reason}"
        if self.strict or self.start_pts is None:
            raise InputError(f"{message}: use a complete copy of the file, or re-encode it")
        self.stopped = reason

    def close(self) -> None:
        self._container.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def _orientation(path: Path) -> Orientation:
    """The display orientation of the first video frame (its display matrix), upright when the
    file has none or cannot be decoded here (decoding errors are reported by __iter__)."""
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                side: Any = frame.side_data  # iterates SideData objects (the stubs say keys)
                for data in side:
                    if str(data.type).endswith("DISPLAYMATRIX"):
                        return from_display_matrix(bytes(data))
                return Orientation()
    except (av.FFmpegError, OSError):
        pass
    return Orientation()
