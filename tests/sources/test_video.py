"""livebg/sources/video.py: ``VideoFileSource`` hands on the decoder's own yuv420p planes."""
from __future__ import annotations

import av
import numpy as np

from livebg.sources.video import VideoFileSource
from tests.support.fastpath import (
    rgb_of,
)


def test_video_source_gives_the_decoders_planes(doctor_480):
    with av.open(str(doctor_480)) as c:
        expected = [f.to_ndarray(format="yuv420p") for f in c.decode(video=0)]
    with VideoFileSource(doctor_480) as source:
        frames = list(source)
    assert len(frames) == len(expected) == 20
    for frame, yuv in zip(frames, expected):
        assert frame.yuv is not None and frame.yuv.shape == (405, 480) and frame.yuv.dtype == np.uint8
        assert np.array_equal(frame.yuv, yuv)
        assert frame.image is None and np.array_equal(frame.rgb(), rgb_of(yuv))
