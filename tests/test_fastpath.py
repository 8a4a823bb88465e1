"""The YUV 4:2:0 fast path of file jobs: ``kernels.blend_i420``/``linear_axis``,
``Matter.luma_coefficients``, ``I420Compositor``, ``Frame.yuv`` from ``VideoFileSource``,
``VideoFileSink.write_i420`` and the choice between the two paths in ``run_video``.

The reference everywhere is the RGB path: Matter -> Compositor -> OpenCV's RGB -> I420.
"""
from __future__ import annotations

from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

import livebg.jobs.video as video_job
from livebg.composite.base import Background
from livebg.composite.blend import Compositor
from livebg.composite.blur import BlurBackground
from livebg.composite.factory import open_background
from livebg.composite.i420 import I420Compositor
from livebg.composite.image import ImageBackground
from livebg.composite.kernels import blend_i420, linear_axis
from livebg.composite.plain import OriginalBackground
from livebg.config import Config
from livebg.frames import yuv as i420
from livebg.frames.frame import Frame
from livebg.jobs import run_video
from livebg.matte.matter import Matter
from livebg.segment.factory import load_segmenter
from livebg.sinks.video import VideoFileSink
from livebg.sources.video import VideoFileSource
from tests.support import (
    NTSC,
    ConstantSegmenter,
    decode_index,
    read_video,
    write_clip,
)

planes = I420Compositor.planes


def levels(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int16) - b.astype(np.int16))


def upsample(coef: np.ndarray, width: int, height: int) -> np.ndarray:
    return cv2.resize(coef, (width, height), interpolation=cv2.INTER_LINEAR)


