"""FrameSource: the optional capabilities have defaults, and each source states its own, so a
job asks the source and never its type."""
from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np
import pytest

from livebg.sources import (
    FrameSource,
    ImageSequenceSource,
    VideoFileSource,
    open_source,
)
from livebg.sources.video import FrameRange


def test_an_image_sequence_has_the_defaults(tmp_path):
    path = tmp_path / "frame.png"
    cv2.imwrite(str(path), np.zeros((8, 12, 3), np.uint8))
    source = open_source(str(tmp_path), fps=25)
    assert isinstance(source, ImageSequenceSource) and isinstance(source, FrameSource)
    assert not source.own_rate and not source.seekable and not source.has_audio and not source.gives_yuv
    assert source.orientation.upright and source.stored_size() == (12, 8)
    assert source.damaged == () and source.stopped == ""
    assert source.rate == 25 and source.frame_count == 1
    with pytest.raises(NotImplementedError, match="not seekable"):
        source.restrict(FrameRange(0, 1))
    source.close()
    source.close()


def test_a_video_file_states_its_capabilities(shared):
    with open_source(str(shared / "media/videos/doctor_960x540.mp4")) as source:
        assert isinstance(source, VideoFileSource) and isinstance(source, FrameSource)
        assert source.own_rate and source.seekable and source.gives_yuv
        assert source.stored_size() == (960, 540) and source.orientation.upright
        assert source.rate == Fraction(30000, 1001) and source.frame_count > 0
