"""Photos of groups and small people: RVM also runs at more working sizes, fused by the maximum
(rvm.PHOTO_SIZES, is_group); photos of one large person keep the one pass."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from livebg.config import Config
from livebg.evaluation import iou
from livebg.frames.images import read_image
from livebg.jobs.photos import replace_photo
from livebg.matte.matter import Matter
from livebg.segment.rvm import PHOTO_SIZES, RvmSegmenter, is_group
from tests.support import RVM_FILE

pytestmark = pytest.mark.rvm


def blobs(*boxes, size=(200, 300)) -> np.ndarray:
    alpha = np.zeros(size, np.float32)
    for y0, y1, x0, x1 in boxes:
        alpha[y0:y1, x0:x1] = 1.0
    return alpha


def test_is_group_sees_several_people_or_small_ones_not_one_person_with_a_stray_blob():
    assert is_group(blobs((20, 180, 20, 100), (20, 180, 150, 230)))  # two people side by side
    assert not is_group(blobs((10, 190, 50, 250)))  # one large person
    assert not is_group(blobs((10, 190, 50, 250), (5, 20, 5, 20)))  # ... and their hand as a second blob
    assert is_group(blobs((100, 110, 100, 108)))  # one small person at the back: look for more
    assert is_group(np.zeros((200, 300), np.float32))  # nobody found: look again


def photos(shared, name: str, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    folder = shared / "media/labeled_photos" / name
    entries = [e for e in json.loads((folder / "metadata.json").read_text()) if not e.get("has_crowd_region")]
    return [(read_image(folder / "images" / f"{e['file']}.jpg"),
             cv2.imread(str(folder / "masks" / f"{e['file']}.png"), cv2.IMREAD_GRAYSCALE) > 127)
            for e in entries[:count]]


def test_groups_gain_and_single_full_bodies_are_unchanged(shared):
    """On real photos and real weights: six group photos score higher with the passes; five
    photos of one whole body get exactly the one-pass alpha."""
    one = RvmSegmenter(RVM_FILE, threads=0)
    more = RvmSegmenter(RVM_FILE, threads=0, photo_sizes=PHOTO_SIZES)
    matter = Matter(Config().override("smoothing", method="none"), edge_threshold=0.5)

    def score(segmenter, pairs):
        return [iou(replace_photo(image, segmenter, matter, None, False)[1], truth) for image, truth in pairs]

    groups = photos(shared, "coco_multi_person", 6)
    before, after = score(one, groups), score(more, groups)
    assert np.mean(after) >= np.mean(before) + 0.01, (before, after)
    assert min(a - b for a, b in zip(after, before)) > -0.03, (before, after)
    bodies = photos(shared, "coco_single_fullbody", 5)
    for image, _ in bodies:
        assert np.array_equal(one.predict([image])[0].alpha, more.predict([image])[0].alpha)
