"""livebg.matte.refine: the Refiner (bilinear, guided) on a synthetic scene, and the guided
filter's guide, which comes out as OpenCV's INTER_AREA gives it, at the size the settings ask."""
from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from livebg.config import RefineConfig
from livebg.errors import ConfigError
from livebg.matte.refine import Refiner, guide_small
from tests.support import square_scene


def test_bilinear_upsamples_to_the_frame():
    frame, prob, _ = square_scene()
    alpha = Refiner(RefineConfig(method="bilinear"))(prob, frame)
    assert alpha.shape == frame.shape[:2] and alpha.dtype == np.float32
    assert 0 <= alpha.min() and alpha.max() <= 1


def test_guided_edges_follow_the_image():
    frame, prob, truth = square_scene()
    bilinear = Refiner(RefineConfig(method="bilinear"))(prob, frame)
    guided = Refiner(RefineConfig(method="guided"))(prob, frame)
    assert guided.shape == truth.shape and guided.dtype == np.float32
    # the guided matte is much closer to the true square, and its edge is steep
    assert np.abs(guided - truth).mean() < 0.5 * np.abs(bilinear - truth).mean()
    assert guided[90, 95] < 0.1 and guided[90, 105] > 0.9


def test_guided_adds_no_halo():
    frame, prob, truth = square_scene()
    guided = Refiner(RefineConfig(method="guided"))(prob, frame)
    outside = truth == 0
    # nothing outside the object is made more opaque than the model said (no dilate-and-blur rim)
    bilinear = Refiner(RefineConfig(method="bilinear"))(prob, frame)
    assert (guided[outside] <= bilinear[outside] + 1e-3).mean() > 0.99


def test_sharpness_one_keeps_a_softer_edge():
    frame, prob, _ = square_scene()
    soft = Refiner(RefineConfig(sharpness=1.0))(prob, frame)
    sharp = Refiner(RefineConfig(sharpness=6.0))(prob, frame)
    fractional = lambda a: np.count_nonzero((a > 0.05) & (a < 0.95))  # noqa: E731
    assert fractional(sharp) < fractional(soft)


def test_refiner_checks_its_inputs():
    frame, prob, _ = square_scene()
    with pytest.raises(ValueError, match="float32"):
        Refiner()(prob.astype(np.float64), frame)
    with pytest.raises(ValueError, match="uint8"):
        Refiner()(prob, frame.astype(np.float32))


@pytest.mark.parametrize("kwargs", [{"method": "bicubic"}, {"radius": 0}, {"eps": 0}, {"sharpness": 0.5},
                                    {"guide_size": 16}, {"guide_size": 5000}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ConfigError):
        Refiner(RefineConfig(**kwargs))


# -- the guide -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def frame(shared):
    with av.open(str(shared / "media/videos/doctor_960x540.mp4")) as c:
        return next(c.decode(video=0)).to_ndarray(format="rgb24")


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
