"""The old background out of the edge pixels (livebg/matte/foreground.py): blur fusion for photos,
a matting model's own estimate of the foreground's colour for video."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from livebg.frames.frame import ForegroundEstimate
from livebg.matte.foreground import (
    EXTENT_PAD,
    extent,
    foreground_colour,
    model_foreground,
    model_foreground_i420,
    model_weight,
)
from tests.support import SHARED, video_frames


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
    alpha = Matter(config, edge_threshold=segmenter.edge_threshold)(segmenter.predict([photo])[0].alpha, photo)
    a = alpha[..., None]
    on_white = np.clip(a * photo + (1 - a) * 255 + 0.5, 0, 255).astype(np.uint8)
    out = foreground_colour(on_white, alpha)
    edge = (alpha > 0.3) & (alpha < 0.95)
    assert edge.sum() > 200
    before = np.abs(on_white[edge].astype(int) - photo[edge]).mean()
    after = np.abs(out[edge].astype(int) - photo[edge]).mean()
    assert after < 0.6 * before, (before, after)


# -- a matting model's own estimate (RVM's fgr) on video: model_foreground --------------------------

def _steep_edge_scene():
    """A frame whose left part is brown hair and right part a white wall, with a 12 px soft edge
    (mixed pixels), and a matting model's estimate at half size: the hair's colour, and its soft
    alpha. livebg's refined alpha is steep: the mixed pixels of the edge's inner half get 1."""
    h, w = 40, 96
    true_alpha = np.clip((54 - np.arange(w, dtype=np.float32)) / 12, 0, 1)[None, :].repeat(h, 0)
    hair, wall = np.array((120, 60, 20), np.float32), np.array((250, 250, 250), np.float32)
    a = true_alpha[..., None]
    frame = np.clip(a * hair + (1 - a) * wall + 0.5, 0, 255).astype(np.uint8)
    steep = (true_alpha >= 0.5).astype(np.float32)
    model_alpha = cv2.resize(true_alpha, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    colour = np.broadcast_to(hair / 255, (h // 2, w // 2, 3)).astype(np.float32)
    return frame, true_alpha, steep, ForegroundEstimate(colour, model_alpha), hair


def test_the_models_colour_replaces_the_old_wall_where_livebg_keeps_mixed_pixels():
    frame, true_alpha, steep, estimate, hair = _steep_edge_scene()
    colour = model_foreground(frame, estimate)
    rim = (steep == 1) & (true_alpha < 0.9)  # kept whole by livebg, yet part wall
    assert rim.sum() >= 4 * frame.shape[0]
    before = np.abs(frame[rim].astype(int) - hair).mean()
    after = np.abs(colour[rim].astype(int) - hair).mean()
    assert before > 40 and after < 4, (before, after)
    # inside the person the frame's own pixels stay
    inside = cv2.resize(estimate.alpha, true_alpha.shape[::-1], interpolation=cv2.INTER_LINEAR) >= 1.0
    assert inside.any() and np.array_equal(colour[inside], frame[inside])


def test_the_planes_version_is_the_rgb_one_converted():
    frame, _, _, estimate, _ = _steep_edge_scene()
    yuv = cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420)
    planes = model_foreground_i420(yuv, estimate)
    expected = cv2.cvtColor(model_foreground(frame, estimate), cv2.COLOR_RGB2YUV_I420)
    assert planes.shape == yuv.shape
    assert np.abs(planes.astype(int) - expected).max() <= 2


def _blob_scene(seed=3):
    """A 270x480 frame of blurred noise and a model estimate at 101x179 (a scale that is not a
    whole number) whose alpha is a soft disc right of centre: nobody elsewhere. Smooth colours,
    so that blending before and after the chroma's 2x2 subsampling agree (as on footage)."""
    rng = np.random.default_rng(seed)
    frame = cv2.GaussianBlur(rng.integers(0, 256, (270, 480, 3), dtype=np.uint8), (0, 0), 3)
    yy, xx = np.mgrid[:101, :179].astype(np.float32)
    alpha = np.clip((22 - np.hypot(xx - 120, yy - 45)) / 6, 0, 1).astype(np.float32)
    colour = cv2.GaussianBlur(rng.random((101, 179, 3), dtype=np.float32), (0, 0), 1)
    return frame, ForegroundEstimate(colour, alpha)


