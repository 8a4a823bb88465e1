"""The one builder of test clips (``write_clip``) and how to read one back (``read_video``).

A clip's pictures are one of: ``"doctor"`` (frames of the doctor video, a real person, scaled),
``"index"`` (frame j filled with ``index_color(j)``, lossless by default, so a test can tell
which input frame an output frame came from) or ``"noise"`` (random frames, so every packet is
large). H.264 by default (x264 ``preset``/``crf``, a key frame every ``gop`` frames if given),
an AAC tone as long as the video with ``audio``."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tests.support.paths import DOCTOR

NTSC = Fraction(30000, 1001)


def index_color(j: int) -> tuple[int, int, int]:
    """A colour that encodes a frame index exactly (lossless codecs) up to 4095."""
    return (j % 64) * 4, (j // 64) * 4, 128


def decode_index(pixel) -> int:
    r, g = int(pixel[0]), int(pixel[1])
    return round(r / 4) + 64 * round(g / 4)


def _pictures(picture: str, frames: int, size: tuple[int, int], start: int, pix_fmt: str):
    """``frames`` av.VideoFrames of kind ``picture`` at ``size`` (pts and time base unset)."""
    width, height = size
    if picture == "doctor":
        with av.open(str(DOCTOR)) as src:
            made = 0
            for n, frame in enumerate(src.decode(video=0)):
                if made == frames:
                    break
                if n >= start:
                    yield frame.reformat(width, height, pix_fmt)
                    made += 1
    elif picture == "index":
        for j in range(frames):
            image = np.empty((height, width, 3), np.uint8)
            image[:] = index_color(j)
            yield av.VideoFrame.from_ndarray(image, format="rgb24")
    elif picture == "noise":
        rng = np.random.default_rng(0)
        for _ in range(frames):
            yield av.VideoFrame.from_ndarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), format="rgb24")
    else:
        raise ValueError(f"unknown picture {picture!r}: doctor, index or noise")


def write_clip(path: Path | str, *, frames: int, picture: str = "doctor", size: tuple[int, int] = (320, 180),
               rate: Fraction | int = NTSC, codec: str | None = None, pix_fmt: str | None = None,
               preset: str = "ultrafast", crf: int = 23, gop: int | None = None, start: int = 0,
               audio: bool = False, audio_rate: int = 48000, faststart: bool = False) -> Path:
    """A ``frames``-frame clip at ``path`` (see the module's docstring). ``codec`` defaults to
    lossless PNG in rgb24 for ``"index"`` pictures and to H.264 in yuv420p for the others;
    ``start`` skips the doctor video's first frames; ``faststart`` puts MP4's moov first."""
    path = Path(path)
    rate = Fraction(rate)
    codec = codec or ("png" if picture == "index" else "libx264")
    pix_fmt = pix_fmt or ("rgb24" if codec == "png" else "yuv420p")
    options = {}
    if codec == "libx264":
        options = {"preset": preset, "crf": str(crf)}
        if gop:
            options.update({"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"})
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else {}) as out:
        stream = out.add_stream(codec, rate=rate, options=options)
        stream.width, stream.height = size
        stream.pix_fmt = pix_fmt
        sound = None
        if audio:
            sound = out.add_stream("aac", rate=audio_rate)
            sound.layout = "stereo"
        count = 0
        for j, frame in enumerate(_pictures(picture, frames, size, start, pix_fmt if picture == "doctor" else "rgb24")):
            frame.pts, frame.time_base = j, 1 / rate
            for packet in stream.encode(frame):
                out.mux(packet)
            count += 1
        assert count == frames, f"the doctor video has fewer than {start + frames} frames"
        for packet in stream.encode():
            out.mux(packet)
        if sound is not None:
            write_tone(out, sound, float(frames / rate), audio_rate)
    return path


def write_tone(container, stream, seconds: float, rate: int = 48000) -> None:
    """``seconds`` of a quiet 440 Hz stereo tone into an AAC ``stream`` at ``rate`` Hz, flushed."""
    samples = int(seconds * rate)
    t = np.arange(samples) / rate
    tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    for start in range(0, samples, 1024):
        chunk = np.stack([tone[start:start + 1024]] * 2)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="stereo")
        frame.sample_rate = rate
        frame.pts = start
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def video_frames(path: Path, first: int, last: int) -> list[np.ndarray]:
    """Frames ``first`` .. ``last`` (inclusive) of a video file, as RGB arrays."""
    frames = []
    with av.open(str(path)) as container:
        for i, decoded in enumerate(container.decode(video=0)):
            if i >= first:
                frames.append(decoded.to_ndarray(format="rgb24"))
            if i == last:
                break
    return frames


def read_video(path: Path):
    """(frames as RGB arrays, stream info dict) of a video file."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        info = {"width": s.width, "height": s.height, "rate": s.average_rate, "frames": s.frames,
                "duration": float(s.duration * s.time_base) if s.duration else None,
                "pix_fmt": s.codec_context.pix_fmt, "codec": s.codec_context.name,
                "audio": [a.codec_context.name for a in c.streams.audio],
                "time_base": s.time_base}
        images = [f.to_ndarray(format="rgba" if "a" in (s.codec_context.pix_fmt or "")[:5] and s.codec_context.pix_fmt.startswith("yuva") else "rgb24") for f in c.decode(s)]
    return images, info
