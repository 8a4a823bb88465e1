"""Still frames reusing RVM's last call (``reuse.FlowReuse``, ``[model] still_reuse``): the gate
on synthetic motion, and on real footage: calm talking-head video reuses most calls and stays
with the every-frame alpha; the labelled clips (fast motion) never reuse."""
from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from livebg.cli import build_parser
from livebg.config import Config, ConfigError, ModelConfig, apply_settings
from livebg.evaluation import boundary_f, iou, load_labeled
from livebg.segment.factory import load_segmenter
from livebg.segment.reuse import FlowReuse
from livebg.segment.rvm import RvmSegmenter
from tests.support import RVM_FILE

pytestmark = pytest.mark.rvm


def textured_scene(shift: float = 0.0, radius: float = 60.0, h: int = 240, w: int = 320):
    """A textured background and a differently textured disc centred ``shift`` px right of the
    middle: (RGB uint8 picture, alpha)."""
    rng = np.random.default_rng(3)

    def texture(sigma: float) -> np.ndarray:  # structure the quarter-size flow picture still shows
        t = cv2.GaussianBlur(rng.random((h, w), np.float32), (0, 0), sigma)
        return cv2.normalize(t, None, 0, 255, cv2.NORM_MINMAX)

    back, front = texture(8), texture(5)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    cx = w / 2 + shift
    alpha = np.clip(radius + 0.5 - np.hypot(xs - cx, ys - h / 2), 0, 1).astype(np.float32)
    # the disc's texture moves with it
    m = np.float32([[1, 0, shift], [0, 1, 0]])
    front = cv2.warpAffine(front, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    grey = (alpha * front + (1 - alpha) * back).astype(np.uint8)
    return np.dstack([grey] * 3), alpha


def test_a_small_move_reuses_the_key_frame_moved_along_the_flow():
    reuse = FlowReuse(max_reuse=2)
    picture, alpha = textured_scene()
    reuse.remember(reuse.grey(picture), alpha, np.dstack([alpha] * 3))
    moved_picture, moved_truth = textured_scene(shift=1.0)
    got = reuse.reuse(reuse.grey(moved_picture))
    assert got is not None, f"residual {reuse.last_residual:.4f}"
    moved_alpha, moved_fg = got

    def centre(a: np.ndarray) -> float:
        return float((a * np.arange(a.shape[1])).sum() / a.sum())

    # the alpha followed the disc (1 px right), most of the way: the flow is measured at a quarter size
    assert 0.6 < centre(moved_alpha) - centre(alpha) < 1.2
    assert abs(centre(moved_alpha) - centre(moved_truth)) < abs(centre(alpha) - centre(moved_truth))
    assert iou(moved_alpha, moved_truth) > iou(alpha, moved_truth) + 0.005
    assert np.abs(moved_alpha - moved_truth).sum() < 0.5 * np.abs(alpha - moved_truth).sum()
    np.testing.assert_allclose(moved_fg[..., 0], moved_alpha, atol=1e-5)


def test_an_outline_that_changes_runs_the_model():
    reuse = FlowReuse(max_reuse=2)
    picture, alpha = textured_scene()
    reuse.remember(reuse.grey(picture), alpha, None)
    grown, _ = textured_scene(radius=72.0)  # the outline itself changed: no motion explains it
    assert reuse.reuse(reuse.grey(grown)) is None
    assert reuse.last_residual >= reuse.threshold


def test_reuse_stops_after_max_reuse_frames_and_after_reset():
    reuse = FlowReuse(max_reuse=2)
    picture, alpha = textured_scene()
    grey = reuse.grey(picture)
    assert reuse.reuse(grey) is None  # no key frame yet
    reuse.remember(grey, alpha, None)
    assert reuse.reuse(grey) is not None and reuse.reuse(grey) is not None
    assert reuse.reuse(grey) is None  # the third in a row: the model runs
    reuse.remember(grey, alpha, None)
    reuse.reset()
    assert reuse.reuse(grey) is None


def test_still_reuse_setting_flag_and_range():
    assert Config().model.still_reuse == 2
    assert apply_settings(Config(), still_reuse=0).model.still_reuse == 0
    assert build_parser().parse_args(["video", "in.mp4", "--still-reuse", "0"]).still_reuse == 0
    with pytest.raises(ConfigError, match="still_reuse -1 is out of range"):
        apply_settings(Config(), still_reuse=-1)


def doctor_frames(shared, count: int) -> list[np.ndarray]:
    with av.open(str(shared / "media/videos/doctor_960x540.mp4")) as container:
        return [f.to_ndarray(format="rgb24") for _, f in zip(range(count), container.decode(video=0))]


@pytest.fixture(scope="module")
def every_frame():
    return RvmSegmenter(RVM_FILE, threads=2)


@pytest.fixture(scope="module")
def reusing():
    return RvmSegmenter(RVM_FILE, threads=2, still_reuse=2)


def test_calm_footage_reuses_most_calls_and_keeps_the_every_frame_alpha(shared, every_frame, reusing):
    frames = doctor_frames(shared, 24)
    plain, stream = every_frame.stream(), reusing.stream()
    ref = [plain.predict([f])[0].alpha for f in frames]
    predictions = [stream.predict([f])[0] for f in frames]
    got = [p.alpha for p in predictions]
    assert stream.calls + stream.reused == len(frames)
    assert stream.calls <= 10, f"{stream.calls} model calls of {len(frames)} on a talking head"
    truth = [(r >= 0.5).astype(np.float32) for r in ref]
    assert min(iou(g, t) for g, t in zip(got, truth)) > 0.98
    assert np.mean([boundary_f(g, t) for g, t in zip(got, truth)]) > 0.98
    # the foreground colour is there for reused frames too, at the alpha's size
    assert all(p.foreground is not None and p.foreground.shape[:2] == p.alpha.shape for p in predictions)


@pytest.mark.parametrize("clip", ["davis_parkour", "davis_breakdance-flare"])
def test_fast_motion_never_reuses(shared, reusing, clip):
    stream = reusing.stream()
    for image, _ in load_labeled(shared / "media" / "labeled" / clip, 12):
        stream.predict([image])
    assert stream.reused == 0 and stream.calls == 12


def test_video_jobs_get_the_setting_and_photos_do_not_reuse(rvm_cache, shared):
    segmenter, _ = load_segmenter(ModelConfig(name="rvm", device="cpu"))
    assert isinstance(segmenter, RvmSegmenter) and segmenter.still_reuse == 2
    assert "still frames reuse a call (up to 2 in a row)" in segmenter.stream_note
    assert "reuse" not in segmenter.describe()  # the photos' startup line: photos never reuse
    frame = doctor_frames(shared, 1)[0]
    # photos: every call runs the model (settled from zero), the same picture twice gives the same alpha
    np.testing.assert_array_equal(segmenter.predict([frame])[0].alpha, segmenter.predict([frame])[0].alpha)
    off, _ = load_segmenter(ModelConfig(name="rvm", device="cpu", still_reuse=0))
    assert off.stream().still is None and "still frames" not in off.stream_note


def test_something_new_in_the_background_runs_the_model():
    """Someone walking in far from the person's outline: the outline is still, the model runs."""
    reuse = FlowReuse(max_reuse=2)
    picture, alpha = textured_scene()
    reuse.remember(reuse.grey(picture), alpha, None)
    entered = picture.copy()
    entered[150:230, 10:60] = 255  # 5 % of the picture, in the background
    assert reuse.reuse(reuse.grey(entered)) is None
    assert reuse.last_residual < reuse.threshold and reuse.last_changed > 0.01


def test_a_tiny_model_size_runs_the_model_instead_of_failing(every_frame):
    """--infer-size 32 on a 4:3 video: the flow picture (10x8) is too small for DIS flow."""
    stream = RvmSegmenter(RVM_FILE, threads=2, model_short=32, still_reuse=2).stream()
    frame = np.full((480, 640, 3), 128, np.uint8)
    for _ in range(3):
        assert stream.predict([frame])[0].alpha.shape == (32, 43)
    assert stream.calls == 3 and stream.reused == 0
