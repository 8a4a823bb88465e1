"""TemporalSmoother: the three methods, reset, scene cuts, and the lag each setting adds."""
import cv2
import numpy as np
import pytest

from livebg.config import SmoothingConfig
from livebg.errors import ConfigError
from livebg.evaluation import lag_frames, synthetic_motion
from livebg.matte.smoothing import TemporalSmoother


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
    from livebg.frames.cuts import CutDetector

    smoother = TemporalSmoother(SmoothingConfig(method="ema", strength=0.9))
    cuts = CutDetector(SmoothingConfig().cut_threshold)  # found once upstream; the smoother is told
    dark = np.full((36, 64, 3), 10, np.uint8)
    bright = np.full((36, 64, 3), 240, np.uint8)
    smoother(np.zeros((4, 4), np.float32), cut=cuts(dark))
    smoother(np.zeros((4, 4), np.float32), cut=cuts(dark))
    assert smoother.cuts == 0
    out = smoother(np.ones((4, 4), np.float32), cut=cuts(bright))
    assert smoother.cuts == 1
    np.testing.assert_array_equal(out, 1.0)


def test_cuts_seen_in_the_grey_guide_and_the_y_plane_as_in_the_frame(shared):
    """Cuts are found once a frame: by a video job's segment stage on the frame's own picture
    (its Y plane on the YUV chain), by the matte itself on its small float guide when it is
    given none (the live loop, the API's matte alone); the verdicts match the RGB frame's, and a
    given cut is what the matte follows."""
    from livebg.config import Config
    from livebg.frames.cuts import CutDetector, frame_thumbnail
    from livebg.frames.frame import Frame
    from livebg.matte.matter import Matter
    from livebg.matte.refine import guide_small

    doctor = read_frames(shared / "media/videos/doctor_960x540.mp4", 3)
    thoughtful = [cv2.resize(f, (960, 540)) for f in read_frames(shared / "media/videos/thoughtful.mp4", 3)]
    frames = doctor + thoughtful + doctor[:1]  # cuts at frames 3 and 6
    by_frame, by_guide, by_planes = CutDetector(), CutDetector(), CutDetector()
    matter, yuv_matter, told = Matter(Config()), Matter(Config()), Matter(Config())
    prob = np.zeros((36, 64), np.float32)
    found = []
    for i, frame in enumerate(frames):
        found.append(by_frame(frame))
        assert by_guide(guide_small(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))[0]) == found[-1]
        yuv = cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420)
        assert by_planes(thumb=frame_thumbnail(Frame(i, i, 0, None, yuv=yuv))) == found[-1]  # the file jobs' YUV chain
        matter(prob, frame)
        yuv_matter.luma_coefficients(prob, yuv[:frame.shape[0]])
        told(prob, frame, cut=i == 2)  # a cut it is told of, not one it finds
    assert found == [False, False, False, True, False, False, True]
    assert matter.smoother.cuts == yuv_matter.smoother.cuts == 2 and told.smoother.cuts == 1


def read_frames(path, n):
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for _, f in zip(range(n), container.decode(video=0))]


def test_a_camera_pan_is_not_a_cut():
    from livebg.frames.cuts import CutDetector

    smoother, cuts = TemporalSmoother(SmoothingConfig()), CutDetector(SmoothingConfig().cut_threshold)
    rng = np.random.default_rng(0)
    scene = cv2.GaussianBlur(rng.integers(0, 255, (36, 400, 3), dtype=np.uint8), (0, 0), 6)
    scene = cv2.normalize(scene, None, 0, 255, cv2.NORM_MINMAX)  # a real scene: smooth, full contrast
    for x in range(0, 40, 4):  # the view slides 4 px a frame
        smoother(np.zeros((4, 4), np.float32), cut=cuts(np.ascontiguousarray(scene[:, x:x + 64])))
    assert smoother.cuts == 0


def test_lag_figures():
    def smoother(method):
        smooth = TemporalSmoother(SmoothingConfig(method=method))
        return lambda prob, frame: smooth(prob)  # one shot: no cuts

    lags = {m: lag_frames(smoother(m)) for m in ("none", "ema", "adaptive")}
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
    from livebg.matte.matter import Matter

    matter = Matter(Config())
    frame = np.full((72, 128, 3), 200, np.uint8)
    matter.warm_up(frame, np.ones((36, 64), np.float32))
    assert matter.smoother.state is None  # the throwaway frame does not smooth the first real one
    alpha = matter(np.zeros((36, 64), np.float32), frame)
    assert alpha.shape == (72, 128) and alpha.max() == 0


