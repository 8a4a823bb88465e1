"""livebg.composite: what each --bg value opens as (open_background and its Background kinds),
what each kind puts behind the person (frame_at), the blend of a frame over it (composite,
Compositor on OpenCV and on the tensor path), and the refusal of --bg values that cannot be
used, with a message that says what to give instead."""
from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np
import pytest

from livebg.composite.blend import Compositor, composite
from livebg.composite.blur import BlurBackground
from livebg.composite.factory import open_background
from livebg.composite.image import ImageBackground
from livebg.composite.plain import (
    ColorBackground,
    GrayBackground,
    OriginalBackground,
    TransparentBackground,
)
from livebg.composite.video import VideoBackground
from livebg.config import DEFAULT_BLUR, parse_bg
from livebg.errors import BackgroundError
from tests.support import lucia_frame

T0 = Fraction(0)
PORCH = "media/backgrounds/porch-691330_1280.jpg"  # 1280x960 (4:3), no people


def noise_frame(h: int = 90, w: int = 160, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def lucia(shared) -> tuple[np.ndarray, np.ndarray]:
    """A real frame (854x480) and a soft matte of its person: the truth mask, feathered."""
    frame, truth = lucia_frame(shared, 20)
    alpha = cv2.GaussianBlur(truth.astype(np.float32), (0, 0), 3)
    return frame, alpha


# -- open_background: each keyword opens its kind --------------------------------------------------

@pytest.mark.parametrize("spec, kind_type, kind, transparent", [
    ("white", ColorBackground, "white", False),
    ("black", ColorBackground, "black", False),
    ("green", ColorBackground, "green", False),
    ("WHITE", ColorBackground, "white", False),  # keywords are case-insensitive
    ("#3366cc", ColorBackground, "#3366cc", False),
    ("#fa0", ColorBackground, "#fa0", False),
    ("blur", BlurBackground, "blur", False),
    ("blur:7", BlurBackground, "blur", False),
    ("gray", GrayBackground, "gray", False),
    ("grey", GrayBackground, "gray", False),
    ("transparent", TransparentBackground, "transparent", True),
    ("none", OriginalBackground, "none", False),
    ("original", OriginalBackground, "none", False),
])
def test_each_keyword_opens_its_kind_of_background(spec, kind_type, kind, transparent):
    background = open_background(spec, (160, 90))
    assert type(background) is kind_type
    assert background.kind == kind and background.transparent is transparent


@pytest.mark.parametrize("spec, rgb", [("white", (255, 255, 255)), ("black", (0, 0, 0)), ("green", (0, 177, 64)),
                                       ("#3366cc", (0x33, 0x66, 0xCC)), ("#fa0", (0xFF, 0xAA, 0x00)),
                                       ("#FFAA00", (0xFF, 0xAA, 0x00))])
def test_a_colour_fills_the_frames_shape_with_that_colour(spec, rgb):
    background = open_background(spec, (160, 90))
    for shape in [(90, 160, 3), (37, 51, 3), (90, 160, 3)]:  # another size, then the first again
        out = background.frame_at(T0, noise_frame(*shape[:2]))
        assert out.shape == shape and out.dtype == np.uint8
        assert (out == np.array(rgb, np.uint8)).all(), (spec, out[0, 0])
    # only the frame's shape counts, never its pixels
    np.testing.assert_array_equal(background.frame_at(T0, noise_frame(seed=1)), background.frame_at(T0, noise_frame(seed=2)))


def test_white_is_all_255():
    out = open_background("white", (160, 90)).frame_at(T0, np.zeros((90, 160, 3), np.uint8))
    assert out.shape == (90, 160, 3) and out.min() == 255


def test_gray_is_the_frames_luma_in_all_three_channels():
    frame = noise_frame()
    out = open_background("gray", (160, 90)).frame_at(T0, frame)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()  # R = G = B
    luma = frame.astype(np.float64) @ np.array([0.299, 0.587, 0.114])  # ITU-R BT.601, as OpenCV weighs it
    assert np.abs(out[..., 0] - luma).max() <= 1


def test_transparent_has_no_picture():
    assert open_background("transparent", (160, 90)).frame_at(T0, noise_frame()) is None


def test_none_returns_the_frame_itself():
    frame = noise_frame()
    assert open_background("none", (160, 90)).frame_at(T0, frame) is frame


@pytest.mark.parametrize("spec, strength", [("blur", DEFAULT_BLUR), ("blur:3", 3), ("blur:60", 60), ("BLUR:200", 200)])
def test_blur_strength_comes_from_the_value(spec, strength):
    background = open_background(spec, (160, 90))
    assert isinstance(background, BlurBackground) and background.strength == strength


def test_blur_smooths_the_frame_more_the_stronger_it_is():
    frame = noise_frame(180, 320)
    spread = {}
    for strength in (2, 8, 40):
        out = open_background(f"blur:{strength}", (320, 180)).frame_at(T0, frame)
        assert out.shape == frame.shape and out.dtype == np.uint8
        assert abs(out.mean() - frame.mean()) < 2  # the light stays: a blur only spreads it
        spread[strength] = out.astype(np.float32).std()
    assert spread[40] < spread[8] < spread[2] < frame.std() / 3
    flat = np.full((180, 320, 3), 77, np.uint8)
    assert (open_background("blur", (320, 180)).frame_at(T0, flat) == 77).all()  # nothing to blur, nothing changes


# -- an image covers the frame ---------------------------------------------------------------------

@pytest.mark.parametrize("size", [(960, 540), (360, 640), (1920, 1080), (1280, 960)],
                         ids=["wider", "portrait", "larger", "same"])
def test_an_image_covers_the_frame_cropped_to_its_aspect(shared, size):
    """Scaled to fill the frame and cut to its aspect around the centre: neither stretched nor
    letterboxed."""
    width, height = size
    photo = cv2.cvtColor(cv2.imread(str(shared / PORCH)), cv2.COLOR_BGR2RGB)
    background = open_background(str(shared / PORCH), size)
    assert isinstance(background, ImageBackground) and background.kind == "image" and not background.transparent
    out = background.frame_at(T0, np.zeros((height, width, 3), np.uint8))
    assert out.shape == (height, width, 3) and out.dtype == np.uint8
    # the part of the photo with the frame's aspect, centred, worked out here independently
    ph, pw = photo.shape[:2]
    if width / height > pw / ph:  # the frame is wider: full width, rows cut top and bottom
        rows = round(pw * height / width)
        part = photo[(ph - rows) // 2:(ph - rows) // 2 + rows]
    else:  # narrower: full height, columns cut left and right
        cols = round(ph * width / height)
        part = photo[:, (pw - cols) // 2:(pw - cols) // 2 + cols]
    expected = cv2.resize(part, (width, height), interpolation=cv2.INTER_AREA if part.shape[1] > width else cv2.INTER_LINEAR)
    difference = np.abs(out.astype(np.int16) - expected)
    assert difference.mean() < 0.5 and np.percentile(difference, 99.9) <= 2, difference.mean()
    if size != (1280, 960):  # the check tells a stretched photo from a covering one
        stretched = cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA)
        assert np.abs(out.astype(np.int16) - stretched).mean() > 5


def test_a_video_background_is_fitted_to_the_frame(shared):
    with open_background(str(shared / "media/background_videos/big_buck_bunny_320x176.mp4"), (160, 90)) as background:
        assert isinstance(background, VideoBackground) and background.kind == "video"
        out = background.frame_at(T0, np.zeros((90, 160, 3), np.uint8))
        assert out.shape == (90, 160, 3) and out.dtype == np.uint8 and out.std() > 10  # a picture, not a blank


# -- the blend -------------------------------------------------------------------------------------

def test_alpha_one_is_the_frame_and_alpha_zero_the_background():
    frame, background = noise_frame(seed=1), noise_frame(seed=2)
    ones, zeros = np.ones((90, 160), np.float32), np.zeros((90, 160), np.float32)
    np.testing.assert_array_equal(composite(frame, ones, background), frame)
    np.testing.assert_array_equal(composite(frame, zeros, background), background)


def test_alpha_half_is_the_mean_within_a_level():
    frame, background = noise_frame(seed=1), noise_frame(seed=2)
    out = composite(frame, np.full((90, 160), 0.5, np.float32), background)
    mean = (frame.astype(np.float64) + background) / 2
    assert out.dtype == np.uint8 and np.abs(out - mean).max() <= 1


def test_any_alpha_weighs_frame_and_background():
    frame, background = noise_frame(seed=1), noise_frame(seed=2)
    alpha = np.random.default_rng(3).random((90, 160), dtype=np.float32)
    out = composite(frame, alpha, background)
    a = alpha[..., None].astype(np.float64)
    assert np.abs(out - (a * frame + (1 - a) * background)).max() <= 1


def test_no_background_gives_rgba_with_the_alpha():
    frame = noise_frame()
    alpha = np.random.default_rng(3).random((90, 160), dtype=np.float32)
    out = composite(frame, alpha, None)
    assert out.shape == (90, 160, 4) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[..., :3], frame)
    assert np.abs(out[..., 3] - alpha * 255.0).max() <= 0.5 + 1e-3  # rounded to the nearest level


@pytest.mark.parametrize("frame, alpha, message", [
    (np.zeros((90, 160, 3), np.float32), np.zeros((90, 160), np.float32), "frame must be uint8 HxWx3"),
    (np.zeros((90, 160), np.uint8), np.zeros((90, 160), np.float32), "frame must be uint8 HxWx3"),
    (np.zeros((90, 160, 3), np.uint8), np.zeros((90, 160), np.float64), "alpha must be float32"),
    (np.zeros((90, 160, 3), np.uint8), np.zeros((45, 80), np.float32), "alpha must be float32"),
], ids=["float-frame", "grey-frame", "float64-alpha", "small-alpha"])
def test_the_blend_checks_what_it_is_given(frame, alpha, message):
    with pytest.raises(ValueError, match=message):
        composite(frame, alpha, np.zeros((90, 160, 3), np.uint8))


def test_the_compositor_blends_over_its_background(lucia):
    frame, alpha = lucia
    h, w = alpha.shape
    white = Compositor(open_background("white", (w, h)))(frame, alpha, T0)
    person, outside = alpha > 0.999, alpha < 0.001
    assert person.any() and outside.any()
    np.testing.assert_array_equal(white[person], frame[person])
    assert (white[outside] == 255).all()
    rgba = Compositor(open_background("transparent", (w, h)))(frame, alpha, T0)
    assert rgba.shape == (h, w, 4)
    np.testing.assert_array_equal(rgba[..., :3], frame)
    assert (rgba[..., 3][person] == 255).all() and (rgba[..., 3][outside] == 0).all()
    original = Compositor(open_background("none", (w, h)))(frame, alpha, T0)
    np.testing.assert_array_equal(original, frame)  # the matte changes nothing: it is for --alpha-out


@pytest.mark.parametrize("spec", ["#3366cc", "blur", "gray", "IMAGE", "transparent", "none"])
@pytest.mark.parametrize("light_wrap", [0.0, 0.6])
def test_the_tensor_path_on_the_cpu_equals_the_opencv_path(lucia, shared, spec, light_wrap):
    """Compositor(device=...) blends with torch where the tensors live (float16 on CUDA); on the
    CPU it runs in float32 and gives OpenCV's blend within a level, for every kind of background."""
    frame, alpha = lucia
    h, w = alpha.shape
    background = open_background(str(shared / PORCH) if spec == "IMAGE" else spec, (w, h))
    on_cpu = Compositor(background, light_wrap=light_wrap)(frame, alpha, T0)
    on_device = Compositor(background, light_wrap=light_wrap, device="cpu")(frame, alpha, T0)
    assert on_device.dtype == np.uint8 and on_device.shape == on_cpu.shape
    assert np.abs(on_device.astype(np.int16) - on_cpu).max() <= 1
    if spec not in ("transparent", "none"):  # a real blend: the background shows where alpha is 0
        outside = alpha < 0.001
        picture = background.frame_at(T0, frame)
        np.testing.assert_array_equal(on_device[outside], picture[outside])


# -- --bg values that cannot be used ---------------------------------------------------------------

@pytest.mark.parametrize("spec, needles", [
    ("purple", ["unknown background 'purple'", "image or video path", "white", "#RRGGBB", "blur:STRENGTH", "transparent"]),
    ("#ggg", ["unknown background '#ggg'", "#RRGGBB", "#RGB"]),
    ("#12345", ["unknown background '#12345'", "#RRGGBB"]),
    ("blur:0", ["bad blur strength in 'blur:0'", "use blur:N with N from 1 to 200", f"default {DEFAULT_BLUR}"]),
    ("blur:201", ["bad blur strength", "from 1 to 200"]),
    ("blur:abc", ["bad blur strength in 'blur:abc'", "use blur:N"]),
    ("blur:", ["bad blur strength", "use blur:N"]),
    ("https://example.com/beach.jpg", ["URLs are not supported", "download the file and give its path"]),
    ("http://example.com/beach.mp4", ["URLs are not supported", "download the file"]),
    ("", ["empty --bg", "give an image, a video or a keyword"]),
    ("   ", ["empty --bg"]),
])
def test_an_unusable_value_is_refused_saying_what_to_give(spec, needles):
    with pytest.raises(BackgroundError) as info:
        parse_bg(spec)
    for needle in needles:
        assert needle in str(info.value), (needle, str(info.value))


def test_a_missing_file_is_refused_saying_to_check_the_path(tmp_path):
    missing = tmp_path / "beach.jpg"
    with pytest.raises(BackgroundError, match="background file not found") as info:
        parse_bg(str(missing))
    assert str(missing) in str(info.value) and "check the path" in str(info.value)
    with pytest.raises(BackgroundError, match="background file not found"):
        open_background(str(missing), (160, 90))


def test_a_folder_is_for_the_camera_not_for_a_file_job(tmp_path, shared):
    folder = tmp_path / "scenes"
    folder.mkdir()
    (folder / "porch.jpg").write_bytes((shared / PORCH).read_bytes())
    assert parse_bg(str(folder)).kind == "folder"  # livebg cam steps through a folder of backgrounds
    with pytest.raises(BackgroundError) as info:
        open_background(str(folder), (160, 90))
    message = str(info.value)
    assert str(folder) in message and "is a directory" in message and "give one image or video" in message


def test_an_unreadable_image_is_named_as_the_bg_file(tmp_path, shared):
    broken = tmp_path / "beach.jpg"
    data = (shared / PORCH).read_bytes()
    broken.write_bytes(data[: len(data) // 2])  # a copy that stopped half way
    with pytest.raises(BackgroundError) as info:
        open_background(str(broken), (160, 90))
    message = str(info.value)
    assert message.startswith("--bg ") and str(broken) in message and "use a JPEG, PNG" in message


def test_the_values_that_work_parse_to_what_they_say():
    assert parse_bg("#fa0").color == (255, 170, 0) and parse_bg("#FFAA00").color == (255, 170, 0)
    assert parse_bg(" White ").color == (255, 255, 255)  # spaces around are forgiven
    assert parse_bg("blur").blur == DEFAULT_BLUR and parse_bg("blur:1").blur == 1 and parse_bg("blur:200").blur == 200
    assert parse_bg("grey").kind == "gray" and parse_bg("original").kind == "original"