def test_only_the_box_where_the_model_found_someone_is_blended():
    """The model's colour is resized and blended only around its alpha (``extent``): there the
    result is the whole-frame resize and blend's, elsewhere the frame's own pixels."""
    frame, estimate = _blob_scene()
    h, w = frame.shape[:2]
    colour = cv2.resize(cv2.convertScaleAbs(estimate.colour, alpha=255.0), (w, h), interpolation=cv2.INTER_LINEAR)
    weight = cv2.resize(model_weight(estimate.alpha), (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
    whole = np.clip(weight * colour + (1 - weight) * frame + 0.5, 0, 255)
    x0, y0, x1, y1 = extent(estimate.alpha, h, w)
    # the disc spans model columns 99..141, rows 24..66 (alpha above 0.01), EXTENT_PAD wider
    sx, sy = w / 179, h / 101
    assert x0 <= (99 - EXTENT_PAD) * sx <= x0 + 2 and x1 - 2 <= (142 + EXTENT_PAD) * sx <= x1
    assert y0 <= (24 - EXTENT_PAD) * sy <= y0 + 2 and y1 - 2 <= (67 + EXTENT_PAD) * sy <= y1
    assert x0 % 2 == y0 % 2 == x1 % 2 == y1 % 2 == 0 and (x1 - x0) * (y1 - y0) < 0.25 * h * w
    out = model_foreground(frame, estimate)
    inside = np.zeros((h, w), bool)
    inside[y0:y1, x0:x1] = True
    assert np.array_equal(out[~inside], frame[~inside])
    # the warp samples where the resize does (OpenCV 5: within a level; 4.x rounds positions to 1/32 px)
    assert np.abs(out[inside].astype(int) - whole[inside]).max() <= 3
    # the planes version: the same box, the RGB result converted
    yuv = cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420)
    planes = model_foreground_i420(yuv, estimate)
    difference = np.abs(planes.astype(int) - cv2.cvtColor(out, cv2.COLOR_RGB2YUV_I420))
    # chroma: blended after its 2x2 subsampling here, before it in RGB; the weight changes
    # within a block at the edge (6 levels measured)
    assert difference[:h].max() <= 2 and difference[h:].max() <= 8
    assert np.array_equal(planes[:y0], yuv[:y0]) and planes is not yuv


def test_with_the_matte_only_the_pixels_it_shows_are_blended():
    """Given the frame's own matte (live and the RGB chain have it), the pixels it hides keep
    the frame's colour and the ones it shows are blended as without it."""
    frame, estimate = _blob_scene()
    h, w = frame.shape[:2]
    everywhere = model_foreground(frame, estimate)
    matte = cv2.resize(estimate.alpha, (w, h), interpolation=cv2.INTER_LINEAR)
    matte[matte < 0.3] = 0.0  # livebg's outline is steeper than the model's: it hides the faint rim
    out = model_foreground(frame, estimate, matte)
    shown = matte > 0
    changed = np.abs(everywhere.astype(int) - frame).max(-1) > 0
    assert (changed & ~shown).sum() > 1000  # the model's colour reached beyond the matte ...
    assert np.array_equal(out[~shown], frame[~shown])  # ... and is not blended there now
    assert np.array_equal(out[shown], everywhere[shown])
    with pytest.raises(ValueError, match="matte"):
        model_foreground(frame, estimate, matte[1:])


def test_a_carried_estimate_reads_its_colour_along_the_flow():
    """Live, an older estimate is moved onto a newer frame along the optical flow: its alpha is
    moved (segment.reuse.moved) and its colour read where the flow points, only where it is
    blended. That gives what moving the colour itself gives."""
    from livebg.segment.reuse import moved

    frame, estimate = _blob_scene()
    # a colour smooth at the model's pixels, as RVM's is (moving it first interpolates twice)
    estimate = ForegroundEstimate(cv2.GaussianBlur(estimate.colour, (0, 0), 3), estimate.alpha)
    h, w = estimate.alpha.shape
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    flow = np.dstack([5.5 + 0.02 * (xx - 120), -3.25 + 0.01 * yy]).astype(np.float32)  # a smooth motion
    alpha = moved(estimate.alpha, flow)
    expected = model_foreground(frame, ForegroundEstimate(moved(estimate.colour, flow), alpha))
    out = model_foreground(frame, ForegroundEstimate(estimate.colour, alpha), flow=flow)
    blended = np.abs(expected.astype(int) - frame).max(-1) > 2
    assert blended.sum() > 2000
    difference = np.abs(out.astype(int) - expected)
    assert difference.max() <= 3 and difference[blended].mean() < 0.5, (difference.max(), difference[blended].mean())
    unmoved = model_foreground(frame, ForegroundEstimate(estimate.colour, alpha))  # the colour left where it was
    assert np.abs(unmoved.astype(int) - expected)[blended].mean() > 5 * difference[blended].mean() + 1
    with pytest.raises(ValueError, match="flow"):
        model_foreground(frame, estimate, flow=flow[:, :, :1])


@pytest.mark.parametrize("model_size, frame_size", [((101, 179), (271, 481)), ((96, 200), (270, 480)),
                                                    ((120, 160), (61, 83))])
def test_the_box_holds_every_pixel_the_resized_alpha_reaches(model_size, frame_size):
    """People touching the frame's right and bottom edges, odd frame sizes, a model picture of
    another aspect, a frame smaller than the model's picture: every frame pixel where the
    resized alpha is above 0.01 is in the box, the box is in the frame, and its corners are even
    (a far side may end at an odd frame edge)."""
    mh, mw = model_size
    h, w = frame_size
    yy, xx = np.mgrid[:mh, :mw].astype(np.float32)
    alpha = np.clip((0.4 * mw - np.hypot(xx - mw, yy - mh)) / 5, 0, 1).astype(np.float32)  # a corner blob
    alpha[mh // 3 + 1, mw // 5 + 1] = 0.02  # and one faint pixel far from it
    x0, y0, x1, y1 = extent(alpha, h, w)
    assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h and x1 == w and y1 == h
    assert x0 % 2 == 0 and y0 % 2 == 0
    reached = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_LINEAR) > 0.01
    inside = np.zeros((h, w), bool)
    inside[y0:y1, x0:x1] = True
    assert reached.any() and not (reached & ~inside).any()
    frame = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    colour = np.random.default_rng(1).random((mh, mw, 3), dtype=np.float32)
    out = model_foreground(frame, ForegroundEstimate(colour, alpha))
    assert out.shape == frame.shape and np.array_equal(out[~inside], frame[~inside])


def test_nobody_found_leaves_the_frame_as_it_is():
    frame, estimate = _blob_scene()
    nobody = ForegroundEstimate(estimate.colour, np.zeros_like(estimate.alpha))
    assert extent(nobody.alpha, *frame.shape[:2]) is None
    assert np.array_equal(model_foreground(frame, nobody), frame)
    yuv = cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420)
    assert np.array_equal(model_foreground_i420(yuv, nobody), yuv)


