"""livebg.resize: the fast integer-factor shrink is OpenCV's INTER_AREA, and the guided
filter's guide comes out as it did with INTER_AREA."""
from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from livebg.frames.resize import shrink
from livebg.matte.refine import guide_small


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


@pytest.mark.parametrize("size, short_side, levels", [((540, 960), 270, 0), ((1080, 1920), 270, 1), ((480, 854), 270, 0),
                                                      ((540, 960), 180, 0), ((720, 1280), 180, 1)])
def test_guide_is_the_area_resized_luma(frame, size, short_side, levels):
    """Integer factors take the integer shrink (2x and 3x exactly; 4x in two 2x steps, within a
    level), ratios below 2 OpenCV's INTER_AREA itself: all give what INTER_AREA gives."""
    luma = cv2.resize(np.ascontiguousarray(frame[..., 1]), size[::-1], interpolation=cv2.INTER_LINEAR)
    guide, scale = guide_small(luma, short_side)
    expected = cv2.resize(luma, guide.shape[::-1], interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    assert guide.shape == (short_side, round(size[1] * short_side / size[0]))
    assert scale == pytest.approx(short_side / size[0])
    assert np.abs(guide - expected).max() < (levels + 0.01) / 255


@pytest.mark.parametrize("size, short_side", [((720, 1280), 270), ((480, 854), 180)])
def test_a_guide_at_a_larger_uneven_ratio_is_halved_first(frame, size, short_side):
    """2.67x: a 2x shrink, then INTER_AREA for the rest (a direct INTER_AREA to an uneven ratio
    took 0.65 ms for 720p to 270 px, this 0.23): the same picture, a footprint a little
    different at sharp edges, under a level apart on average."""
    luma = cv2.resize(np.ascontiguousarray(frame[..., 1]), size[::-1], interpolation=cv2.INTER_LINEAR)
    guide, _ = guide_small(luma, short_side)
    expected = cv2.resize(luma, guide.shape[::-1], interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    assert guide.shape == expected.shape == (short_side, round(size[1] * short_side / size[0]))
    halved = cv2.resize(cv2.resize(luma, (size[1] // 2, size[0] // 2), interpolation=cv2.INTER_AREA),
                        guide.shape[::-1], interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    np.testing.assert_allclose(guide, halved, atol=1e-6)
    assert np.abs(guide - expected).mean() < 1 / 255


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
    from livebg.matte.matter import Matter

    luma = np.full((540, 960), 120, np.uint8)
    prob = np.zeros((360, 640), np.float32)
    a, b = Matter(Config().override("refine", guide_size=guide_size)).luma_coefficients(prob, luma)
    assert a.shape == b.shape == (guide_size, guide_size * 16 // 9)
