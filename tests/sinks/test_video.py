"""livebg/sinks/video.py: ``VideoFileSink.write_i420`` round trip and what it refuses."""
from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np
import pytest

from livebg.sinks.video import VideoFileSink
from tests.support import (
    NTSC,
)
from tests.support.fastpath import (
    decoded,
    levels,
    rgb_of,
)


def test_write_i420_round_trip(yuv_doctor, tmp_path):
    yuvs, _, _ = yuv_doctor
    small = [cv2.cvtColor(cv2.resize(rgb_of(y), (480, 270), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2YUV_I420)
             for y in yuvs[:5]]
    path = tmp_path / "planes.mp4"
    sink = VideoFileSink(path, width=480, height=270, rate=NTSC, time_base=Fraction(1, 30000), crf=0)
    assert sink.takes_i420
    for k, yuv in enumerate(small):
        sink.write_i420(yuv, 1001 * k)
    sink.close()
    frames, pts, info = decoded(path)
    assert (info["width"], info["height"], info["pix_fmt"]) == (480, 270, "yuv420p")
    assert [p * info["time_base"] for p in pts] == [Fraction(1001 * k, 30000) for k in range(5)]
    assert len(frames) == 5
    for got, sent in zip(frames, small):
        assert levels(got, sent).max() == 0  # x264 at crf 0 is lossless


def test_write_i420_rejects_wrong_frames(tmp_path):
    sink = VideoFileSink(tmp_path / "a.mp4", width=64, height=48, rate=Fraction(25), time_base=Fraction(1, 25))
    try:
        for bad in (np.zeros((48, 64), np.uint8), np.zeros((72, 66), np.uint8), np.zeros((48, 64, 3), np.uint8),
                    np.zeros((72, 64), np.float32), np.zeros((72, 64), np.uint16)):
            with pytest.raises(ValueError, match=r"\(72, 64\)"):
                sink.write_i420(bad, 0)
        assert sink.frames == 0
    finally:
        sink.abort()
    for kwargs, name in ((dict(alpha=True), "a.mov"), (dict(gray=True), "g.mp4"), ({}, "odd.mp4")):
        size = dict(width=65, height=48) if name == "odd.mp4" else dict(width=64, height=48)
        sink = VideoFileSink(tmp_path / name, rate=Fraction(25), time_base=Fraction(1, 25), **size, **kwargs)
        try:
            assert not sink.takes_i420, name
            with pytest.raises(ValueError, match="yuv420p"):
                sink.write_i420(np.zeros((72, 64), np.uint8), 0)
        finally:
            sink.abort()
