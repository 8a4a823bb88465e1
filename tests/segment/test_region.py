"""RVM on the box around the people (``region.PeopleRegion``, ``[model] crop_pass`` for rvm):
the state carried cell for cell between boxes, the box's choice, and on real weights and frames:
the labelled clips keep the whole frame's matte at a fraction of its pixels, a person who
enters is found, a person who runs out of the box is followed."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from livebg.config import ModelConfig
from livebg.evaluation import iou, load_labeled
from livebg.frames.cuts import CutDetector
from livebg.segment.factory import load_segmenter
from livebg.segment.region import (
    GRID,
    MARGIN,
    MAX_MARGIN,
    STATE_SCALES,
    Box,
    PeopleRegion,
    carry_state,
    snapped,
    whole,
)
from livebg.segment.rvm import RvmSegmenter
from tests.support import RVM_FILE

pytestmark = pytest.mark.rvm


def cell_state(height: int, width: int) -> list[np.ndarray]:
    """A state for a (height, width) picture whose every cell holds its own position at its
    scale: 1000 * row + column."""
    out = []
    for s in STATE_SCALES:
        h, w = -(-height // s), -(-width // s)
        grid = (1000 * np.arange(h)[:, None] + np.arange(w)[None, :]).astype(np.float32)
        out.append(np.broadcast_to(grid, (1, 3, h, w)).copy())
    return out


def test_carry_state_keeps_each_cell_over_the_same_stretch_of_frame():
    h, w = 384, 683  # 683: the far side is off the grid
    full = whole(h, w)
    state = cell_state(h, w)
    box = Box(208, 32, w, 384)  # reaching the frame's far edge
    inner = carry_state(state, full, box)
    for value, s in zip(inner, STATE_SCALES):
        assert value.shape[2:] == (-(-(box.y1 - box.y0) // s), -(-(box.x1 - box.x0) // s))
        np.testing.assert_array_equal(value, state[STATE_SCALES.index(s)][:, :, box.y0 // s:, box.x0 // s:])
    # back to the whole frame: the box's cells where they were, zeros (a new stream's) elsewhere
    back = carry_state(inner, box, full)
    for value, original, s in zip(back, state, STATE_SCALES):
        assert value.shape == original.shape
        np.testing.assert_array_equal(value[:, :, box.y0 // s:, box.x0 // s:], original[:, :, box.y0 // s:, box.x0 // s:])
        assert not value[:, :, :box.y0 // s].any() and not value[:, :, :, :box.x0 // s].any()
    # two boxes that overlap in part; and two that do not overlap at all
    other = Box(16, 0, 320, 256)
    moved = carry_state(inner, box, other)
    overlap = (max(box.x0, other.x0), max(box.y0, other.y0), min(box.x1, other.x1), min(box.y1, other.y1))
    for value, original, s in zip(moved, state, STATE_SCALES):
        x0, y0, x1, y1 = (v // s for v in overlap)
        np.testing.assert_array_equal(value[:, :, y0 - other.y0 // s:y1 - other.y0 // s, x0 - other.x0 // s:x1 - other.x0 // s],
                                      original[:, :, y0:y1, x0:x1])
        assert value.sum() == original[:, :, y0:y1, x0:x1].sum()  # nothing else came along
    assert not any(v.any() for v in carry_state(inner, box, Box(0, 0, 160, 32)))


def test_boxes_lie_on_the_grid_and_stay_in_the_frame():
    b = snapped(-10, 17, 250.5, 300, 384, 683)
    assert (b.x0, b.y0, b.x1, b.y1) == (0, 16, 256, 304)
    assert all(v % GRID == 0 for v in (b.x0, b.y0, b.x1, b.y1))
    assert snapped(600, 0, 690, 400, 384, 683) == Box(592, 0, 683, 384)


def person_alpha(h: int, w: int, x0: int, x1: int) -> np.ndarray:
    a = np.zeros((h, w), np.float32)
    a[40:h, x0:x1] = 1
    return a


def test_the_box_follows_the_people_and_the_whole_frame_comes_back():
    h, w = 384, 683
    region = PeopleRegion(full_every=8)
    grey = np.full((h // 4, w // 4), 100, np.uint8)
    assert region.next_box(h, w, grey) == whole(h, w)  # nobody known yet
    region.done(whole(h, w), person_alpha(h, w, 300, 400), 0, grey)
    box = region.next_box(h, w, grey)
    assert box.contains(Box(300 - 64, 0, 400 + 64, h)) and box.area < 0.5 * h * w
    # nothing changed outside the box: the whole frame waits, up to 4x as long
    seen = []
    for _ in range(40):
        box = region.next_box(h, w, grey)
        seen.append(box == whole(h, w))
        region.done(box, person_alpha(h, w, 300, 400), 0, grey)
    assert seen.index(True) == 31 and sum(seen) == 1
    # the background outside the box changes a little from frame to frame (the light, the camera
    # moving), so that it soon differs from the whole-frame picture: every 8 frames
    seen = []
    for k in range(16):
        changing = cv2.add(grey, 10 * (k + 1))
        box = region.next_box(h, w, changing)
        seen.append(box == whole(h, w))
        region.done(box, person_alpha(h, w, 300, 400), 0, changing)
    # 8 frames had already gone by since the last whole frame: as soon as the change passes 25
    # levels (the third frame), then 8 frames later
    assert [i for i, full in enumerate(seen) if full] == [2, 10]
    # something appears outside the box since the last call: the whole frame at once
    region.done(region.next_box(h, w, grey), person_alpha(h, w, 300, 400), 0, grey)
    assert region.next_box(h, w, grey) != whole(h, w)
    entered = grey.copy()
    entered[40:90, 5:40] = 250  # 4 % of the picture, left of the box
    assert region.next_box(h, w, entered) == whole(h, w)
    # nobody found: the whole frame
    region.done(box, np.zeros((h, w), np.float32), 0, grey)
    assert region.next_box(h, w, grey) == whole(h, w)


def test_a_side_that_moved_gets_a_wider_margin_and_people_at_an_inner_side_widen_the_box():
    h, w = 384, 683
    region = PeopleRegion()
    grey = np.zeros((h // 4, w // 4), np.uint8)
    region.done(whole(h, w), person_alpha(h, w, 200, 300), 0, grey)
    region.done(whole(h, w), person_alpha(h, w, 200, 340), 0, grey)  # the right side moved 40 px
    box = region.next_box(h, w, grey)
    assert box.x0 == snapped(200 - 64, 0, 1, 1, h, w).x0  # the still side: the plain margin
    assert box.x1 >= 340 + min(MAX_MARGIN, MARGIN + 2 * 40)
    inside = np.zeros((box.y1 - box.y0, box.x1 - box.x0), np.float32)
    assert region.wider(box, inside, h, w) is None
    inside[100:200, -2:] = 1  # someone at the box's right side
    wider = region.wider(box, inside, h, w)
    assert wider is not None and wider.x1 > box.x1 and (wider.x0, wider.y0, wider.y1) == (box.x0, box.y0, box.y1)
    inside[:] = 0
    inside[100:200, :2] = 1  # at the left side
    assert region.wider(box, inside, h, w).x0 < box.x0


@pytest.fixture(scope="module")
def regional():
    return RvmSegmenter(RVM_FILE, threads=2, people_region=True, full_every=8)


@pytest.fixture(scope="module")
def whole_frame():
    return RvmSegmenter(RVM_FILE, threads=2)


@pytest.mark.parametrize("clip", ["davis_lucia", "davis_parkour"])
def test_labelled_clips_keep_the_whole_frame_matte_on_a_fraction_of_the_pixels(shared, regional, whole_frame, clip):
    pairs = load_labeled(shared / "media" / "labeled" / clip, 24)
    on, off = regional.stream(), whole_frame.stream()
    got = [cv2.resize(on.predict([im])[0].alpha, im.shape[1::-1]) for im, _ in pairs]
    ref = [cv2.resize(off.predict([im])[0].alpha, im.shape[1::-1]) for im, _ in pairs]
    truth_on = np.mean([iou(a, t) for a, (_, t) in zip(got, pairs)])
    truth_off = np.mean([iou(a, t) for a, (_, t) in zip(ref, pairs)])
    assert truth_on > truth_off - 0.01, f"IoU {truth_on:.3f} on the box, {truth_off:.3f} on the whole frame"
    # carried state: the box's alpha stays with the whole frame's on every frame (a fresh state
    # at each change of box drops the worst frame to 0.72-0.91 and the mean to 0.94-0.98)
    agreement = [iou(a, r >= 0.5) for a, r in zip(got, ref)]
    assert np.mean(agreement) > 0.985 and min(agreement) > 0.95, f"mean {np.mean(agreement):.3f}, worst {min(agreement):.3f}"
    assert on.region is not None and on.region.cropped > len(pairs) / 2
    assert on.region.pixel_share < 0.8, f"the model saw {on.region.pixel_share:.0%} of the pixels"


def portrait_cutout(shared) -> tuple[np.ndarray, np.ndarray]:
    """The doctor portrait, 240 px tall and cut to her width, and a rough mask of her (from the
    model on the photo)."""
    photo = cv2.imread(str(shared / "media" / "portraits" / "doctor-5871743_640.jpg"))[:, :, ::-1]
    photo = cv2.resize(photo, (round(photo.shape[1] * 240 / photo.shape[0]), 240), interpolation=cv2.INTER_AREA)
    alpha = RvmSegmenter(RVM_FILE, threads=2).predict([photo])[0].alpha
    mask = cv2.resize(alpha, photo.shape[1::-1], interpolation=cv2.INTER_AREA) > 0.5
    cols = np.flatnonzero(mask.any(axis=0))
    assert 60 < cols.size < 300, "the portrait should hold one person"
    return photo[:, cols[0]:cols[-1] + 1], mask[:, cols[0]:cols[-1] + 1]


def scene(back: np.ndarray, people: list[tuple[np.ndarray, np.ndarray, int]]) -> np.ndarray:
    out = back.copy()
    for photo, mask, x in people:
        h, w = mask.shape
        region = out[-h:, x:x + w]
        region[mask[:, :region.shape[1]]] = photo[:, :region.shape[1]][mask[:, :region.shape[1]]]
    return out


def test_someone_who_comes_in_away_from_the_box_is_found(shared, regional):
    back = cv2.imread(str(shared / "media" / "backgrounds" / "porch-691330_1280.jpg"))[:, :, ::-1]
    back = cv2.resize(back, (683, 384), interpolation=cv2.INTER_AREA)
    photo, mask = portrait_cutout(shared)
    stream = regional.stream()
    for _ in range(10):  # one person on the left, a still camera
        stream.predict([scene(back, [(photo, mask, 20)])])
    assert stream.region.box != whole(384, 683), "the model should run on a box by now"
    found_at = None
    for i in range(12):  # a second person on the right
        alpha = stream.predict([scene(back, [(photo, mask, 20), (photo, mask, 683 - 10 - mask.shape[1])])])[0].alpha
        if found_at is None and alpha[-mask.shape[0]:, 673 - mask.shape[1]:673][mask].mean() > 0.5:
            found_at = i
    assert found_at is not None and found_at < 8, f"found after {found_at} frames"


def test_zoomed_live_rvm_finds_someone_who_comes_in_on_that_frame(shared):
    """Zoomed live RVM takes the whole frame less often (segment.factory.LIVE_FULL_EVERY, 16):
    a second person coming in away from the box is still found at once, by the region's check
    of what changed outside the box, not by waiting for the whole-frame pass."""
    from livebg.segment.factory import LIVE_FULL_EVERY

    live = RvmSegmenter(RVM_FILE, threads=2, people_region=True, zoom=True, full_every=LIVE_FULL_EVERY)
    back = cv2.imread(str(shared / "media" / "backgrounds" / "porch-691330_1280.jpg"))[:, :, ::-1]
    back = cv2.resize(back, (683, 384), interpolation=cv2.INTER_AREA)
    photo, mask = portrait_cutout(shared)
    stream = live.stream()
    stream.set_short(144)
    for _ in range(10):
        stream.predict([scene(back, [(photo, mask, 20)])])
    assert stream.region.box != whole(384, 683)
    found_at = None
    for i in range(LIVE_FULL_EVERY):
        alpha = stream.predict([scene(back, [(photo, mask, 20), (photo, mask, 683 - 10 - mask.shape[1])])])[0].alpha
        if found_at is None and alpha[-mask.shape[0]:, 673 - mask.shape[1]:673][mask].mean() > 0.5:
            found_at = i
    assert found_at == 0, f"found after {found_at} frames"


def test_someone_who_runs_out_of_the_box_is_followed(shared, regional, whole_frame):
    back = cv2.imread(str(shared / "media" / "backgrounds" / "porch-691330_1280.jpg"))[:, :, ::-1]
    back = cv2.resize(back, (683, 384), interpolation=cv2.INTER_AREA)
    photo, mask = portrait_cutout(shared)
    on, off = regional.stream(), whole_frame.stream()
    worst = 1.0
    # still, then 150 px a frame to the right: further than the widest margin (MAX_MARGIN), so
    # only widening the box when she touches its side keeps her whole
    for i, x in enumerate([20] * 6 + list(range(170, 683 - mask.shape[1], 150))):
        frame = scene(back, [(photo, mask, x)])
        got, ref = on.predict([frame])[0].alpha, off.predict([frame])[0].alpha
        if i >= 6:
            truth = np.zeros(got.shape, bool)
            truth[-mask.shape[0]:, x:x + mask.shape[1]] = mask[:, :683 - x]
            worst = min(worst, iou(got, truth), iou(got, ref >= 0.5))
    assert worst > 0.9, f"worst IoU {worst:.3f} while running"
    assert on.region.cropped > 0 and on.region.grown > 0


def test_someone_who_jumps_away_from_the_box_is_found_on_that_frame(shared, regional):
    """A jump in the footage that is not a cut (same place, the person elsewhere): the box holds
    only background, and the same frame runs on the whole picture."""
    back = cv2.imread(str(shared / "media" / "backgrounds" / "porch-691330_1280.jpg"))[:, :, ::-1]
    back = cv2.resize(back, (683, 384), interpolation=cv2.INTER_AREA)
    photo, mask = portrait_cutout(shared)
    # small enough (130 px tall) that the jump does not count as a scene cut
    size = (round(photo.shape[1] * 130 / photo.shape[0]), 130)
    photo = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
    mask = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    stream = regional.stream()
    cuts = CutDetector()  # as the segment stage finds cuts, once a frame
    for _ in range(5):
        picture = scene(back, [(photo, mask, 20)])
        stream.predict([picture], cuts=[cuts(picture)])
    assert stream.region.box != whole(384, 683)
    resets = stream.resets
    x = 683 - 10 - mask.shape[1]
    picture = scene(back, [(photo, mask, x)])
    alpha = stream.predict([picture], cuts=[cuts(picture)])[0].alpha
    truth = np.zeros(alpha.shape, bool)
    truth[-mask.shape[0]:, x:x + mask.shape[1]] = mask
    assert stream.resets == resets, "the jump should not be a cut here"
    assert iou(alpha, truth) > 0.9


def test_full_pass_every_1_is_the_whole_frame_every_frame():
    h, w = 384, 683
    region = PeopleRegion(full_every=1)
    grey = np.full((h // 4, w // 4), 100, np.uint8)
    for _ in range(6):
        box = region.next_box(h, w, grey)
        assert box == whole(h, w)
        region.done(box, person_alpha(h, w, 300, 400), 0, grey)


def test_video_jobs_get_it_with_the_crop_pass_and_not_on_cuda_or_when_off(rvm_cache):
    segmenter, _ = load_segmenter(ModelConfig(name="rvm", device="cpu"))
    assert isinstance(segmenter, RvmSegmenter) and segmenter.people_region
    assert "box around the people" in segmenter.stream_note and "box" not in segmenter.describe()  # photos: whole
    assert segmenter.stream().region is not None
    off, _ = load_segmenter(ModelConfig(name="rvm", device="cpu", crop_pass=False))
    assert off.stream().region is None and "box around the people" not in off.stream_note
    segmenter.device = "cuda"  # the state stays on the device there: the whole frame
    assert segmenter.stream().region is None


def test_a_reset_or_a_cut_sends_the_whole_frame_again(shared, regional):
    frames = [im for im, _ in load_labeled(shared / "media" / "labeled" / "davis_lucia", 4)]
    stream = regional.stream()
    for frame in frames:
        stream.predict([frame])
    assert stream.region.box != whole(*stream.region.frame_size)
    stream.reset()
    stream.predict([frames[0]])
    assert stream.region.box == whole(*stream.region.frame_size)
    stream.predict([frames[1]])
    assert stream.region.box != whole(*stream.region.frame_size)
    stream.predict([np.ascontiguousarray(frames[2][::-1, ::-1])], cuts=[True])  # a cut: another picture
    assert stream.region.box == whole(*stream.region.frame_size)
