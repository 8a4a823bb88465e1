"""What the tests of the YUV 4:2:0 fast path share (composite/i420, composite/kernels, matte/matter,
frames/yuv, sources/video, sinks/video, jobs/video): the RGB reference of the blend, helpers on
I420 arrays, and module-scoped fixtures on real frames (registered for every test folder by
``pytest_plugins`` in tests/conftest.py): ``default_model`` (the default segmenter), ``yuv_doctor``
(10 doctor frames as yuv420p, their RGB and the model's probabilities), ``porch_photo`` and
``doctor_480`` (20 doctor frames at 480x270, H.264)."""
from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from livebg.composite.i420 import I420Compositor
from livebg.composite.kernels import blend_i420, linear_axis
from livebg.config import Config
from livebg.segment.factory import load_segmenter
from tests.support import (
    read_video,
    write_clip,
)

planes = I420Compositor.planes


def levels(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int16) - b.astype(np.int16))


def upsample(coef: np.ndarray, width: int, height: int) -> np.ndarray:
    return cv2.resize(coef, (width, height), interpolation=cv2.INTER_LINEAR)


def reference_blend(yuv: np.ndarray, bg_yuv: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """What blend_i420 computes, written plainly in numpy: alpha = clip(A * Y + B, 0, 1) with A
    and B upsampled by OpenCV, Y blended per pixel, U and V with the mean alpha of their 2x2 block."""
    fy, fu, fv = planes(yuv)
    gy, gu, gv = planes(bg_yuv)
    h, w = fy.shape
    alpha = np.clip(upsample(a, w, h) * fy.astype(np.float32) + upsample(b, w, h), 0, 1)
    block = alpha.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    out = np.empty_like(yuv)
    oy, ou, ov = planes(out)

    def mix(f, g, k):
        f, g = f.astype(np.float32), g.astype(np.float32)
        return np.floor(g + k * (f - g) + 0.5).astype(np.uint8)

    oy[:] = mix(fy, gy, alpha)
    ou[:] = mix(fu, gu, block)
    ov[:] = mix(fv, gv, block)
    return out


def run_kernel(yuv: np.ndarray, bg_yuv: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int]:
    h, w = yuv.shape[0] * 2 // 3, yuv.shape[1]
    out = np.empty_like(yuv)
    mixed = blend_i420(*planes(yuv), *planes(yuv), *planes(bg_yuv), a, b, *linear_axis(w, a.shape[1]), *linear_axis(h, a.shape[0]),
                       *planes(out))
    return out, mixed


def random_i420(rng, width: int, height: int) -> np.ndarray:
    return rng.integers(0, 256, (height * 3 // 2, width), dtype=np.uint8)


def rgb_of(yuv: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420)


@pytest.fixture(scope="module")
def default_model():
    return load_segmenter(Config().model)[0]


@pytest.fixture(scope="module")
def yuv_doctor(shared, default_model):
    """The first 10 frames of the doctor video as the decoder gives them (yuv420p), their RGB
    (OpenCV's conversion, as VideoFileSource makes it) and the default model's probabilities."""
    with av.open(str(shared / "media/videos/doctor_960x540.mp4")) as c:
        yuvs = []
        for frame in c.decode(video=0):
            assert frame.format.name == "yuv420p"
            yuvs.append(frame.to_ndarray(format="yuv420p"))
            if len(yuvs) == 10:
                break
    rgbs = [rgb_of(y) for y in yuvs]
    probs = [default_model.predict([rgb])[0].alpha for rgb in rgbs]
    return yuvs, rgbs, probs


@pytest.fixture(scope="module")
def porch_photo(shared):
    return shared / "media/backgrounds/porch-691330_1280.jpg"


@pytest.fixture(scope="module")
def doctor_480(tmp_path_factory, shared):
    """20 frames of the doctor video at 480x270 (135 chroma rows: U and V not row-aligned), H.264."""
    return write_clip(tmp_path_factory.mktemp("fastpath") / "doctor480.mp4", frames=20, size=(480, 270), crf=12)


def decoded(path):
    """(yuv420p planes of every frame, their pts, stream info) of an output video."""
    images, info = read_video(path)
    with av.open(str(path)) as c:
        frames = [(f.to_ndarray(format="yuv420p"), f.pts) for f in c.decode(video=0)]
    assert len(frames) == len(images)
    return [f for f, _ in frames], [p for _, p in frames], info