def reference_blend(yuv: np.ndarray, bg_yuv: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """What blend_i420 computes, written plainly in numpy: alpha = clip(A * Y + B, 0, 1) with A
    and B upsampled by OpenCV, Y blended per pixel, U and V with the mean alpha of their 2x2 block."""
    fy, fu, fv = planes(yuv)
    gy, gu, gv = planes(bg_yuv)
    h, w = fy.shape
    alpha = np.clip(upsample(a, w, h) * fy.astype(np.float32) + upsample(b, w, h), 0, 1)
    block = alpha.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    out = np.empty_like(yuv)
    oy, ou, ov = planes(out)

    def mix(f, g, k):
        f, g = f.astype(np.float32), g.astype(np.float32)
        return np.floor(g + k * (f - g) + 0.5).astype(np.uint8)

    oy[:] = mix(fy, gy, alpha)
    ou[:] = mix(fu, gu, block)
    ov[:] = mix(fv, gv, block)
    return out


def run_kernel(yuv: np.ndarray, bg_yuv: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int]:
    h, w = yuv.shape[0] * 2 // 3, yuv.shape[1]
    out = np.empty_like(yuv)
    mixed = blend_i420(*planes(yuv), *planes(yuv), *planes(bg_yuv), a, b, *linear_axis(w, a.shape[1]), *linear_axis(h, a.shape[0]),
                       *planes(out))
    return out, mixed


def random_i420(rng, width: int, height: int) -> np.ndarray:
    return rng.integers(0, 256, (height * 3 // 2, width), dtype=np.uint8)


def rgb_of(yuv: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420)


# -- real frames and the real default model, shared by the module ---------------------------------

@pytest.fixture(scope="module")
def segmenter():
    return load_segmenter(Config().model)[0]


@pytest.fixture(scope="module")
def doctor(shared, segmenter):
    """The first 10 frames of the doctor video as the decoder gives them (yuv420p), their RGB
    (OpenCV's conversion, as VideoFileSource makes it) and the default model's probabilities."""
    with av.open(str(shared / "media/videos/doctor_960x540.mp4")) as c:
        yuvs = []
        for frame in c.decode(video=0):
            assert frame.format.name == "yuv420p"
            yuvs.append(frame.to_ndarray(format="yuv420p"))
            if len(yuvs) == 10:
                break
    rgbs = [rgb_of(y) for y in yuvs]
    probs = [segmenter.predict([rgb])[0].alpha for rgb in rgbs]
    return yuvs, rgbs, probs


@pytest.fixture(scope="module")
def porch(shared):
    return shared / "media/backgrounds/porch-691330_1280.jpg"


@pytest.fixture(scope="module")
def clip(tmp_path_factory, shared):
    """20 frames of the doctor video at 480x270 (135 chroma rows: U and V not row-aligned), H.264."""
    return write_clip(tmp_path_factory.mktemp("fastpath") / "doctor480.mp4", frames=20, size=(480, 270), crf=12)


# -- 1. I420Compositor against the RGB path on real frames ----------------------------------------

class MovingBackground(Background):
    """The porch photo, scrolled a little more each frame: a new RGB array every frame (as a
    background video gives), with no YUV planes of its own."""

    transparent = False
    kind = "moving"

    def __init__(self, path):
        self.image = ImageBackground(path)

    def frame_at(self, t, frame):
        return np.roll(self.image.frame_at(t, frame), int(t * 48), axis=1)


def check_against_the_rgb_path(doctor, bg, name, *, chroma_mean: float, y_mean: float = 0.015, y_p999: int = 2,
                               chroma_p999: int = 2, frames: int = 10) -> int:
    """Runs both paths over the doctor frames; returns how many different backgrounds were shown."""
    yuvs, rgbs, probs = doctor
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
def test_i420_compositor_matches_the_rgb_path_on_real_frames(doctor, porch, background, chroma_mean):
    bg = {"image": lambda: open_background(str(porch), (960, 540)), "green": lambda: open_background("green", (960, 540)),
          "moving": lambda: MovingBackground(porch)}[background]()
    backgrounds = check_against_the_rgb_path(doctor, bg, background, chroma_mean=chroma_mean)
    assert backgrounds == (len(doctor[0]) if background == "moving" else 1)


def test_video_background_is_the_same_picture_on_both_paths(doctor, shared):
    """A background video that must be cropped to the frame's aspect (320x176 -> 960x540) shows
    the same part of each background frame, at the same place, in the YUV and the RGB path.

    Scaling the planes instead of RGB differs by interpolation only: with the source rectangle
    mapped exactly in each plane that measured Y mean 0.14, p99.9 4; chroma mean 0.14, p99.9 6
    (a background shifted by a pixel or two of the source is Y mean ~3, p99.9 ~50)."""
    bunny = shared / "media/background_videos/big_buck_bunny_320x176.mp4"
    bg = open_background(str(bunny), (960, 540), fit="loop")
    try:
        shown = check_against_the_rgb_path(doctor, bg, "video", frames=4, y_mean=0.3, y_p999=8,
                                           chroma_mean=0.3, chroma_p999=8)
    finally:
        bg.close()
    assert shown == 4


def test_background_made_from_the_frame_uses_its_planes(doctor):
    """``--bg none``: the background is the frame itself, and the output is the input."""
    yuvs, rgbs, probs = doctor
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
def test_backgrounds_made_from_the_frame_are_made_from_its_planes(doctor, spec, y_p999, chroma_p999, size):
    """blur and gray on the YUV path: the frame's own planes blurred (made grey), the same
    picture as the RGB background converted to YUV, without an RGB frame."""
    yuvs, rgbs, _ = doctor
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


@pytest.mark.parametrize("strength", [25, 8, 5, 3])
@pytest.mark.parametrize("size", [(960, 540), (322, 181)])
def test_blur_is_the_frames_gaussian_in_place(strength, size):
    """The blur (of an eighth-size copy for the default strength, a half-size one for 5) is the
    full-size Gaussian of that sigma to within a level or two, to the frame's edges (540 and 181
    rows end inside a block), and not moved: shifting it by a pixel either way only makes it
    further from the full-size blur."""
    w, h = size
    rng = np.random.default_rng(3)
    cell = max(6, strength)  # features about as large as the blur: it leaves them some contrast
    texture = rng.uniform(0, 255, (h // cell, w // cell, 3)).astype(np.float32)
    frame = np.clip(cv2.resize(texture, (w, h), interpolation=cv2.INTER_CUBIC), 0, 255).astype(np.uint8)
    out = open_background(f"blur:{strength}", size).frame_at(Fraction(0), frame).astype(np.float32)
    truth = cv2.GaussianBlur(frame.astype(np.float32), (0, 0), strength, borderType=cv2.BORDER_REFLECT)
    assert out.shape == frame.shape and out.flags.c_contiguous
    d = np.abs(out - truth)
    edges = {"top": d[:4], "bottom": d[-4:], "left": d[:, :4], "right": d[:, -4:]}
    print(f"\nblur:{strength} {w}x{h}: mean {d.mean():.2f}, max {d.max():.1f}; "
          + ", ".join(f"{k} {v.mean():.2f}" for k, v in edges.items()))
    # (blur:8, a quarter-size copy, is the loosest: mean 0.75-0.78 and up to 1.04 on an edge
    # since the small copy is blurred in float32; 0.65-0.67 and 0.89 with OpenCV's uint8 path)
    assert d.mean() < 0.9 and d.max() < 5
    for side, strip in edges.items():
        assert strip.mean() < 1.2, side
    m = 8  # away from the border, where the shifted copies wrap round
    inner = (slice(m, h - m), slice(m, w - m))

    def error(dy: int, dx: int) -> float:
        return float(np.abs(np.roll(out, (dy, dx), axis=(0, 1))[inner] - truth[inner]).mean())

    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        assert error(dy, dx) > error(0, 0), (dy, dx)


@pytest.mark.parametrize("shape", [(76, 120), (68, 120, 3), (181, 322, 3)])
@pytest.mark.parametrize("sigma", [0.5, 2.5, 3.1, 12.5])
def test_gaussian_blur_is_opencvs_to_within_two_levels(shape, sigma):
    """Blurred in float32 instead of by GaussianBlur's slow bit-exact uint8 path."""
    from livebg.composite.blur import gaussian_blur

    image = np.random.default_rng(4).integers(0, 255, shape, dtype=np.uint8)
    expected = cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    got = gaussian_blur(image, sigma)
    assert got.shape == image.shape and got.dtype == np.uint8
    assert np.abs(got.astype(int) - expected).max() <= 2


# -- 2. the kernel on synthetic data ---------------------------------------------------------------


@pytest.mark.parametrize("bg", ["#102030", "blur", "gray", "none", "porch"])
def test_i420_compositor_makes_the_rgb_frame_only_for_backgrounds_made_from_it(doctor, porch, bg):
    """Given no RGB frame (the file jobs' fast path), the compositor gives the same planes: a
    colour, an image or ``none`` only needs the frame's size, blur and gray are made from the planes."""
    yuvs, rgbs, probs = doctor
    spec = str(porch) if bg == "porch" else bg
    background = open_background(spec, (960, 540))
    coefficients = Matter(Config()).luma_coefficients(probs[3], yuvs[3][:540])
    with_rgb = I420Compositor(background)(rgbs[3], yuvs[3], coefficients, Fraction(0))
    without = I420Compositor(background)(None, yuvs[3], coefficients, Fraction(0))
    assert np.array_equal(with_rgb, without), bg
    assert background.uses_frame == (bg in ("blur", "gray"))  # none: the planes are the background

@pytest.mark.parametrize("size", [(480, 270), (322, 182), (64, 48)])
def test_kernel_pure_cases_are_exact(size):
    rng = np.random.default_rng(1)
    w, h = size
    yuv, bg = random_i420(rng, w, h), random_i420(rng, w, h)
    zero = np.zeros((h // 6 + 1, w // 6 + 1), np.float32)
    out, mixed = run_kernel(yuv, bg, zero, zero)
    assert np.array_equal(out, bg) and mixed == 0
    out, mixed = run_kernel(yuv, bg, zero, zero + 1)
    assert np.array_equal(out, yuv) and mixed == 0
    out, mixed = run_kernel(yuv, bg, zero, zero + 1.7)  # clipped to 1
    assert np.array_equal(out, yuv) and mixed == 0
    out, mixed = run_kernel(yuv, bg, zero, zero + 0.5)
    half = np.floor((yuv.astype(np.float32) + bg) / 2 + 0.5).astype(np.uint8)
    assert np.array_equal(out, half)
    assert mixed == (h // 2) * (w // 2)


@pytest.mark.parametrize("size", [(480, 270), (322, 182), (960, 540), (40, 30)])
def test_kernel_matches_a_numpy_reference(size):
    rng = np.random.default_rng(2)
    w, h = size
    yuv, bg = random_i420(rng, w, h), random_i420(rng, w, h)
    ch, cw = max(2, h // 6), max(2, w // 6)
    # a steep luma dependence and offsets that put some regions fully in or out, some mixed
    a = rng.normal(0, 0.02, (ch, cw)).astype(np.float32)
    b = rng.uniform(-3, 3, (ch, cw)).astype(np.float32)
    out, mixed = run_kernel(yuv, bg, a, b)
    expected = reference_blend(yuv, bg, a, b)
    d = levels(out, expected)
    assert d.max() <= 1
    assert (d > 0).mean() < 1e-3
    fy, gy = planes(yuv)[0], planes(bg)[0]
    assert (out[:h] == fy).any() and (out[:h] == gy).any() and (out[:h] != fy).any() and (out[:h] != gy).any()
    assert 0 < mixed < (h // 2) * (w // 2)


def test_kernel_copies_whole_blocks_only_where_alpha_cannot_depend_on_luma():
    """A = 0.01 with B = -0.3: alpha depends on Y everywhere (0 at Y 30, 1 at Y 130), so no
    block may be copied; with B = -3 alpha is 0 for any Y in 0..255 and every block is."""
    rng = np.random.default_rng(3)
    yuv, bg = random_i420(rng, 64, 48), random_i420(rng, 64, 48)
    a = np.full((8, 8), 0.01, np.float32)
    out, mixed = run_kernel(yuv, bg, a, np.full((8, 8), -0.3, np.float32))
    assert mixed == 32 * 24
    assert np.array_equal(out, reference_blend(yuv, bg, a, np.full((8, 8), -0.3, np.float32)))
    out, mixed = run_kernel(yuv, bg, a, np.full((8, 8), -3.0, np.float32))
    assert mixed == 0 and np.array_equal(out, bg)


def test_linear_axis_is_opencvs_inter_linear():
    rng = np.random.default_rng(4)
    for (h, w), (height, width) in [((45, 80), (270, 480)), ((7, 5), (270, 322)), ((20, 30), (20, 30)), ((30, 40), (24, 34))]:
        coef = rng.random((h, w), dtype=np.float32)
        x0, x1, wx = linear_axis(width, w)
        y0, y1, wy = linear_axis(height, h)
        assert x0.min() >= 0 and x1.max() <= w - 1 and 0 <= wx.min() and wx.max() < 1
        rows = coef[y0] + wy[:, None] * (coef[y1] - coef[y0])
        ours = rows[:, x0] + wx * (rows[:, x1] - rows[:, x0])
        assert np.abs(ours - upsample(coef, width, height)).max() < 1e-6


def test_planes_are_views_of_ffmpegs_packed_layout():
    """480x270 has 135 chroma rows of 240: U ends, and V starts, in the middle of a row of the array."""
    frame = av.VideoFrame(480, 270, "yuv420p")
    rng = np.random.default_rng(5)
    for plane in frame.planes:  # planes may have padded lines; fill each through its own view
        data = rng.integers(0, 256, (plane.height, plane.line_size), dtype=np.uint8)
        plane.update(data.tobytes())
    yuv = frame.to_ndarray(format="yuv420p")
    assert yuv.shape == (405, 480)
    y, u, v = planes(yuv)
    assert y.shape == (270, 480) and u.shape == v.shape == (135, 240)
    for ours, plane in zip((y, u, v), frame.planes):
        theirs = np.frombuffer(bytes(plane), np.uint8).reshape(plane.height, plane.line_size)[:, :plane.width]
        assert np.array_equal(ours, theirs)
    assert all(np.shares_memory(p, yuv) for p in (y, u, v))



def test_i420_copies_match_pyav_through_padded_lines(clip):
    """from_frame/to_frame copy rows past the decoder's line padding (480x270: U and V rows
    straddle the array's rows); PyAV's own conversions are the reference."""
    with av.open(str(clip)) as c:
        decoded = [f for _, f in zip(range(3), c.decode(video=0))]
    assert any(p.line_size > p.width for p in decoded[0].planes)  # the case that needs the copy
    for frame in decoded:
        yuv = i420.from_frame(frame)
        assert yuv.flags.c_contiguous and np.array_equal(yuv, frame.to_ndarray(format="yuv420p"))
        again = i420.to_frame(yuv)
        assert (again.width, again.height, again.format.name) == (480, 270, "yuv420p")
        assert np.array_equal(again.to_ndarray(format="yuv420p"), yuv)
    with pytest.raises(ValueError, match="yuv420p frame of even size"):
        i420.from_frame(av.VideoFrame(482, 271, "yuv420p"))
    with pytest.raises(ValueError, match="yuv420p frame of even size"):
        i420.from_frame(av.VideoFrame(480, 270, "rgb24"))

# -- 3. the coefficients against the RGB Refiner ---------------------------------------------------

def test_luma_coefficients_give_the_rgb_matte(doctor):
    yuvs, rgbs, probs = doctor
    h, w = rgbs[0].shape[:2]
    rgb_matter, yuv_matter = Matter(Config()), Matter(Config())
    means, p999, maxes = [], [], []
    for yuv, rgb, prob in zip(yuvs, rgbs, probs):
        expected = rgb_matter(prob, rgb)
        a, b = yuv_matter.luma_coefficients(prob, yuv[:h])
        assert a.dtype == b.dtype == np.float32 and a.shape == b.shape and a.shape[0] < h
        alpha = np.clip(upsample(a, w, h) * yuv[:h].astype(np.float32) + upsample(b, w, h), 0, 1)
        d = np.abs(alpha - expected)
        means.append(d.mean())
        p999.append(np.percentile(d, 99.9))
        maxes.append(d.max())
        assert 0.1 < (expected > 0.5).mean() < 0.9  # a real matte: person and background
    print(f"\nalpha from Y vs RGB matte: mean |diff| {max(means):.2e}, p99.9 {max(p999):.4f}, max {max(maxes):.3f}")
    assert max(means) < 1e-4  # measured 4.4e-5
    assert max(p999) < 0.025  # measured 0.012


# -- 4. run_video end to end -----------------------------------------------------------------------

def decoded(path):
    """(yuv420p planes of every frame, their pts, stream info) of an output video."""
    images, info = read_video(path)
    with av.open(str(path)) as c:
        frames = [(f.to_ndarray(format="yuv420p"), f.pts) for f in c.decode(video=0)]
    assert len(frames) == len(images)
    return [f for f, _ in frames], [p for _, p in frames], info


class Spy:
    """Counts the sink's calls of write / write_i420."""

    def __init__(self, monkeypatch):
        self.calls = {"write": 0, "write_i420": 0}
        for name in self.calls:
            original = getattr(VideoFileSink, name)

            def wrapper(sink, *args, _name=name, _original=original):
                self.calls[_name] += 1
                return _original(sink, *args)

            monkeypatch.setattr(VideoFileSink, name, wrapper)


# measured: porch Y mean 0.0058, chroma 0.048; blur (the default) Y 0.18, chroma 0.14
@pytest.mark.parametrize("bg, y_mean, chroma_mean", [("porch", 0.015, 0.1), ("blur", 0.3, 0.3)])
def test_run_video_fast_path_matches_the_rgb_path(clip, porch, segmenter, tmp_path, monkeypatch, bg, y_mean, chroma_mean):
    spec = str(porch) if bg == "porch" else bg
    config = Config().override("background", bg=spec).override("output", crf=0)  # lossless: compare the paths, not x264
    spy = Spy(monkeypatch)
    made_rgb, rgb_backgrounds = [], []
    original_rgb = Frame.rgb
    monkeypatch.setattr(Frame, "rgb", lambda frame: made_rgb.append(frame.index) or original_rgb(frame))
    original_blur = BlurBackground.frame_at
    monkeypatch.setattr(BlurBackground, "frame_at",
                        lambda bg, t, frame: rgb_backgrounds.append(t) or original_blur(bg, t, frame))
    fast = run_video(str(clip), tmp_path / "fast.mp4", config, segmenter=segmenter, progress=False)
    assert spy.calls == {"write": 0, "write_i420": 20}
    assert made_rgb == []  # the fast path never makes the full-size RGB frame
    assert rgb_backgrounds == []  # nor blurs one: the planes are blurred
    monkeypatch.setattr(VideoFileSink, "takes_i420", property(lambda sink: False))
    slow = run_video(str(clip), tmp_path / "slow.mp4", config, segmenter=segmenter, progress=False)
    assert spy.calls == {"write": 20, "write_i420": 20}
    assert sorted(set(made_rgb)) == list(range(20))
    assert len(rgb_backgrounds) == (20 if bg == "blur" else 0)
    assert fast.frames == slow.frames == 20
    fast_frames, fast_pts, fast_info = decoded(fast.output)
    slow_frames, slow_pts, slow_info = decoded(slow.output)
    input_frames, input_pts, input_info = decoded(clip)
    assert len(fast_frames) == len(slow_frames) == 20
    assert fast_pts == slow_pts
    assert [p * fast_info["time_base"] for p in fast_pts] == [p * input_info["time_base"] for p in input_pts]
    for key in ("width", "height", "rate", "pix_fmt"):
        assert fast_info[key] == slow_info[key] == input_info[key], key
    y_means, c_means = [], []
    for f, s in zip(fast_frames, slow_frames):
        d = levels(f, s)
        y_means.append(d[:270].mean())
        c_means.append(d[270:].mean())
    print(f"\nrun_video fast vs RGB path, {bg}: Y mean {max(y_means):.4f}, chroma mean {max(c_means):.4f}")
    assert max(y_means) < y_mean and max(c_means) < chroma_mean
    # the background was replaced: the output differs from the input (and the RGB path's test
    # against the background is in test_i420_compositor_matches_the_rgb_path_on_real_frames)
    assert levels(fast_frames[0][:270], input_frames[0][:270]).mean() > 10


def test_alpha_out_takes_the_rgb_path(clip, segmenter, tmp_path, monkeypatch):
    spy = Spy(monkeypatch)
    config = Config().override("background", bg="white").override("output", alpha_out=str(tmp_path / "alpha.mp4"))
    result = run_video(str(clip), tmp_path / "out.mp4", config, segmenter=segmenter, progress=False)
    assert result.alpha_output is not None and result.frames == 20
    assert spy.calls == {"write": 40, "write_i420": 0}  # 20 composites and 20 mattes


class DropPlanesOfOddFrames:
    """A VideoFileSource whose odd frames come without their YUV planes."""

    def __init__(self, source):
        self.source = source

    def __getattr__(self, name):
        return getattr(self.source, name)

    def __iter__(self):
        for frame in self.source:
            if frame.index % 2:
                frame.rgb()  # an RGB frame, as a source without planes gives it
                frame.yuv = None
            yield frame


def test_frames_without_planes_join_the_yuv_chain(clip, tmp_path, monkeypatch):
    """The chain is chosen once per job: a source that gives planes for most frames but some as
    RGB has those converted to planes (Frame.i420) and blended by the kernel like the others;
    all arrive, in order. With alpha 1 everywhere the kernel copies the planes as they are, so
    the converted frames come back to within the round trip RGB -> I420."""
    monkeypatch.setattr(video_job, "open_source", lambda spec, **kwargs: DropPlanesOfOddFrames(VideoFileSource(spec)))
    spy = Spy(monkeypatch)
    config = Config().override("background", bg="black").override("output", crf=0)
    result = run_video(str(clip), tmp_path / "out.mp4", config, segmenter=ConstantSegmenter(1.0), progress=False)
    assert result.frames == 20
    assert spy.calls == {"write": 0, "write_i420": 20}
    inputs, input_pts, _ = decoded(clip)
    outputs, output_pts, _ = decoded(result.output)
    assert output_pts == input_pts
    means = []
    for k, got in enumerate(outputs):
        diffs = [levels(got, sent).mean() for sent in inputs]
        assert int(np.argmin(diffs)) == k  # in order: each output is nearest to its own input
        if k % 2 == 0:
            assert np.array_equal(got, inputs[k]), k
        else:
            means.append(diffs[k])
    print(f"\nconverted frames vs input: mean |diff| {max(means):.4f}")
    assert max(means) < 0.05  # measured 0.020 through the RGB path before


def test_odd_size_video_takes_the_rgb_path(tmp_path, monkeypatch):
    """161x121 yuv420p (FFV1 allows odd sizes): no planes from the source, the sink pads, and
    every frame goes through the RGB path."""
    path = write_clip(tmp_path / "odd.mkv", picture="index", frames=6, rate=Fraction(25), size=(161, 121),
                            codec="ffv1", pix_fmt="yuv420p")
    _, info = read_video(path)
    assert info["pix_fmt"] == "yuv420p"  # so it is the size, not the format, that rules the planes out
    with VideoFileSource(path) as source:
        frames = list(source)
    assert len(frames) == 6
    assert all(f.yuv is None and f.image.shape == (121, 161, 3) for f in frames)
    spy = Spy(monkeypatch)
    config = Config().override("background", bg="black").override("output", crf=0)
    result = run_video(str(path), tmp_path / "out.mp4", config, segmenter=ConstantSegmenter(1.0), progress=False)
    assert result.frames == 6 and spy.calls == {"write": 6, "write_i420": 0}
    images, info = read_video(result.output)
    assert (info["width"], info["height"]) == (162, 122)  # padded for yuv420p
    assert [decode_index(image[60, 80]) for image in images] == list(range(6))
    for image, frame in zip(images, frames):
        assert levels(image[:121, :161], frame.image).mean() < 2


def test_video_source_gives_the_decoders_planes(clip):
    with av.open(str(clip)) as c:
        expected = [f.to_ndarray(format="yuv420p") for f in c.decode(video=0)]
    with VideoFileSource(clip) as source:
        frames = list(source)
    assert len(frames) == len(expected) == 20
    for frame, yuv in zip(frames, expected):
        assert frame.yuv is not None and frame.yuv.shape == (405, 480) and frame.yuv.dtype == np.uint8
        assert np.array_equal(frame.yuv, yuv)
        assert frame.image is None and np.array_equal(frame.rgb(), rgb_of(yuv))


# -- 5. VideoFileSink.write_i420 -------------------------------------------------------------------

def test_write_i420_round_trip(doctor, tmp_path):
    yuvs, _, _ = doctor
    small = [cv2.cvtColor(cv2.resize(rgb_of(y), (480, 270), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2YUV_I420)
             for y in yuvs[:5]]
    path = tmp_path / "planes.mp4"
    sink = VideoFileSink(path, width=480, height=270, rate=NTSC, time_base=Fraction(1, 30000), crf=0)
    assert sink.takes_i420
    for k, yuv in enumerate(small):
        sink.write_i420(yuv, 1001 * k)
    sink.close()
    frames, pts, info = decoded(path)
    assert (info["width"], info["height"], info["pix_fmt"]) == (480, 270, "yuv420p")
    assert [p * info["time_base"] for p in pts] == [Fraction(1001 * k, 30000) for k in range(5)]
    assert len(frames) == 5
    for got, sent in zip(frames, small):
        assert levels(got, sent).max() == 0  # x264 at crf 0 is lossless


def test_write_i420_rejects_wrong_frames(tmp_path):
    sink = VideoFileSink(tmp_path / "a.mp4", width=64, height=48, rate=Fraction(25), time_base=Fraction(1, 25))
    try:
        for bad in (np.zeros((48, 64), np.uint8), np.zeros((72, 66), np.uint8), np.zeros((48, 64, 3), np.uint8),
                    np.zeros((72, 64), np.float32), np.zeros((72, 64), np.uint16)):
            with pytest.raises(ValueError, match=r"\(72, 64\)"):
                sink.write_i420(bad, 0)
        assert sink.frames == 0
    finally:
        sink.abort()
    for kwargs, name in ((dict(alpha=True), "a.mov"), (dict(gray=True), "g.mp4"), ({}, "odd.mp4")):
        size = dict(width=65, height=48) if name == "odd.mp4" else dict(width=64, height=48)
        sink = VideoFileSink(tmp_path / name, rate=Fraction(25), time_base=Fraction(1, 25), **size, **kwargs)
        try:
            assert not sink.takes_i420, name
            with pytest.raises(ValueError, match="yuv420p"):
                sink.write_i420(np.zeros((72, 64), np.uint8), 0)
        finally:
            sink.abort()


def test_kernels_compile_where_no_cache_directory_is_writable(monkeypatch):
    """A read-only install run with an unwritable HOME: numba finds nowhere to cache and refuses
    cache=True at decoration; livebg's kernels then compile without a cache instead of failing."""
    from numba import njit
    from numba.core import caching

    from livebg.frames.jit import compiled

    def twice(x):
        return 2 * x

    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])
    with pytest.raises(RuntimeError, match="no locator available"):
        njit(cache=True)(twice)
    assert compiled(twice)(21) == 42