def _record_kernel_calls(monkeypatch, name: str) -> list[tuple]:
    """Wrap ``livebg.kernels.<name>``: each call's argument types (dtypes for arrays) are recorded."""
    import livebg.matte.kernels as kernels

    real = getattr(kernels, name)
    calls = []

    def recording(*args):
        calls.append(tuple(type(a).__name__ if not isinstance(a, np.ndarray) else str(a.dtype) for a in args))
        return real(*args)

    monkeypatch.setattr(kernels, name, recording)
    return calls


def test_adaptive_kernel_is_loaded_at_construction_with_the_types_frames_pass(monkeypatch):
    """The compiled update is called once when the smoother is made (startup: numba loads or
    compiles it then), with the very argument types the frames pass later, so no frame pays for
    a second compile. Settings built as integers (the API allows SmoothingConfig(motion_threshold=1))
    reach the kernel as floats too."""
    calls = _record_kernel_calls(monkeypatch, "adaptive_smooth")
    smoother = TemporalSmoother(SmoothingConfig(method="adaptive", strength=0.5, motion_threshold=1))
    assert calls == [("float32", "float32", "float", "float", "float32")]
    smoother(np.full((9, 16), 0.2, np.float32))  # the first map only starts the state
    smoother(np.full((9, 16), 0.3, np.float32))
    assert calls == [("float32", "float32", "float", "float", "float32")] * 2
    TemporalSmoother(SmoothingConfig(method="ema"))
    assert len(calls) == 2  # other methods load nothing


def test_neighbour_kernel_is_loaded_when_the_matter_is_made(monkeypatch):
    """As the smoother's: loading it (0.4 s the first time in a process) belongs to startup,
    not to the first frame of the job, and the frames then pass the same argument types."""
    calls = _record_kernel_calls(monkeypatch, "neighbour_average")
    matter = _matter(look_ahead=True)
    assert len(calls) == 1
    frames, probs = _scene(3)
    _alphas(matter, probs, frames)
    assert len(calls) == 4 and set(calls) == {calls[0]}
    _matter(look_ahead=False)
    assert len(calls) == 4  # no look-ahead, nothing loaded


# -- look-ahead: the neighbour average of file jobs ------------------------------------------

def test_neighbour_average_weighs_neighbours_where_the_picture_is_unchanged():
    from livebg.matte.smoothing import (
        NEIGHBOUR_WEIGHT,
        PICTURE_TOLERANCE,
        neighbour_average,
    )

    prob = np.full((4, 3), 0.2, np.float32)
    guide = np.full((4, 3), 0.5, np.float32)
    other = np.full((4, 3), 0.8, np.float32)
    moved = guide.copy()
    moved[0] += PICTURE_TOLERANCE  # changed by the tolerance: no weight
    moved[1] += PICTURE_TOLERANCE / 2  # half of it: half the weight
    moved[2] -= PICTURE_TOLERANCE / 2  # either way
    out = neighbour_average(prob, guide, [(other, guide), (other, moved)])
    w = NEIGHBOUR_WEIGHT
    np.testing.assert_allclose(out[0], (0.2 + w * 0.8) / (1 + w), atol=1e-6)
    np.testing.assert_allclose(out[1], (0.2 + 1.5 * w * 0.8) / (1 + 1.5 * w), atol=1e-6)
    np.testing.assert_allclose(out[2], out[1], atol=1e-6)
    np.testing.assert_allclose(out[3], (0.2 + 2 * w * 0.8) / (1 + 2 * w), atol=1e-6)
    assert out is not prob and np.all(prob == np.float32(0.2))
    np.testing.assert_array_equal(neighbour_average(prob, guide, []), prob)


def _matter(**smoothing):
    from livebg.config import Config
    from livebg.matte.matter import Matter

    return Matter(Config().override("smoothing", **smoothing).override("refine", method="bilinear"))


def _alphas(matter, probs, frames):
    return [alpha for _, alpha in matter.stream((None, p, f, None) for p, f in zip(probs, frames))]


def test_look_ahead_calms_a_still_matte_further():
    _, probs = noisy_still(30)
    frames = [np.full((32, 48, 3), 90, np.uint8)] * len(probs)

    def shimmer(alphas):
        return np.mean([np.abs(a - b).mean() for a, b in zip(alphas[10:], alphas[11:])])

    causal = shimmer(_alphas(_matter(look_ahead=False), probs, frames))
    ahead = shimmer(_alphas(_matter(look_ahead=True), probs, frames))
    assert ahead < 0.8 * causal


