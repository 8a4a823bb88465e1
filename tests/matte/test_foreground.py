"""The old background out of the edge pixels of a photo (livebg/matte/foreground.py)."""
from __future__ import annotations

import numpy as np
from conftest import SHARED

from livebg.matte.foreground import foreground_colour


def _mixed(fg_colour, bg_colour, size=(120, 200)):
    """A picture whose left part is the foreground colour, right part the background, with an
    8 px soft edge between (a hair edge at photo size): (picture, alpha)."""
    h, w = size
    alpha = np.clip((104 - np.arange(w, dtype=np.float32)) / 8, 0, 1)[None, :].repeat(h, 0)
    f = np.array(fg_colour, np.float32)
    b = np.array(bg_colour, np.float32)
    picture = alpha[..., None] * f + (1 - alpha[..., None]) * b
    return np.clip(picture + 0.5, 0, 255).astype(np.uint8), alpha


def test_edge_pixels_get_the_foreground_colour_back():
    picture, alpha = _mixed((120, 60, 20), (250, 250, 250))  # brown hair over a white wall
    out = foreground_colour(picture, alpha)
    edge = (alpha > 0.2) & (alpha < 0.98)
    before = np.abs(picture[edge].astype(int) - (120, 60, 20)).mean()
    after = np.abs(out[edge].astype(int) - (120, 60, 20)).mean()
    assert before > 50 and after < 12, (before, after)
    # over a new background, the edge holds no white any more
    new = np.array((30, 80, 200), np.float32)
    blend = lambda fg: alpha[..., None] * fg + (1 - alpha[..., None]) * new  # noqa: E731
    truth = blend(np.array((120, 60, 20), np.float32))
    assert np.abs(blend(out.astype(np.float32)) - truth)[edge].max() < 8
    assert np.abs(blend(picture.astype(np.float32)) - truth)[edge].max() > 40


def test_only_the_soft_edge_changes_and_a_hard_matte_is_left_alone():
    picture, alpha = _mixed((120, 60, 20), (250, 250, 250))
    out = foreground_colour(picture, alpha)
    still = (alpha <= 0.01) | (alpha >= 0.99)
    assert np.array_equal(out[still], picture[still])
    hard = (alpha > 0.5).astype(np.float32)
    assert foreground_colour(picture, hard) is picture


def test_faint_edge_pixels_do_not_turn_into_noise():
    """Nothing is divided by a small alpha: faint edge pixels stay between the two colours."""
    rng = np.random.default_rng(0)
    picture, alpha = _mixed((120, 60, 20), (250, 250, 250))
    noisy = np.clip(picture.astype(int) + rng.integers(-6, 7, picture.shape), 0, 255).astype(np.uint8)
    out = foreground_colour(noisy, alpha)
    faint = (alpha > 0.01) & (alpha < 0.2)
    assert faint.any()
    low = np.minimum((120, 60, 20), (250, 250, 250)) - 15
    high = np.maximum((120, 60, 20), (250, 250, 250)) + 15
    assert ((out[faint] >= low) & (out[faint] <= high)).all()


def test_a_real_portrait_over_white_loses_the_white(tmp_path):
    """The doctor portrait cut out with the bundled model and put over pure white: unmixing
    its edge brings the edge pixels back to the colours they had in the photo."""
    from livebg.config import Config, apply_settings
    from livebg.frames.images import read_image
    from livebg.matte.matter import Matter
    from livebg.segment.factory import load_segmenter

    photo = read_image(SHARED / "media" / "portraits" / "doctor-5871743_640.jpg")
    config = apply_settings(Config(), model="selfie", smoothing="none")
    segmenter, _ = load_segmenter(config.model)
    alpha = Matter(config, edge_threshold=segmenter.edge_threshold)(segmenter.predict([photo])[0], photo)
    a = alpha[..., None]
    on_white = np.clip(a * photo + (1 - a) * 255 + 0.5, 0, 255).astype(np.uint8)
    out = foreground_colour(on_white, alpha)
    edge = (alpha > 0.3) & (alpha < 0.95)
    assert edge.sum() > 200
    before = np.abs(on_white[edge].astype(int) - photo[edge]).mean()
    after = np.abs(out[edge].astype(int) - photo[edge]).mean()
    assert after < 0.6 * before, (before, after)
