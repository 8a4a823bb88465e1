"""TemporalSmoother: the three methods, reset, scene cuts, and the lag each setting adds."""
import cv2
import numpy as np
import pytest

from livebg.config import SmoothingConfig
from livebg.errors import ConfigError
from livebg.evaluation import lag_frames, synthetic_motion
from livebg.smoothing import TemporalSmoother


def noisy_still(n=30, seed=1):
    rng = np.random.default_rng(seed)
    base = np.zeros((32, 48), np.float32)
    base[8:24, 12:36] = 1
    return base, [np.clip(base + rng.normal(0, 0.05, base.shape), 0, 1).astype(np.float32) for _ in range(n)]


@pytest.mark.parametrize("method", ["ema", "adaptive"])
def test_smoothing_calms_a_still_matte(method):
    base, probs = noisy_still()
    smoother = TemporalSmoother(SmoothingConfig(method=method))
    out = [smoother(p).copy() for p in probs]
    raw_shimmer = np.mean([np.abs(a - b).mean() for a, b in zip(probs, probs[1:])])
    smooth_shimmer = np.mean([np.abs(a - b).mean() for a, b in zip(out[10:], out[11:])])
    assert smooth_shimmer < 0.5 * raw_shimmer


def test_none_passes_the_map_through_unchanged():
    _, probs = noisy_still(3)
    smoother = TemporalSmoother(SmoothingConfig(method="none"))
    for p in probs:
        np.testing.assert_array_equal(smoother(p), p)


def test_adaptive_follows_a_sudden_change_at_once():
    smoother = TemporalSmoother(SmoothingConfig(method="adaptive", strength=0.9))
    still = np.zeros((8, 8), np.float32)
    for _ in range(5):
        smoother(still)
    moved = still.copy()
    moved[:, 4:] = 1.0
    out = smoother(moved)
    assert out[:, 4:].min() == pytest.approx(1.0)  # no ghost of the old matte where it moved
    assert out[:, :4].max() == 0.0


def test_returned_map_is_not_overwritten_by_the_next_call():
    smoother = TemporalSmoother(SmoothingConfig(method="adaptive"))
    first = smoother(np.zeros((4, 4), np.float32)).copy()
    held = smoother(np.full((4, 4), 0.1, np.float32))
    kept = held.copy()
    smoother(np.full((4, 4), 0.2, np.float32))
    np.testing.assert_array_equal(held, kept)
    assert first.shape == (4, 4)


def test_reset_forgets_the_past():
    smoother = TemporalSmoother(SmoothingConfig(method="ema", strength=0.9))
    smoother(np.zeros((4, 4), np.float32))
    smoother.reset()
    np.testing.assert_array_equal(smoother(np.ones((4, 4), np.float32)), 1.0)


def test_scene_cut_resets_the_state():
    smoother = TemporalSmoother(SmoothingConfig(method="ema", strength=0.9))
    dark = np.full((36, 64, 3), 10, np.uint8)
    bright = np.full((36, 64, 3), 240, np.uint8)
    smoother(np.zeros((4, 4), np.float32), dark)
    smoother(np.zeros((4, 4), np.float32), dark)
    assert smoother.cuts == 0
    out = smoother(np.ones((4, 4), np.float32), bright)
    assert smoother.cuts == 1
    np.testing.assert_array_equal(out, 1.0)