def test_look_ahead_adds_no_lag():
    def stream(matter):
        return lambda pairs: _alphas(matter, *zip(*pairs))

    assert lag_frames(stream=stream(_matter(method="adaptive", look_ahead=True))) < 0.5
    assert lag_frames(stream=stream(_matter(method="ema", look_ahead=True))) > 1  # it does not cure a trailing EMA
    assert _matter(method="none", look_ahead=True).look_ahead is False  # --smoothing none: nothing in time


def _scene(n=5):
    """n identical textured frames and all-zero maps (the look-ahead's test bed)."""
    rng = np.random.default_rng(5)
    frame = cv2.GaussianBlur(rng.integers(0, 255, (36, 64, 3), dtype=np.uint8), (0, 0), 2)
    return [frame.copy() for _ in range(n)], [np.zeros((36, 64), np.float32) for _ in range(n)]


def test_look_ahead_averages_with_the_frames_before_and_after():
    from livebg.matte.smoothing import NEIGHBOUR_WEIGHT as W

    frames, probs = _scene()
    probs[2][:, 20:40] = 1  # only frame 2 sees something
    # strength 0: the smoother passes maps through, so the alphas are the look-ahead's averages
    alphas = _alphas(_matter(strength=0.0, look_ahead=True), probs, frames)
    region = (slice(None), slice(24, 36))
    np.testing.assert_allclose(alphas[1][region], W / (1 + 2 * W), atol=1e-6)  # the next frame's map, weighed in
    np.testing.assert_allclose(alphas[2][region], 1 / (1 + 2 * W), atol=1e-6)
    np.testing.assert_allclose(alphas[3][region], W / (1 + 2 * W), atol=1e-6)  # and the previous one's
    assert alphas[0].max() == 0 and alphas[4].max() == 0  # two frames away: untouched
    causal = _alphas(_matter(strength=0.0, look_ahead=False), probs, frames)
    assert causal[1].max() == 0 and causal[3].max() == 0


def test_look_ahead_ignores_a_neighbour_where_its_picture_changed():
    from livebg.matte.smoothing import NEIGHBOUR_WEIGHT as W
    from livebg.matte.smoothing import PICTURE_TOLERANCE

    frames, probs = _scene(3)
    probs[2][:, 20:40] = 1
    # something moved in the left part of frame 2's region (by more than the tolerance), not a cut
    frames[2][:, 16:30] = np.clip(frames[2][:, 16:30].astype(int) + int(PICTURE_TOLERANCE * 255 * 2), 0, 255)
    alphas = _alphas(_matter(strength=0.0, look_ahead=True), probs, frames)
    assert alphas[1][:, 20:26].max() == 0  # where the picture changed: frame 1 keeps its own map
    np.testing.assert_allclose(alphas[1][:, 32:36], W / (1 + 2 * W), atol=1e-6)  # where it did not: averaged


@pytest.mark.parametrize("count", [0, 1, 2, 5])
def test_stream_gives_every_frame_once_in_order(count):
    matter = _matter(strength=0.0, look_ahead=True)
    # the picture brightens a little each frame (not a cut), the map grows: each frame's matte
    # lies between its neighbours', nearest its own
    frames = [np.full((18, 32, 3), 100 + 2 * i, np.uint8) for i in range(count)]
    probs = [np.full((9, 16), 0.2 * i, np.float32) for i in range(count)]
    out = list(matter.stream((f"frame {i}", p, f, None) for i, (p, f) in enumerate(zip(probs, frames))))
    assert [tag for tag, _ in out] == [f"frame {i}" for i in range(count)]
    assert all(alpha.shape == (18, 32) for _, alpha in out)
    values = [float(alpha.mean()) for _, alpha in out]
    for i, v in enumerate(values):
        low, high = 0.2 * max(i - 1, 0), 0.2 * min(i + 1, count - 1)
        assert low - 1e-6 <= v <= high + 1e-6 and abs(v - 0.2 * i) < 0.1
    assert values == sorted(values)


@pytest.mark.parametrize("luma", [False, True], ids=["rgb", "y-plane"])
def test_without_look_ahead_the_stream_is_the_per_frame_chain(luma):
    from livebg.config import Config
    from livebg.matte.matter import Matter

    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 255, (36, 64, 3), dtype=np.uint8) for _ in range(4)]
    if luma:
        frames = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    probs = [rng.random((18, 32), dtype=np.float32) for _ in range(4)]
    config = Config().override("smoothing", look_ahead=False)
    one = Matter(config)
    expected = [(one.luma_coefficients if luma else one)(p, f) for p, f in zip(probs, frames)]
    got = [m for _, m in Matter(config).stream(((None, p, f, None) for p, f in zip(probs, frames)), luma=luma)]
    for e, g in zip(expected, got, strict=True):
        for a, b in zip(e if luma else [e], g if luma else [g]):
            np.testing.assert_array_equal(a, b)