def test_a_wrong_estimate_is_refused():
    frame, _, _, estimate, _ = _steep_edge_scene()
    with pytest.raises(ValueError, match="float32"):
        model_foreground(frame, ForegroundEstimate((estimate.colour * 255).astype(np.uint8), estimate.alpha))
    with pytest.raises(ValueError, match="alpha"):
        model_foreground(frame, ForegroundEstimate(estimate.colour, estimate.alpha[:-1]))


def test_rvms_colour_takes_the_white_rim_off_the_doctors_hair(rvm_cache, shared):
    """RVM on doctor frames 188-191 (hair top against a white wall), livebg's matte, over black:
    the rim of mixed pixels livebg keeps whole (its alpha 1, RVM's below 0.9) is much darker
    with RVM's foreground colour than with the frame's own pixels."""
    from livebg.config import Config
    from livebg.matte.matter import Matter
    from livebg.segment.factory import load_segmenter

    frames = video_frames(shared / "media/videos/doctor_960x540.mp4", 188, 191)
    config = Config().override("model", name="rvm", download=False).override("smoothing", method="none")
    segmenter, _ = load_segmenter(config.model)
    stream = segmenter.stream()
    for image in frames:
        prediction = stream.predict([image])[0]
    prob = prediction.alpha
    assert prediction.foreground is not None
    image = frames[-1]
    estimate = ForegroundEstimate(prediction.foreground, prob)
    alpha = Matter(config, edge_threshold=segmenter.edge_threshold)(prob, image)
    model_alpha = cv2.resize(prob, alpha.shape[::-1], interpolation=cv2.INTER_LINEAR)
    rim = (alpha > 0.5) & (model_alpha < 0.9)
    rim[60:] = False  # the top of the hair, against the white wall
    assert rim.sum() > 100
    a = alpha[..., None]
    before = (a * image)[rim].mean(-1)  # the rim's grey level over black
    after = (a * model_foreground(image, estimate))[rim].mean(-1)
    print(f"\nrim over black ({rim.sum()} pixels): mean level {before.mean():.1f} -> {after.mean():.1f}, "
          f"pale (above 140) {(before > 140).sum()} -> {(after > 140).sum()}")
    # measured 115 -> 90, and 91 pale pixels -> 14 (the hair inside is 50..150)
    assert after.mean() < 0.85 * before.mean()
    assert (before > 140).sum() > 40 and (after > 140).sum() < 0.3 * (before > 140).sum()
