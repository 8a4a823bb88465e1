"""livebg.frames.resize: the fast integer-factor shrink is OpenCV's INTER_AREA."""
from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from livebg.frames.resize import shrink


@pytest.fixture(scope="module")
def frame(shared):
    with av.open(str(shared / "media/videos/doctor_960x540.mp4")) as c:
        return next(c.decode(video=0)).to_ndarray(format="rgb24")


@pytest.mark.parametrize("factor, tolerance", [(2, 0), (3, 0), (5, 0), (4, 1), (6, 1), (8, 2)])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("crop", [(540, 960), (537, 959)])  # sizes not divisible by the factor too
def test_shrink_is_inter_area(frame, factor, tolerance, channels, crop):
    """Exactly INTER_AREA for 2x and odd factors; even factors above 2 go in 2x steps (a mean of
    means, each rounded: within a level per step)."""
    image = frame if channels == 3 else np.ascontiguousarray(frame[..., 1])
    image = image[:crop[0], :crop[1]]
    h, w = crop[0] - crop[0] % factor, crop[1] - crop[1] % factor
    expected = cv2.resize(image[:h, :w], (w // factor, h // factor), interpolation=cv2.INTER_AREA)
    got = shrink(image, factor)
    assert got.shape == expected.shape and got.dtype == np.uint8 and got.flags.c_contiguous
    assert np.abs(got.astype(np.int16) - expected.astype(np.int16)).max() <= tolerance