def test_cuts_seen_in_the_grey_guide_as_in_the_frame(shared):
    """The matte stage checks for cuts on its small float guide; the verdicts match the RGB frame's."""
    from livebg.config import Config
    from livebg.matte import Matter
    from livebg.refine import guide_small

    doctor = read_frames(shared / "media/videos/doctor_960x540.mp4", 3)
    thoughtful = [cv2.resize(f, (960, 540)) for f in read_frames(shared / "media/videos/thoughtful.mp4", 3)]
    frames = doctor + thoughtful + doctor[:1]  # cuts at frames 3 and 6
    by_frame, by_guide = TemporalSmoother(), TemporalSmoother()
    matter, yuv_matter = Matter(Config()), Matter(Config())
    prob = np.zeros((36, 64), np.float32)
    for frame in frames:
        by_frame(prob, frame)
        by_guide(prob, guide_small(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))[0])
        matter(prob, frame)
        luma = cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420)[:frame.shape[0]]  # the file jobs' YUV path
        yuv_matter.luma_coefficients(prob, luma)
    assert by_frame.cuts == by_guide.cuts == matter.smoother.cuts == yuv_matter.smoother.cuts == 2


def read_frames(path, n):
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for _, f in zip(range(n), container.decode(video=0))]


def test_a_camera_pan_is_not_a_cut():
    smoother = TemporalSmoother(SmoothingConfig())
    rng = np.random.default_rng(0)
    scene = cv2.GaussianBlur(rng.integers(0, 255, (36, 400, 3), dtype=np.uint8), (0, 0), 6)
    scene = cv2.normalize(scene, None, 0, 255, cv2.NORM_MINMAX)  # a real scene: smooth, full contrast
    for x in range(0, 40, 4):  # the view slides 4 px a frame
        smoother(np.zeros((4, 4), np.float32), np.ascontiguousarray(scene[:, x:x + 64]))
    assert smoother.cuts == 0


def test_lag_figures():
    lags = {m: lag_frames(TemporalSmoother(SmoothingConfig(method=m))) for m in ("none", "ema", "adaptive")}
    assert lags["none"] == 0
    assert lags["adaptive"] < 0.5
    assert lags["ema"] > 1  # the fixed moving average trails a moving shape


def test_synthetic_motion_moves():
    frames = list(synthetic_motion(rest_frames=2, move_frames=3))
    assert len(frames) == 5
    assert not np.array_equal(frames[1][2], frames[-1][2])


@pytest.mark.parametrize("kwargs", [{"method": "median"}, {"strength": 1.0}, {"motion_threshold": 0}, {"cut_threshold": 2}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ConfigError):
        TemporalSmoother(SmoothingConfig(**kwargs))


def test_warm_up_leaves_no_state():
    from livebg.config import Config
    from livebg.matte import Matter

    matter = Matter(Config())
    frame = np.full((72, 128, 3), 200, np.uint8)
    matter.warm_up(frame, np.ones((36, 64), np.float32))
    assert matter.smoother.state is None  # the throwaway frame does not smooth the first real one
    alpha = matter(np.zeros((36, 64), np.float32), frame)
    assert alpha.shape == (72, 128) and alpha.max() == 0


def test_adaptive_kernel_is_loaded_at_construction_with_the_types_frames_pass(monkeypatch):
    """The compiled update is called once when the smoother is made (startup: numba loads or
    compiles it then), with the very argument types the frames pass later, so no frame pays for
    a second compile. Settings built as integers (the API allows SmoothingConfig(motion_threshold=1))
    reach the kernel as floats too."""
    import livebg.kernels

    real = livebg.kernels.adaptive_smooth
    calls = []

    def recording(*args):
        calls.append(tuple(type(a).__name__ if not isinstance(a, np.ndarray) else str(a.dtype) for a in args))
        return real(*args)

    monkeypatch.setattr(livebg.kernels, "adaptive_smooth", recording)
    smoother = TemporalSmoother(SmoothingConfig(method="adaptive", strength=0.5, motion_threshold=1))
    assert calls == [("float32", "float32", "float", "float", "float32")]
    smoother(np.full((9, 16), 0.2, np.float32))  # the first map only starts the state
    smoother(np.full((9, 16), 0.3, np.float32))
    assert calls == [("float32", "float32", "float", "float", "float32")] * 2
    TemporalSmoother(SmoothingConfig(method="ema"))
    assert len(calls) == 2  # other methods load nothing
