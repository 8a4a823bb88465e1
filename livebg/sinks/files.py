"""Output files: H.264/VP9/ProRes video through PyAV (with the input's audio), PNG directories."""
from __future__ import annotations

import errno
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from .. import i420
from ..errors import OutputError

VIDEO_EXTENSIONS = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"}
ALPHA_VIDEO_EXTENSIONS = {".mov", ".webm"}
IMAGE_OUT_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
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


@dataclass(frozen=True)
class OutputPlan:
    path: Path
    kind: str  # "video" or "frames" (a directory of PNGs)
    what: str = "output"  # how messages name it: "output" (-o) or "--alpha-out"

    @property
    def label(self) -> str:
        """The path as messages show it: a directory says it gets PNG frames."""
        return f"{self.path}{os.sep} (PNG frames)" if self.kind == "frames" else str(self.path)


def check_writable(directory: Path, what: str = "output") -> None:
    """Fail before any work when ``directory`` exists but files cannot be created in it."""
    if directory.is_dir() and not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(f"{what}: cannot write into {directory} (permission denied): choose a directory you can write to")


# errno values that mean the file system refused the output (the user can act on those)
FILE_SYSTEM_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO}


def write_failed(path: Path, exc: BaseException) -> OutputError:
    """The one-line error for an output that failed while being written: the disk or permissions
    when the file system said so, else the encoder or muxer's own reason."""
    reason = getattr(exc, "strerror", None) or str(exc)
    if getattr(exc, "errno", None) in FILE_SYSTEM_ERRORS:
        return OutputError(f"cannot write {path} ({reason}): check the disk space and the directory's permissions")
    return OutputError(f"encoding {path.name} failed ({reason}): try another output format (.mkv takes the most), "
                       f"or --no-audio if the input's audio is damaged")


def plan_output(path: str | Path, *, transparent: bool, what: str = "output") -> OutputPlan:
    """Check an output path before any work starts: directory exists and is writable, format can hold the request."""
    text = str(path)
    if text == "-":
        raise OutputError(f"{what} -: livebg writes files, not standard output: give a file such as out.mp4, "
                          f"or a directory for PNG frames")
    out = Path(text).expanduser()
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        if parent.exists():
            raise OutputError(f"{what} {out}: {parent} is a file, not a directory; choose another path")
        raise OutputError(f"{what} directory {parent} does not exist: create it first or choose another path")
    check_writable(parent, what)
    ext = out.suffix.lower()
    if text.endswith(("/", os.sep)) or out.is_dir() or not ext:
        if out.exists() and not out.is_dir():
            raise OutputError(f"{what} {out} exists and is not a directory: choose another path")
        return OutputPlan(out, "frames", what)
    if ext in IMAGE_OUT_EXTENSIONS:
        raise OutputError(f"{what} {out} is a single image, but a video has many frames: use .mp4, .mov, .webm or a directory")
    if ext not in VIDEO_EXTENSIONS:
        raise OutputError(f"{what} extension {ext} is not supported: use one of {', '.join(sorted(VIDEO_EXTENSIONS))} or a directory")
    if transparent and ext not in ALPHA_VIDEO_EXTENSIONS:
        raise OutputError(f"{out.name} cannot keep transparency: use .mov (ProRes 4444), .webm (VP9) or a directory of PNGs")
    return OutputPlan(out, "video", what)


def _partial_name(final: Path) -> Path:
    return final.with_name(f".{final.stem}.livebg-partial{final.suffix}")


