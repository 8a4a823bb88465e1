"""Shared fixtures and fakes: paths to ../shared, synthetic videos whose frames encode their
index, and a segmenter that needs no model."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from livebg.segment.base import Segmenter

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        raise RuntimeError(f"{SHARED} is missing: the tests need the shared models and media beside the repository")
    return SHARED


def index_color(j: int) -> tuple[int, int, int]:
    """A colour that encodes a frame index exactly (lossless codecs) up to 4095."""
    return (j % 64) * 4, (j // 64) * 4, 128


def decode_index(pixel) -> int:
    r, g = int(pixel[0]), int(pixel[1])
    return round(r / 4) + 64 * round(g / 4)


def make_index_video(path: Path, *, frames: int, rate: Fraction, size=(64, 48), codec: str = "png",
                     pix_fmt: str = "rgb24", audio_seconds: float = 0.0) -> Path:
    """A video whose frame j is filled with index_color(j) (lossless PNG-in-MOV by default)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height = size
        stream.pix_fmt = pix_fmt
        audio = None
        if audio_seconds:
            audio = out.add_stream("aac", rate=48000)
            audio.layout = "stereo"
        for j in range(frames):
            image = np.empty((size[1], size[0], 3), np.uint8)
            image[:] = index_color(j)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = j
            frame.time_base = 1 / rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        if audio is not None:
            write_tone(out, audio, audio_seconds)
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


NTSC = Fraction(30000, 1001)


def make_doctor_clip(path: Path, shared: Path, *, frames: int, crf: int, audio: bool = False,
                     audio_rate: int = 48000) -> Path:
    """The first ``frames`` frames of the doctor video (a real person) at 480x270, H.264 at
    29.97 fps (135 chroma rows: U and V are not row-aligned), with an AAC tone at ``audio_rate``
    Hz if ``audio``."""
    with av.open(str(shared / "media/videos/doctor_960x540.mp4")) as src, av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=NTSC, options={"preset": "ultrafast", "crf": str(crf)})
        stream.width, stream.height, stream.pix_fmt = 480, 270, "yuv420p"
        sound = None
        if audio:
            sound = out.add_stream("aac", rate=audio_rate)
            sound.layout = "stereo"
        for i, frame in enumerate(src.decode(video=0)):
            if i == frames:
                break
            small = frame.reformat(480, 270, "yuv420p")
            small.pts, small.time_base = i, 1 / NTSC
            for packet in stream.encode(small):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        if sound is not None:
            write_tone(out, sound, float(frames / NTSC), audio_rate)
    return path


class ConstantSegmenter(Segmenter):
    """A segmenter with no model: every pixel gets the same probability."""

    name = "constant"
    device = "cpu"
    precision = "float32"

    def __init__(self, value: float = 0.0, batch_size: int = 1, fail_at: int | None = None):
        self.value = value
        self.batch_size = batch_size
        self.fail_at = fail_at
        self.calls = 0

    def describe(self) -> str:
        return f"constant {self.value}"

    def predict(self, frames):
        self.calls += len(frames)
        if self.fail_at is not None and self.calls > self.fail_at:
            raise RuntimeError("segmenter failed on purpose")
        return [np.full((16, 16), self.value, np.float32) for _ in frames]


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
