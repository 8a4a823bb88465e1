"""Encoded video files through PyAV (H.264, VP9, ProRes 4444 with alpha), carrying the input's audio.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
import cv2
import numpy as np

from livebg.errors import OutputError, say
from livebg.frames import yuv as i420
from livebg.media.probe import frame_rate
from livebg.output import commit, discard, partial_path, write_failed
from livebg.sinks.files import FrameSink

# audio codecs each container takes as they are; others are re-encoded
AUDIO_COPY = {
    ".mp4": {"aac", "mp3", "alac", "ac3", "eac3", "opus"},
    ".m4v": {"aac", "mp3", "alac", "ac3", "eac3"},
    ".mov": {"aac", "mp3", "alac", "ac3", "pcm_s16le", "pcm_s24le"},
    ".mkv": None,  # anything
    ".webm": {"opus", "vorbis"},
    ".avi": {"mp3", "ac3", "aac", "pcm_s16le"},
}
AUDIO_REENCODE = {".webm": "libopus"}
OPUS_RATES = {8000, 12000, 16000, 24000, 48000}


class VideoFileSink(FrameSink):
    """Encodes frames with PyAV: same size, rate and timestamps as the input; audio carried over.

    H.264 yuv420p by default; VP9 for .webm; with ``alpha`` ProRes 4444 (.mov) or VP9 with
    alpha (.webm). ``gray`` writes single-channel frames (alpha mattes) as a grey video.
    """

    def __init__(self, path: str | Path, *, width: int, height: int, rate: Fraction, time_base: Fraction,
                 alpha: bool = False, gray: bool = False, crf: int = 20, preset: str = "veryfast",
                 audio_from: Path | None = None, threads: int = 0, base_rate: Fraction | None = None):
        self.path = Path(path)
        self.partial = partial_path(self.path)
        self.ext = self.path.suffix.lower()
        self.alpha = alpha
        self.gray = gray
        self.frames = 0
        self.pad = (0, 0)
        self._last_time: Fraction | None = None
        self.time_base = Fraction(time_base)
        # AVI counts frames: its time base is one frame. Given the input's finer one, FFmpeg
        # declared a 600 fps stream (and players showed a frame rate 20x the real one). It ticks
        # at the input's base rate, which variable-rate video needs (frames closer together than
        # the average rate's step would share a tick); the muxer fills longer gaps itself.
        self.out_time_base = 1 / Fraction(base_rate or rate) if self.ext == ".avi" else self.time_base
        self._last_pts: int | None = None
        codec, pix_fmt, options = self._codec(crf, preset)
        if pix_fmt.startswith(("yuv420", "yuva420")):
            self.pad = (height % 2, width % 2)
            if any(self.pad):
                say(f"{width}x{height} is odd and {pix_fmt} needs even sizes: padding to "
                    f"{width + self.pad[1]}x{height + self.pad[0]} by repeating the edge")
        fmt = {".mkv": "matroska", ".m4v": "mp4"}.get(self.ext, self.ext.lstrip("."))
        try:
            self.container = av.open(str(self.partial), mode="w", format=fmt)
            self.stream = cast(Any, self.container.add_stream(codec, rate=rate, options=options))
        except (av.FFmpegError, OSError) as exc:
            self._cleanup()
            raise write_failed(self.path, exc) from None
        self.stream.width = width + self.pad[1]
        self.stream.height = height + self.pad[0]
        self.stream.pix_fmt = pix_fmt
        self.stream.time_base = self.out_time_base
        self.stream.codec_context.time_base = self.out_time_base
        if threads:
            self.stream.codec_context.thread_count = threads
        self._in_format = "gray" if gray else ("rgba" if alpha else "rgb24")
        # RGB -> yuv420p with OpenCV's vectorised conversion (same BT.601 limited-range result as
        # swscale's default, much faster); the encoder then takes the planes as they are
        self._to_i420 = self._in_format == "rgb24" and pix_fmt == "yuv420p"
        try:
            self.audio: AudioCarrier | None = AudioCarrier(audio_from, self.container, self.ext) if audio_from else None
        except (av.FFmpegError, OSError) as exc:
            self._cleanup()
            raise OutputError(f"cannot carry the audio of {Path(str(audio_from)).name} into {self.path.name} ({exc}): "
                              f"use --no-audio, or another output format") from None

    def _codec(self, crf: int, preset: str) -> tuple[str, str, dict[str, str]]:
        if self.ext == ".webm":
            return "libvpx-vp9", "yuva420p" if self.alpha else "yuv420p", {
                "crf": str(min(crf + 10, 63)), "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"}
        if self.alpha:  # .mov
            return "prores_ks", "yuva444p10le", {"profile": "4444", "alpha_bits": "8"}
        options = {"crf": str(crf), "preset": preset}
        if self.ext == ".avi":
            options["bf"] = "0"  # AVI has no separate decode order: B-frames would scramble the timestamps
        return "libx264", "yuv420p", options

    @property
    def takes_i420(self) -> bool:  # type: ignore[override]
        """True when ``write_i420`` can take YUV 4:2:0 planes as they are (no padding, no alpha)."""
        return self._to_i420 and not any(self.pad)

    def write(self, image: np.ndarray, pts: int) -> None:
        """Encode one frame (RGB, RGBA or grey uint8) at ``pts`` in the input's time_base."""
        if any(self.pad):
            image = cv2.copyMakeBorder(image, 0, self.pad[0], 0, self.pad[1], cv2.BORDER_REPLICATE)
        if self._to_i420:
            self._encode(i420.to_frame(cv2.cvtColor(image, cv2.COLOR_RGB2YUV_I420)), pts)
        else:
            self._encode(av.VideoFrame.from_ndarray(image, format=self._in_format), pts)

    def write_i420(self, yuv: np.ndarray, pts: int) -> None:
        """Encode one frame given as yuv420p planes ((H * 3 / 2) x W uint8, FFmpeg's layout)."""
        if not self.takes_i420:
            raise ValueError(f"{self.path.name}: this encoder does not take yuv420p frames as they are; use write()")
        expected = (self.stream.height * 3 // 2, self.stream.width)
        if yuv.dtype != np.uint8 or yuv.shape != expected:
            raise ValueError(f"yuv420p frame must be uint8 {expected}, got {yuv.dtype} {yuv.shape}")
        self._encode(i420.to_frame(yuv), pts)

    def _encode(self, frame, pts: int) -> None:
        out_pts = pts
        if self.out_time_base != self.time_base:
            out_pts = round(pts * self.time_base / self.out_time_base)
            if self._last_pts is not None and out_pts <= self._last_pts:  # two frames on one tick
                out_pts = self._last_pts + 1
            self._last_pts = out_pts
        frame.pts = out_pts
        frame.time_base = self.out_time_base
        try:
            for packet in self.stream.encode(frame):
                self.container.mux(packet)  # the file itself is created on the first packet
            self._last_time = pts * self.time_base
            if self.audio:
                self.audio.mux_until(self._last_time)
        except (av.FFmpegError, OSError) as exc:
            raise write_failed(self.path, exc) from None
        self.frames += 1

    def _finish(self) -> None:
        """Flush the encoder and the audio, close, and move the file to its final name."""
        try:
            for packet in self.stream.encode():
                self.container.mux(packet)
            if self.audio:
                end = None if self._last_time is None else self._last_time + 1 / frame_rate(self.stream)
                self.audio.mux_until(end, final=True)
            self.container.close()
        except (av.FFmpegError, OSError) as exc:
            self._cleanup()
            raise write_failed(self.path, exc) from None
        except BaseException:
            self._cleanup()
            raise
        finally:
            if self.audio:
                self.audio.close()
        commit(self.partial, self.path)

    def _discard(self) -> None:
        """Give up: close and delete the temporary file; nothing appears under the final name."""
        if self.audio:
            self.audio.close()
        self._cleanup()

    def _cleanup(self) -> None:
        container = getattr(self, "container", None)
        if container is not None:
            try:
                container.close()
            except Exception:  # the file is being deleted anyway
                pass
        discard(self.partial)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            self.close()
        else:
            self.abort()


class AudioCarrier:
    """Carries the input's first audio stream into the output, interleaved with the video.

    Packets are copied when the output container takes the codec, else decoded and
    re-encoded (AAC, or Opus for WebM). Audio is cut where the video ends.
    """

    def __init__(self, source: Path, container, ext: str):
        self.input = av.open(str(source))
        self.in_stream = self.input.streams.audio[0]
        allowed = AUDIO_COPY.get(ext)
        self.copy = allowed is None or self.in_stream.codec_context.name in allowed
        if self.copy:
            self.out_stream = container.add_stream_from_template(self.in_stream)
        else:
            codec = AUDIO_REENCODE.get(ext, "aac")
            rate = self.in_stream.rate or 48000
            if codec == "libopus" and rate not in OPUS_RATES:
                rate = 48000  # Opus takes only these; the encoder resamples (44.1 kHz is common)
            self.out_stream = container.add_stream(codec, rate=rate)
            if self.in_stream.layout is not None:
                self.out_stream.layout = self.in_stream.layout
        self.container = container
        self._packets = self.input.demux(self.in_stream)
        self._pending = None
        self._done = False

    def _next_packet(self):
        for packet in self._packets:
            if packet.dts is not None:
                return packet
        return None

    def mux_until(self, until: Fraction | None, final: bool = False) -> None:
        """Mux audio packets that start before ``until`` seconds (all of them if None)."""
        while not self._done:
            packet = self._pending or self._next_packet()
            self._pending = None
            if packet is None:
                self._done = True
                break
            start = (packet.pts if packet.pts is not None else packet.dts) * packet.time_base
            if until is not None and start >= until:
                self._pending = packet
                break
            self._mux(packet)
        if final:
            if not self.copy:
                for out_packet in self.out_stream.encode(None):
                    self.container.mux(out_packet)
            self._done = True

    def _mux(self, packet) -> None:
        if self.copy:
            packet.stream = self.out_stream
            self.container.mux(packet)
            return
        for frame in packet.decode():
            frame.pts = None
            for out_packet in self.out_stream.encode(frame):
                self.container.mux(out_packet)

    def close(self) -> None:
        self.input.close()