class VideoFileSink:
    """Encodes frames with PyAV: same size, rate and timestamps as the input; audio carried over.

    H.264 yuv420p by default; VP9 for .webm; with ``alpha`` ProRes 4444 (.mov) or VP9 with
    alpha (.webm). ``gray`` writes single-channel frames (alpha mattes) as a grey video.
    """

    def __init__(self, path: str | Path, *, width: int, height: int, rate: Fraction, time_base: Fraction,
                 alpha: bool = False, gray: bool = False, crf: int = 20, preset: str = "veryfast",
                 audio_from: Path | None = None, threads: int = 0, base_rate: Fraction | None = None):
        self.path = Path(path)
        self.partial = _partial_name(self.path)
        self.ext = self.path.suffix.lower()
        self.alpha = alpha
        self.gray = gray
        self.frames = 0
        self._closed = False
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
                print(f"livebg: {width}x{height} is odd and {pix_fmt} needs even sizes: padding to "
                      f"{width + self.pad[1]}x{height + self.pad[0]} by repeating the edge", file=sys.stderr)
        fmt = {".mkv": "matroska", ".m4v": "mp4"}.get(self.ext, self.ext.lstrip("."))
        try:
            self.container = av.open(str(self.partial), mode="w", format=fmt)
            self.stream = self.container.add_stream(codec, rate=rate, options=options)
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
        # swscale's default, about 10x faster); the encoder then takes the planes as they are
        self._to_i420 = self._in_format == "rgb24" and pix_fmt == "yuv420p"
        try:
            self.audio = AudioCarrier(audio_from, self.container, self.ext) if audio_from else None
        except (av.FFmpegError, OSError) as exc:
            self._cleanup()
            raise OutputError(f"cannot carry the audio of {audio_from.name} into {self.path.name} ({exc}): "
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
    def takes_i420(self) -> bool:
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

    def close(self) -> Path:
        """Flush the encoder and the audio, close, and move the file to its final name."""
        if self._closed:
            return self.path
        self._closed = True
        try:
            for packet in self.stream.encode():
                self.container.mux(packet)
            if self.audio:
                end = None if self._last_time is None else self._last_time + 1 / Fraction(self.stream.average_rate or 30)
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
        try:
            os.replace(self.partial, self.path)
        except OSError as exc:
            self.partial.unlink(missing_ok=True)
            raise write_failed(self.path, exc) from None
        return self.path

    def abort(self) -> None:
        """Give up: close and delete the temporary file; nothing appears under the final name."""
        if self._closed:
            return
        self._closed = True
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
        self.partial.unlink(missing_ok=True)

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


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class ImageDirSink:
    """Frames as numbered PNGs (00000.png, …) in a directory that appears when the job ends."""

    def __init__(self, path: str | Path, *, compression: int = 1, what: str = "output"):
        self.path = Path(path)
        if self.path.exists() and any(self.path.iterdir()):
            raise OutputError(f"{what} directory {self.path} is not empty: choose a new or empty directory")
        self.partial = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.livebg-partial-", dir=self.path.parent))
        # mkdtemp makes it private (0700); the frames are a result, as readable as any new directory
        os.chmod(self.partial, 0o777 & ~_umask())
        self.params = [cv2.IMWRITE_PNG_COMPRESSION, compression]
        self.frames = 0
        self._closed = False

    def write(self, image: np.ndarray, pts: int = 0) -> None:
        if image.ndim == 3:
            image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR if image.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
        # encoded in memory and written by Python: a full disk is an OSError with its reason
        # (cv2.imwrite only returns False, after libpng has printed its own error line)
        ok, data = cv2.imencode(".png", image, self.params)
        if not ok:
            raise OutputError(f"cannot encode frame {self.frames} of {self.path} as PNG")
        try:
            (self.partial / f"{self.frames:05d}.png").write_bytes(data.tobytes())
        except OSError as exc:
            raise write_failed(self.path, exc) from None
        self.frames += 1

    def close(self) -> Path:
        if self._closed:
            return self.path
        self._closed = True
        if self.path.exists():
            self.path.rmdir()  # empty, checked at the start
        os.replace(self.partial, self.path)
        return self.path

    def abort(self) -> None:
        if self._closed:
            return
        self._closed = True
        shutil.rmtree(self.partial, ignore_errors=True)


def open_frame_sink(plan: OutputPlan, *, width: int, height: int, rate: Fraction, time_base: Fraction,
                    alpha: bool = False, gray: bool = False, crf: int = 20, preset: str = "veryfast",
                    audio_from: Path | None = None, base_rate: Fraction | None = None):
    if plan.kind == "frames":
        return ImageDirSink(plan.path, what=plan.what)
    return VideoFileSink(plan.path, width=width, height=height, rate=rate, time_base=time_base, alpha=alpha,
                         gray=gray, crf=crf, preset=preset, audio_from=audio_from, base_rate=base_rate)


def write_image_atomic(path: Path, image: np.ndarray, quality: int = 95) -> None:
    """Write one RGB/RGBA/grey image via a temporary name in the same directory."""
    ext = path.suffix.lower()
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR if image.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext in (".jpg", ".jpeg") else []
    ok, data = cv2.imencode(ext, image, params)
    if not ok:
        raise OutputError(f"cannot encode {path.name} as {ext}: use .png or .jpg")
    partial = path.with_name(f".{path.stem}.livebg-partial{ext}")
    try:
        partial.write_bytes(data.tobytes())
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path} ({exc.strerror}): check the directory and disk space") from None