def test_look_ahead_does_not_reach_across_a_scene_cut():
    # Two shots that share a grey right half (the picture there is unchanged across the cut)
    # but not the left: the person on the right of the second shot must not appear in the
    # last frame of the first.
    first = np.zeros((36, 64, 3), np.uint8)
    first[:, 32:] = 128
    second = first.copy()
    second[:, :32] = 255
    empty = np.zeros((36, 64), np.float32)
    person = empty.copy()
    person[:, 40:56] = 1
    alphas = _alphas(_matter(look_ahead=True), [empty, empty, person, person], [first, first, second, second])
    assert alphas[1].max() == 0
    assert alphas[2][:, 44:52].min() > 0.99


def test_the_single_frame_calls_check_what_they_are_given():
    from livebg.config import Config
    from livebg.matte.matter import Matter

    matter = Matter(Config())
    prob = np.zeros((18, 32), np.float32)
    with pytest.raises(ValueError, match="HxWx3"):
        matter(prob, np.zeros((36, 64), np.uint8))  # a Y plane where an RGB frame belongs
    with pytest.raises(ValueError, match="HxW plane"):
        matter.luma_coefficients(prob, np.zeros((36, 64, 3), np.uint8))


def test_backward_is_the_adaptive_update_run_from_the_furthest_map_back():
    from livebg.matte.kernels import adaptive_smooth

    smoother = TemporalSmoother(SmoothingConfig(method="adaptive", strength=0.8, motion_threshold=0.5))
    rng = np.random.default_rng(7)
    maps = [rng.random((6, 5), dtype=np.float32) * 0.3 for _ in range(3)]

    def update(prob, state):
        out = np.empty_like(prob)
        adaptive_smooth(prob, state, 0.8, 0.5, out)
        return out

    np.testing.assert_array_equal(smoother.backward(maps), update(maps[0], update(maps[1], maps[2])))
    assert smoother.backward(maps[:1]) is maps[0]
    assert smoother.backward([maps[0], np.zeros((2, 2), np.float32)]) is maps[0]  # another size: a new shot
    for method in ("ema", "none"):
        assert TemporalSmoother(SmoothingConfig(method=method)).backward(maps) is maps[0]


def test_the_pass_back_lets_a_small_change_ahead_settle_the_matte_early():
    # a still picture whose map steps up a little (a change the adaptive smoother keeps much of)
    # at frame 3: the forward smoother alone would leave frame 1 at exactly 0.2
    frames, _ = _scene(6)
    probs = [np.full((36, 64), 0.2 if i < 3 else 0.4, np.float32) for i in range(6)]
    ahead = _alphas(_matter(look_ahead=True), probs, frames)
    assert ahead[1].min() > 0.2 + 0.005  # reached from frame 3, two frames ahead, only by the pass back
    assert ahead[0].max() < ahead[1].min() < ahead[2].min()  # settles gradually, in order
    causal = _alphas(_matter(look_ahead=False), probs, frames)
    np.testing.assert_allclose(causal[1], 0.2, atol=1e-6)
    # after the step too, the matte is nearer the new value than the causal one, which trails
    assert 0.4 - ahead[4].mean() < 0.4 - causal[4].mean()


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7])
def test_stream_with_smoothing_gives_every_frame_once_in_order(count):
    frames, probs = _scene(count)
    out = list(_matter(look_ahead=True).stream((i, p, f, None) for i, (p, f) in enumerate(zip(probs, frames))))
    assert [tag for tag, _ in out] == list(range(count))


def test_the_pass_back_does_not_reach_across_a_scene_cut():
    # a faint map in the second shot: a change small enough for the smoother to keep much of it,
    # so only the cut check keeps it out of the first shot's last frames
    first = np.zeros((36, 64, 3), np.uint8)
    second = np.full((36, 64, 3), 200, np.uint8)
    empty = np.zeros((36, 64), np.float32)
    faint = np.full((36, 64), 0.3, np.float32)
    alphas = _alphas(_matter(look_ahead=True), [empty, empty, empty, faint, faint, faint],
                     [first, first, first, second, second, second])
    assert max(a.max() for a in alphas[:3]) == 0
    np.testing.assert_allclose(alphas[3], 0.3, atol=1e-6)
