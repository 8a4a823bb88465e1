"""Shared fixtures and fakes for every test folder: paths to ../shared, synthetic videos whose
frames encode their index, real frames and a synthetic scene to test stages on, a segmenter
that needs no model, and the bad inputs the error tests feed the CLI.

Test folders have no __init__.py: every test file's name is unique across tests/, and tests/
itself is on sys.path, so tests in any folder can `from conftest import ...`, `import live_fakes`
and `import cli_process`."""
from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from livebg.segment.base import Prediction, Segmenter

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SHARED = REPO.parent / "shared"
if str(TESTS) not in sys.path:  # pytest's default import mode puts it there; other modes do not
    sys.path.insert(0, str(TESTS))


RVM_FILE = SHARED / "models" / "rvm_mobilenetv3_fp32.onnx"
SLOW_GROUPS = ("browser", "ray", "rvm", "live_timing", "x11", "pipewire")  # registered in pyproject.toml


def pytest_collection_modifyitems(config, items):
    """Every test of a slow group is also `slow` (`-m "not slow"` leaves them out); a test that
    asks for RVM's weights (the ``rvm_cache`` fixture) is of the rvm group."""
    for item in items:
        if "rvm_cache" in getattr(item, "fixturenames", ()) and item.get_closest_marker("rvm") is None:
            item.add_marker(pytest.mark.rvm)
        if any(item.get_closest_marker(group) for group in SLOW_GROUPS):
            item.add_marker(pytest.mark.slow)

# A suite started in the background by a non-interactive shell (`nohup pytest … &`) inherits
# SIGINT ignored; the tests of Ctrl-C handling need Python's own handler, as in a terminal.
import signal as _signal  # noqa: E402

if _signal.getsignal(_signal.SIGINT) is _signal.SIG_IGN:
    _signal.signal(_signal.SIGINT, _signal.default_int_handler)


@pytest.fixture(autouse=True, scope="session")
def offline_cache(tmp_path_factory):
    """Every test (and the livebg processes they start) gets an empty cache of its own and no
    downloads: `auto` then falls back to the bundled selfie model, as on an offline machine,
    and nothing is written to the user's ~/.cache. Tests of RVM put the shared copy of its
    weights into a cache with ``rvm_cache``."""
    import os

    saved = {k: os.environ.get(k) for k in ("LIVEBG_CACHE", "LIVEBG_OFFLINE")}
    os.environ["LIVEBG_CACHE"] = str(tmp_path_factory.mktemp("livebg-cache"))
    os.environ["LIVEBG_OFFLINE"] = "1"
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def rvm_cache(tmp_path, monkeypatch) -> Path:
    """A livebg cache holding RVM's release file (the shared copy, under its release name), as
    after a first download: the real loading code finds it and checks its sha256."""
    import shutil

    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copyfile(RVM_FILE, cache / RVM_FILE.name)
    monkeypatch.setenv("LIVEBG_CACHE", str(cache))
    return cache


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

    def predict(self, frames, *, cuts=None):
        self.calls += len(frames)
        if self.fail_at is not None and self.calls > self.fail_at:
            raise RuntimeError("segmenter failed on purpose")
        return [Prediction(np.full((16, 16), self.value, np.float32)) for _ in frames]


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


# -- real frames and a synthetic scene -------------------------------------------------------------
def lucia_frame(shared: Path, index: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(RGB frame, boolean person mask) of frame ``index`` of the labelled DAVIS clip lucia."""
    image = cv2.imread(str(shared / "media/labeled/davis_lucia/JPEGImages" / f"{index:05d}.jpg"))
    mask = cv2.imread(str(shared / "media/labeled/davis_lucia/Annotations" / f"{index:05d}.png"), cv2.IMREAD_GRAYSCALE)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), mask > 127


def yuv_frames(shared: Path, count: int = 3) -> list[np.ndarray]:
    """The first ``count`` frames of the doctor video as yuv420p planes (FFmpeg's packed layout)."""
    with av.open(str(shared / "media/videos/doctor_960x540.mp4")) as c:
        return [f.to_ndarray(format="yuv420p") for _, f in zip(range(count), c.decode(video=0))]


def square_scene(h: int = 180, w: int = 320) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A bright square on a dark frame, a blurry low-resolution guess at it (as a model gives),
    and the true matte: (frame, prob, truth)."""
    frame = np.full((h, w, 3), 30, np.uint8)
    frame[50:130, 100:220] = 220
    truth = np.zeros((h, w), np.float32)
    truth[50:130, 100:220] = 1
    prob = cv2.resize(cv2.GaussianBlur(truth, (0, 0), 8), (64, 64), interpolation=cv2.INTER_AREA)
    return frame, prob, truth


# -- bad inputs for the error tests (test_errors_*.py) ---------------------------------------------
@pytest.fixture(scope="session")
def media(tmp_path_factory, shared) -> dict[str, Path]:
    """Broken videos, backgrounds and models, made from a valid noise video (``media["valid"]``)."""
    from cli_process import make_bad_media

    return make_bad_media(tmp_path_factory.mktemp("bad-inputs"), shared)


@pytest.fixture
def out_dir(tmp_path) -> Path:
    """An empty output directory that a refused job must leave empty."""
    d = tmp_path / "out"
    d.mkdir()
    return d
