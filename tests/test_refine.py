"""Refiner (bilinear, guided), light wrap and the photo trimap."""
import numpy as np
import pytest

from livebg.composite.blend import light_wrap
from livebg.config import RefineConfig
from livebg.errors import ConfigError
from livebg.matte.photo import trimap_from_probability
from livebg.matte.refine import Refiner


def square_scene(h=180, w=320):
    """A bright square on a dark frame, and a blurry low-resolution guess at it (as a model gives)."""
    frame = np.full((h, w, 3), 30, np.uint8)
    frame[50:130, 100:220] = 220
    truth = np.zeros((h, w), np.float32)
    truth[50:130, 100:220] = 1
    import cv2

    prob = cv2.resize(cv2.GaussianBlur(truth, (0, 0), 8), (64, 64), interpolation=cv2.INTER_AREA)
    return frame, prob, truth


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


def test_light_wrap_is_a_background_setting_and_checked_there():
    from livebg.config import BackgroundConfig

    with pytest.raises(ConfigError, match="light wrap"):
        BackgroundConfig(light_wrap=2).validate()


def test_light_wrap_touches_only_the_subject_edge():
    frame, _, truth = square_scene()
    background = np.zeros_like(frame)
    background[:] = (0, 0, 255)
    out = light_wrap(frame, background, truth, 0.8)
    changed = np.abs(out.astype(int) - frame.astype(int)).sum(axis=2) > 0
    assert changed.any()
    assert not changed[truth == 0].any()  # nothing outside the subject
    assert not changed[80:100, 140:180].any()  # nor deep inside it
    assert out[52, 160, 2] > frame[52, 160, 2]  # blue light on the rim


def test_trimap_has_a_band_around_the_edge():
    _, _, truth = square_scene()
    import cv2

    prob = cv2.GaussianBlur(truth, (0, 0), 2)
    trimap = trimap_from_probability(prob, band=4)
    assert set(np.unique(trimap)) == {0.0, 0.5, 1.0}
    assert trimap[90, 160] == 1.0 and trimap[10, 10] == 0.0
    assert trimap[50, 160] == 0.5 and trimap[90, 100] == 0.5
