"""Video file source: PyAV decoding (FFmpeg, multithreaded), frames in presentation order."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

import av

from livebg.errors import InputError, reason
from livebg.frames import yuv as i420
from livebg.frames.frame import Frame
from livebg.media.container import open_media, video_stream
from livebg.media.probe import probe_video
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
        self._container = open_media(self.path, name=str(path))
        self._stream = stream = video_stream(self._container, name=str(path))
        stream.thread_type = "AUTO"
        if not stream.codec_context.width or not stream.codec_context.height:
            self._container.close()
            raise InputError(f"{path}: the video stream has no frame size; the file is corrupt or truncated")
        # the first frame is decoded here, once: its display matrix says how the video is turned
        # (phone videos are stored sideways); __iter__ gives it and the packets before it again
        self._packets = self._container.demux(stream)
        self._ahead: list[tuple[Any, list | None]] = []  # (packet, its frames; None: not decoded)
        self._ahead_error: Exception | None = None  # what stopped the reading ahead, raised by __iter__
        self._first = self._read_ahead()
        self.probe = info = probe_video(self._container, stream, self._first)
        self.stored_width, self.stored_height = info.stored_width, info.stored_height
        self.orientation = info.orientation
        self.width, self.height = info.width, info.height
        self.rate = info.rate
        # FFmpeg's guess of the lowest rate that represents every timestamp (r_frame_rate): above
        # the average for variable-rate video. Outputs that count frames (AVI) tick at it.
        self.base_rate = info.base_rate
        self.time_base = info.time_base
        self.frame_count = info.frame_count
        self.duration: Fraction | None = info.duration
        self.has_audio = info.has_audio
        # 4:2:0 at an even size: the frames keep their planes (Frame.yuv), RGB only when asked for
        self.gives_yuv = (info.pix_fmt == "yuv420p" and not (self.width % 2 or self.height % 2)
                          and self.orientation.upright)
        # MP4/MOV list every sample in an index, so a packet count below it means a cut-off file
        self._indexed = "mov" in info.format_names
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
            if self._first is None:
                raise InputError(f"{self.path}: cannot decode its first frame ({self._ahead_error or ''}): "
                                 f"check the file") from None
            self.start_pts = self._first.pts
            self._container.seek(frames.seek_pts if frames.seek_pts is not None else 0, stream=self._stream,
                                 backward=True, any_frame=False)
            self._ahead, self._ahead_error = [], None  # decoding starts again at the key frame
            self._packets = self._container.demux(self._stream)
        self.frame_count = frames.stop - frames.start

    def __iter__(self) -> Iterator[Frame]:
        self._index = self.range.seek_index if self.range else 0
        self._in_damage = False
        packets = 0
        try:
            # Demux and decode separately: with frame threading FFmpeg's decoder drops a cut-off
            # last packet silently, so truncation shows only in the packets (flagged corrupt,
            # or fewer than the MP4/MOV index lists).
            for packet, decoded in self._read():
                if packet.is_corrupt:
                    # the frames the decoder still holds (its threads work a few frames behind)
                    # are intact: they come out first
                    yield from self._frames(self._stream.decode(None))
                    self._stop(f"packet {packets} is damaged (after {self._index} frames)")
                    return
                packets += packet.size > 0
                yield from self._frames(packet.decode() if decoded is None else decoded)
                if self._end is not None and self._index >= self._end:
                    return
        except av.FFmpegError as exc:
            if self._index == 0:
                raise InputError(f"{self.path} is corrupt: decoding failed at the first frame ({reason(exc)}): "
                                 "use a complete copy of the file, or re-encode it") from None
            self._stop(f"decoding failed after {self._index} frames ({reason(exc)})")
            return
        if self.range is None and self._indexed and self._index and packets < self.frame_count:
            self._stop(f"its index lists {self.frame_count} frames but the file holds {packets}")
            return
        if self._index == 0:
            raise InputError(f"{self.path} has no video frames: give a video that has at least one frame")

    def _read_ahead(self) -> Any:
        """Demux and decode up to the first frame and keep what was read for __iter__; the frame,
        or None (a damaged packet or an FFmpeg error first: __iter__ meets them in their turn)."""
        try:
            for packet in self._packets:
                if packet.is_corrupt:
                    self._ahead.append((packet, None))
                    return None
                decoded = packet.decode()
                self._ahead.append((packet, decoded))
                if decoded:
                    return decoded[0]
        except av.FFmpegError as exc:
            self._ahead_error = exc
        return None

    def _read(self) -> Iterator[tuple[Any, list | None]]:
        """The packets in decoding order with their frames where they were decoded ahead
        (None: not yet), then the rest of the file."""
        yield from self._ahead
        self._ahead, self._first = [], None
        if self._ahead_error is not None:
            raise self._ahead_error
        for packet in self._packets:
            yield packet, None

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
