"""livebg.resize: the fast integer-factor shrink is OpenCV's INTER_AREA, and the guided
filter's guide comes out as it did with INTER_AREA."""
from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from livebg.refine import guide_small
from livebg.resize import shrink


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


@pytest.mark.parametrize("size, levels", [((540, 960), 0), ((480, 854), 0), ((720, 1280), 1)])
def test_guide_is_the_area_resized_luma(frame, size, levels):
    """540p (3x) and 720p (4x: two 2x steps, within a level) take the integer shrink, 854x480
    (a 2.67 ratio) OpenCV's INTER_AREA: all give what INTER_AREA gives."""
    luma = cv2.resize(np.ascontiguousarray(frame[..., 1]), size[::-1], interpolation=cv2.INTER_LINEAR)
    guide, scale = guide_small(luma)
    expected = cv2.resize(luma, guide.shape[::-1], interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    assert guide.shape == (180, round(size[1] * 180 / size[0])) and scale == pytest.approx(180 / size[0])
    assert np.abs(guide - expected).max() < (levels + 0.01) / 255


@pytest.mark.parametrize("short_side", [90, 270, 540, 1000])
def test_the_guide_size_is_the_settings(frame, short_side):
    luma = cv2.resize(np.ascontiguousarray(frame[..., 1]), (960, 540), interpolation=cv2.INTER_LINEAR)
    guide, scale = guide_small(luma, short_side)
    side = min(short_side, 540)  # never larger than the frame
    assert guide.shape == (side, round(960 * side / 540)) and scale == pytest.approx(side / 540)
    expected = cv2.resize(luma, guide.shape[::-1], interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    assert np.abs(guide - expected).max() < 1.01 / 255


@pytest.mark.parametrize("guide_size", [180, 270])
def test_the_matte_is_fitted_at_the_guide_size(guide_size):
    from livebg.config import Config
    from livebg.matte import Matter

    luma = np.full((540, 960), 120, np.uint8)
    prob = np.zeros((360, 640), np.float32)
    a, b = Matter(Config().override("refine", guide_size=guide_size)).luma_coefficients(prob, luma)
    assert a.shape == b.shape == (guide_size, guide_size * 16 // 9)
