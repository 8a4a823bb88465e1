"""RVM's working size per shot: one person filling a large part of the frame (a portrait, a
call) runs at the portrait size, groups and full bodies at the model's; checked on the labelled
clips as they are (full bodies, a group) and zoomed in (a closer camera: one large person, and
a group filling as much of the frame)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from livebg.config import ModelConfig
from livebg.evaluation import iou, load_labeled, zoomed
from livebg.frames.cuts import CutDetector
from livebg.segment.factory import load_segmenter
from livebg.segment.rvm import (
    MODEL_SHORT_SIDE,
    MODEL_SHORT_SIDE_PORTRAIT,
    PORTRAIT_SHARE,
    SIZE_HOLD,
    SWITCH_SETTLE_RUNS,
    RvmSegmenter,
    is_portrait,
    portrait_size,
)
from tests.support import RVM_FILE

pytestmark = pytest.mark.rvm

FRAMES = 10


@pytest.fixture(scope="module")
def clips(shared):
    names = ("davis_lucia", "davis_parkour", "davis_breakdance-flare", "davis17_schoolgirls")
    return {name: load_labeled(shared / "media" / "labeled" / name, FRAMES) for name in names}


@pytest.fixture(scope="module")
def sized() -> RvmSegmenter:
    return RvmSegmenter(RVM_FILE, threads=2, portrait_short=MODEL_SHORT_SIDE_PORTRAIT)


def blobs(h: int, w: int, *boxes: tuple[int, int, int, int]) -> np.ndarray:
    alpha = np.zeros((h, w), np.float32)
    for x0, y0, x1, y1 in boxes:
        alpha[y0:y1, x0:x1] = 0.9
    return alpha


def test_a_portrait_is_one_large_person_not_a_group_or_a_small_one():
    h, w = 100, 200  # 20000 px; a quarter is 5000
    assert is_portrait(blobs(h, w, (50, 20, 130, 100)))  # one person, 8000 px
    assert is_portrait(blobs(h, w, (50, 20, 130, 100), (180, 80, 200, 100)))  # and a small one at the side
    assert not is_portrait(blobs(h, w, (50, 40, 130, 100)))  # 4800 px: under a quarter
    # four people apart, 11200 px together, none a quarter of the frame
    assert not is_portrait(blobs(h, w, (0, 30, 40, 100), (50, 30, 90, 100), (100, 30, 140, 100), (150, 30, 190, 100)))
    # two large people: the larger holds under 2/3 of them
    assert not is_portrait(blobs(h, w, (0, 0, 60, 100), (100, 0, 160, 100)))
    # the threshold is alpha 0.5: a faint halo does not make someone large
    halo = blobs(h, w, (50, 40, 130, 100))
    halo[halo == 0] = 0.3
    assert not is_portrait(halo)
    assert PORTRAIT_SHARE * h * w == 5000


def test_full_bodies_and_a_group_keep_the_models_size(sized, clips):
    for name, pairs in clips.items():
        stream = sized.stream()
        alpha = stream.predict([pairs[0][0]])[0].alpha
        assert stream.short == MODEL_SHORT_SIDE and stream.portrait_shots == 0, name
        assert min(alpha.shape) == MODEL_SHORT_SIDE and stream.calls == 1, name  # no second call
    # the group filmed closer: together a third of the frame, no one of them a quarter
    group = zoomed(clips["davis17_schoolgirls"], 0.35)
    assert np.mean([t.mean() for _, t in group]) > PORTRAIT_SHARE
    stream = sized.stream()
    stream.predict([group[0][0]])
    assert stream.short == MODEL_SHORT_SIDE and stream.portrait_shots == 0


def test_one_person_filmed_closer_runs_at_the_portrait_size_as_well_as_at_the_models(sized, clips):
    pairs = zoomed(clips["davis_lucia"], 0.6)
    stream = sized.stream()
    alphas = [stream.predict([img])[0].alpha for img, _ in pairs]
    assert stream.short == MODEL_SHORT_SIDE_PORTRAIT and stream.portrait_shots == 1
    assert stream.calls == FRAMES + 1 and stream.resets == 0  # the first frame twice; not a reset
    assert all(min(a.shape) == MODEL_SHORT_SIDE_PORTRAIT for a in alphas)
    # from its first frame it is the stream a segmenter at the portrait size gives
    at_portrait = RvmSegmenter(RVM_FILE, threads=2, model_short=MODEL_SHORT_SIDE_PORTRAIT).stream()
    np.testing.assert_allclose(alphas[0], at_portrait.predict([pairs[0][0]])[0].alpha, atol=1e-5)
    at_model = RvmSegmenter(RVM_FILE, threads=2).stream()
    scores = {}
    for name, stream_alphas in (("portrait", alphas), ("model", [at_model.predict([img])[0].alpha for img, _ in pairs])):
        scores[name] = np.mean([iou(cv2.resize(a, t.shape[::-1], interpolation=cv2.INTER_LINEAR), t)
                                for a, (_, t) in zip(stream_alphas, pairs)])
    assert scores["portrait"] > 0.88 and scores["portrait"] >= scores["model"] - 0.015, scores


def test_the_size_is_chosen_again_after_a_cut(sized, clips):
    portrait = zoomed(clips["davis_lucia"], 0.6)
    full_body = clips["davis_parkour"]
    h, w = full_body[0][1].shape
    closer = [cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR) for img, _ in portrait[:3]]
    stream = sized.stream()
    cuts = CutDetector()  # found once a frame upstream, as the segment stage finds them
    for img in closer:
        stream.predict([img], cuts=[cuts(img)])
    assert stream.short == MODEL_SHORT_SIDE_PORTRAIT
    after_cut = stream.predict([full_body[0][0]], cuts=[cuts(full_body[0][0])])[0].alpha  # the same frame size, another shot
    assert stream.short == MODEL_SHORT_SIDE and stream.resets == 1
    np.testing.assert_allclose(after_cut, RvmSegmenter(RVM_FILE, threads=2).stream().predict([full_body[0][0]])[0].alpha,
                               atol=1e-5)
    stream.predict([closer[0]], cuts=[cuts(closer[0])])  # and back
    assert stream.short == MODEL_SHORT_SIDE_PORTRAIT and stream.portrait_shots == 2
    stream.reset()
    cuts.reset()
    stream.predict([closer[1]], cuts=[cuts(closer[1])])
    assert stream.short == MODEL_SHORT_SIDE_PORTRAIT and stream.portrait_shots == 3


def test_portrait_size_is_for_cpu_auto_video_only(rvm_cache, clips):
    auto, _ = load_segmenter(ModelConfig(name="rvm", device="cpu"))
    assert auto.portrait_short == MODEL_SHORT_SIDE_PORTRAIT
    assert "320 px while one person fills a quarter" in auto.stream_note and "320" not in auto.describe()
    asked, _ = load_segmenter(ModelConfig(name="rvm", device="cpu", infer_size=384))
    assert asked.portrait_short == 0 and "portrait" not in asked.stream_note
    assert portrait_size("cuda") == 0
    # RVM's own way (frames as they are, its refiner): no sizes per shot
    assert RvmSegmenter(RVM_FILE, threads=2, model_short=256, source_short=0, portrait_short=200).portrait_short == 0
    # photos run at the model's size whatever the people
    photo = zoomed(clips["davis_lucia"], 0.6)[0][0]
    assert min(auto.predict([photo])[0].alpha.shape) == MODEL_SHORT_SIDE


# -- as video jobs run it: the box around the people and still-frame reuse on --------------------

VIDEO = {"threads": 2, "people_region": True, "still_reuse": 2, "full_every": 8}


def test_with_the_box_and_reuse_a_portrait_shot_is_the_stream_at_the_portrait_size(clips):
    """From its first frame, still frames included, a portrait shot gives what a segmenter
    fixed at the portrait size gives, with the same box and reuse."""
    pairs = zoomed(clips["davis_lucia"], 0.6)
    frames = [pairs[0][0]] * 4 + [img for img, _ in pairs[1:6]] + [pairs[6][0]] * 3 + [img for img, _ in pairs[7:]]
    sized = RvmSegmenter(RVM_FILE, portrait_short=MODEL_SHORT_SIDE_PORTRAIT, **VIDEO).stream()
    fixed = RvmSegmenter(RVM_FILE, model_short=MODEL_SHORT_SIDE_PORTRAIT, **VIDEO).stream()
    for img in frames:
        a, b = sized.predict([img])[0], fixed.predict([img])[0]
        np.testing.assert_array_equal(a.alpha, b.alpha)
        assert a.foreground.shape == b.foreground.shape
        np.testing.assert_array_equal(a.foreground, b.foreground)
    assert sized.reused == fixed.reused > 0 and sized.calls == fixed.calls + 1


def closer(full: np.ndarray, truth: np.ndarray, share: float) -> np.ndarray:
    """``full`` as a camera closer to its people would show it, at the same frame size."""
    h, w = truth.shape
    crop = zoomed([(full, truth)], share, follow=1)[0][0]
    return cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA)


def test_within_a_shot_the_size_follows_the_people_after_a_hold(clips):
    """No cut: the camera moves in on lucia until she fills the frame, stays, and moves out;
    the size changes only once the other size has been wanted for SIZE_HOLD frames, without a
    reset, and the frame where it changes settles the new state first."""
    full, truth = clips["davis_lucia"][0]
    shares = list(np.geomspace(0.05, 0.6, 12)) + [0.6] * 30 + list(np.geomspace(0.6, 0.05, 12)) + [0.05] * 30
    frames = [closer(full, truth, share) for share in shares]
    stream = RvmSegmenter(RVM_FILE, portrait_short=MODEL_SHORT_SIDE_PORTRAIT, **VIDEO).stream()
    sizes, wanted, calls = [], [], []
    for img in frames:
        before = stream.calls
        alpha = stream.predict([img])[0].alpha
        sizes.append(stream.short)
        calls.append(stream.calls - before)
        wanted.append(is_portrait(alpha) if calls[-1] else None)
    assert stream.resets == 0 and stream.reused > 0  # one shot throughout, still frames reused
    assert sizes[0] == MODEL_SHORT_SIDE and sizes[41] == MODEL_SHORT_SIDE_PORTRAIT and sizes[-1] == MODEL_SHORT_SIDE
    assert stream.portrait_shots == 1
    into = sizes.index(MODEL_SHORT_SIDE_PORTRAIT)
    assert into >= wanted.index(True) + SIZE_HOLD - 1  # held, not at the first call that wanted it
    back = into + sizes[into:].index(MODEL_SHORT_SIDE)
    assert back >= 42 + SIZE_HOLD - 1 and not wanted[back - 1]
    # the frames where it changed ran SWITCH_SETTLE_RUNS more times at the new size
    assert calls[into] == calls[back] == 1 + SWITCH_SETTLE_RUNS
    assert sum(calls) == stream.calls == sum(1 for w in wanted if w is not None) + 2 * SWITCH_SETTLE_RUNS


def test_a_fade_in_from_black_takes_the_portrait_size_once_someone_is_there(clips):
    pairs = zoomed(clips["davis_lucia"], 0.6)
    stream = RvmSegmenter(RVM_FILE, portrait_short=MODEL_SHORT_SIDE_PORTRAIT, **VIDEO).stream()
    for k in range(8):
        stream.predict([(pairs[0][0].astype(np.float32) * k / 8).astype(np.uint8)])
    assert stream.short == MODEL_SHORT_SIDE
    for _ in range(3):
        for img, _ in pairs:
            stream.predict([img])
    assert stream.short == MODEL_SHORT_SIDE_PORTRAIT and stream.portrait_shots == 1


def test_a_group_filling_the_frame_does_not_switch_within_a_shot(clips):
    group = zoomed(clips["davis17_schoolgirls"], 0.5)
    stream = RvmSegmenter(RVM_FILE, portrait_short=MODEL_SHORT_SIDE_PORTRAIT, **VIDEO).stream()
    for img, _ in group + group[::-1]:
        stream.predict([img])
    assert stream.short == MODEL_SHORT_SIDE and stream.portrait_shots == 0
