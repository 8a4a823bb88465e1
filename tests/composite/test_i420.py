"""livebg/composite/i420.py: I420Compositor, the YUV 4:2:0 path of file jobs, against the RGB
path (Matter -> Compositor -> OpenCV's RGB -> I420) on real frames, for every kind of background."""
from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np
import pytest

from livebg.composite.base import Background
from livebg.composite.blend import Compositor
from livebg.composite.factory import open_background
from livebg.composite.i420 import I420Compositor
from livebg.composite.image import ImageBackground
from livebg.composite.plain import OriginalBackground
from livebg.config import Config
from livebg.matte.matter import Matter
from tests.support.fastpath import (
    levels,
    planes,
    rgb_of,
)


class MovingBackground(Background):
    """The porch photo, scrolled a little more each frame: a new RGB array every frame (as a
    background video gives), with no YUV planes of its own."""

    transparent = False
    kind = "moving"

    def __init__(self, path):
        self.image = ImageBackground(path)

    def frame_at(self, t, frame):
        return np.roll(self.image.frame_at(t, frame), int(t * 48), axis=1)


def check_against_the_rgb_path(yuv_doctor, bg, name, *, chroma_mean: float, y_mean: float = 0.015, y_p999: int = 2,
                               chroma_p999: int = 2, frames: int = 10) -> int:
    """Runs both paths over the doctor frames; returns how many different backgrounds were shown."""
    yuvs, rgbs, probs = yuv_doctor
    yuvs, rgbs, probs = yuvs[:frames], rgbs[:frames], probs[:frames]
    h, w = rgbs[0].shape[:2]
    config = Config()
    rgb_matter, yuv_matter = Matter(config), Matter(config)  # smoothing is stateful: one each
    compositor, fast = Compositor(bg), I420Compositor(bg)
    y_means, y_p999s, c_means, c_uniform_p999, c_uniform_max, c_edge_max = [], [], [], [], [], []
    backgrounds = set()
    for k, (yuv, rgb, prob) in enumerate(zip(yuvs, rgbs, probs)):
        t = Fraction(k, 3)  # a video background shows a new frame each time
        backgrounds.add(bg.frame_at(t, rgb).tobytes())
        alpha = rgb_matter(prob, rgb)
        blended = compositor(rgb, alpha, t)
        reference = cv2.cvtColor(blended, cv2.COLOR_RGB2YUV_I420)
        out = fast(rgb, yuv, yuv_matter.luma_coefficients(prob, yuv[:h]), t)
        assert out.shape == yuv.shape and out.dtype == np.uint8
        d = levels(out, reference)
        y_means.append(d[:h].mean())
        y_p999s.append(np.percentile(d[:h], 99.9))
        c_means.append(d[h:].mean())
        # OpenCV's RGB -> I420 takes the chroma of the top-left pixel of each 2x2 block; the
        # kernel blends chroma with the block's mean alpha. Where alpha is the same across a
        # block the two agree to rounding; across a sharp edge inside a block they may not.
        block = alpha.reshape(h // 2, 2, w // 2, 2)
        uniform = block.max(axis=(1, 3)) - block.min(axis=(1, 3)) < 0.02
        du, dv = planes(d)[1:]
        c_uniform_p999.append(max(np.percentile(du[uniform], 99.9), np.percentile(dv[uniform], 99.9)))
        c_uniform_max.append(max(du[uniform].max(), dv[uniform].max()))
        c_edge_max.append(max(du[~uniform].max(), dv[~uniform].max()))
        # not trivially the frame or the background: both are replaced somewhere
        bg_yuv = cv2.cvtColor(bg.frame_at(t, rgb), cv2.COLOR_RGB2YUV_I420)
        assert (levels(out[:h], yuv[:h]) > 8).mean() > 0.2
        assert (levels(out[:h], bg_yuv[:h]) > 8).mean() > 0.2
    print(f"\n{name}: Y mean {max(y_means):.4f} p99.9 {max(y_p999s)}; chroma mean {max(c_means):.4f}, "
          f"p99.9 where alpha is uniform in the block {max(c_uniform_p999)} (max {max(c_uniform_max)}), "
          f"max across edges {max(c_edge_max)}; mixed blocks {fast.mixed_blocks}")
    assert max(y_means) < y_mean
    assert max(y_p999s) <= y_p999
    assert max(c_means) < chroma_mean
    assert max(c_uniform_p999) <= chroma_p999
    # the soft edge was computed, not everything copied: some blocks, but a small share of them
    assert 0 < fast.mixed_blocks < 0.1 * len(yuvs) * (h // 2) * (w // 2)
    return len(backgrounds)


# measured (10 frames of doctor_960x540, selfie model): Y mean |diff| 0.0067, p99.9 2;
# chroma mean 0.027 (image, moving) / 0.099 (green), p99.9 1 where alpha is uniform in the block
@pytest.mark.parametrize("background, chroma_mean", [("image", 0.06), ("green", 0.2), ("moving", 0.06)])
def test_i420_compositor_matches_the_rgb_path_on_real_frames(yuv_doctor, porch_photo, background, chroma_mean):
    bg = {"image": lambda: open_background(str(porch_photo), (960, 540)), "green": lambda: open_background("green", (960, 540)),
          "moving": lambda: MovingBackground(porch_photo)}[background]()
    backgrounds = check_against_the_rgb_path(yuv_doctor, bg, background, chroma_mean=chroma_mean)
    assert backgrounds == (len(yuv_doctor[0]) if background == "moving" else 1)


def test_video_background_is_the_same_picture_on_both_paths(yuv_doctor, shared):
    """A background video that must be cropped to the frame's aspect (320x176 -> 960x540) shows
    the same part of each background frame, at the same place, in the YUV and the RGB path.

    Scaling the planes instead of RGB differs by interpolation only: with the source rectangle
    mapped exactly in each plane that measured Y mean 0.14, p99.9 4; chroma mean 0.14, p99.9 6
    (a background shifted by a pixel or two of the source is Y mean ~3, p99.9 ~50)."""
    bunny = shared / "media/background_videos/big_buck_bunny_320x176.mp4"
    bg = open_background(str(bunny), (960, 540), fit="loop")
    try:
        shown = check_against_the_rgb_path(yuv_doctor, bg, "video", frames=4, y_mean=0.3, y_p999=8,
                                           chroma_mean=0.3, chroma_p999=8)
    finally:
        bg.close()
    assert shown == 4


def test_background_made_from_the_frame_uses_its_planes(yuv_doctor):
    """``--bg none``: the background is the frame itself, and the output is the input."""
    yuvs, rgbs, probs = yuv_doctor
    out = I420Compositor(OriginalBackground())(rgbs[0], yuvs[0], Matter(Config()).luma_coefficients(
        probs[0], yuvs[0][:540]), Fraction(0))
    assert np.array_equal(out, yuvs[0])


# measured on doctor frames, |planes - RGB background converted|: blur Y mean 0.21, p99.9 1;
# chroma mean 0.21, p99.9 1; blur:3 chroma mean 0.30, p99.9 4 (blurred at full size, where
# OpenCV's conversion takes each 2x2 block's top-left pixel and the planes its mean); gray Y
# mean 0.11, p99.9 2 (4 at 322x182; up to 17 where the frame's YUV is outside the RGB cube and
# RGB clips)
@pytest.mark.parametrize("spec, y_p999, chroma_p999", [("blur", 2, 2), ("blur:3", 2, 6), ("blur:100", 2, 2), ("gray", 4, 0)])
@pytest.mark.parametrize("size", [(960, 540), (322, 182)])
def test_backgrounds_made_from_the_frame_are_made_from_its_planes(yuv_doctor, spec, y_p999, chroma_p999, size):
    """blur and gray on the YUV path: the frame's own planes blurred (made grey), the same
    picture as the RGB background converted to YUV, without an RGB frame."""
    yuvs, rgbs, _ = yuv_doctor
    w, h = size
    background = open_background(spec, size)
    for yuv, rgb in zip(yuvs[:3], rgbs[:3]):
        if size != (960, 540):
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            yuv = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
            rgb = rgb_of(yuv)  # the RGB frame the decoder's planes would give
        reference = cv2.cvtColor(background.frame_at(Fraction(0), rgb), cv2.COLOR_RGB2YUV_I420)
        planes_out = background.i420_at(Fraction(0), yuv)
        assert planes_out.shape == yuv.shape and planes_out.dtype == np.uint8
        d = levels(planes_out, reference)
        print(f"{spec} {size}: Y mean {d[:h].mean():.3f} p99.9 {np.percentile(d[:h], 99.9)}, "
              f"chroma mean {d[h:].mean():.3f} p99.9 {np.percentile(d[h:], 99.9)}")
        assert d[:h].mean() < 0.3 and np.percentile(d[:h], 99.9) <= y_p999
        assert d[h:].mean() < 0.4 and np.percentile(d[h:], 99.9) <= chroma_p999
        # and it is not the frame: blurred (or grey) for real
        if spec == "gray":
            assert np.array_equal(planes_out[:h], yuv[:h]) and (planes_out[h:] == 128).all()
        else:
            assert levels(planes_out[:h], yuv[:h]).mean() > 1.5


@pytest.mark.parametrize("bg", ["#102030", "blur", "gray", "none", "porch"])
def test_i420_compositor_makes_the_rgb_frame_only_for_backgrounds_made_from_it(yuv_doctor, porch_photo, bg):
    """Given no RGB frame (the file jobs' fast path), the compositor gives the same planes: a
    colour, an image or ``none`` only needs the frame's size, blur and gray are made from the planes."""
    yuvs, rgbs, probs = yuv_doctor
    spec = str(porch_photo) if bg == "porch" else bg
    background = open_background(spec, (960, 540))
    coefficients = Matter(Config()).luma_coefficients(probs[3], yuvs[3][:540])
    with_rgb = I420Compositor(background)(rgbs[3], yuvs[3], coefficients, Fraction(0))
    without = I420Compositor(background)(None, yuvs[3], coefficients, Fraction(0))
    assert np.array_equal(with_rgb, without), bg
    assert background.uses_frame == (bg in ("blur", "gray"))  # none: the planes are the background
