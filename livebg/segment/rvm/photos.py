"""RVM on photos: each picture settled from a fresh state, and on groups or small people also
at more working sizes, the alphas fused (``photo_alpha``; docs/quality.md, "Photos of groups").
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from livebg.frames.yuv import downscale
from livebg.segment.rvm.sizes import PORTRAIT_DOMINANCE, RvmPlan

if TYPE_CHECKING:
    from livebg.segment.rvm.session import RvmSegmenter

SETTLE_RUNS = 4  # photos: runs on the same picture before its alpha is taken (docs/quality.md)
GROUP_MIN_SHARE = 0.002  # a connected region this share of the picture counts as a person for is_group
# nobody found, or the largest person under this share of the picture: the larger sizes look for
# more (0.05 took lucia's and parkour's single walkers too, and lowered them by .003-.004)
SMALL_PEOPLE_SHARE = 0.015
# Photos: passes at these working sizes too, on photos of groups or of small people only
# (is_group), fused by their maximum (docs/quality.md, "Photos of groups")
PHOTO_SIZES = (256, 512, 768)


def is_group(alpha: np.ndarray) -> bool:
    """Whether an alpha shows several people, or people too small for the model's size: two or
    more regions at alpha >= 0.5 of at least GROUP_MIN_SHARE of the picture, the largest under
    PORTRAIT_DOMINANCE of all of them (one person whose arm makes a second blob is not a group);
    or nobody, or nobody larger than SMALL_PEOPLE_SHARE."""
    mask = (alpha >= 0.5).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    if not len(areas) or areas.max() < SMALL_PEOPLE_SHARE * mask.size:
        return True  # nobody found, or only small people: the larger sizes look for more
    people = areas[areas >= GROUP_MIN_SHARE * mask.size]
    return len(people) >= 2 and people.max() < PORTRAIT_DOMINANCE * people.sum()


def new_people(alpha: np.ndarray, found: np.ndarray) -> np.ndarray:
    """1 over the people (connected regions at alpha >= 0.5) of ``alpha`` that touch none of
    ``found``, 0 elsewhere (float32, widened by a few px for their soft edge)."""
    count, labels = cv2.connectedComponents((alpha >= 0.5).astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros(alpha.shape, np.float32)
    touching = np.unique(labels[found & (labels > 0)])
    keep = np.ones(count, bool)
    keep[0] = False
    keep[touching] = False
    mask = keep[labels].astype(np.uint8)
    return cv2.dilate(mask, np.ones((7, 7), np.uint8)).astype(np.float32)


def photo_alpha(model: "RvmSegmenter", frame: Any) -> np.ndarray:
    """One unrelated picture's alpha: from a fresh state, settled over ``model.settle_runs`` runs;
    with ``model.photo_sizes``, also at each of those working sizes, the alphas fused by their
    pixel-wise maximum at the model's size (a larger size finds the small people at the back,
    a smaller one the large people cut by the frame's edge)."""
    height, width = frame.shape[:2]
    plan = model.plan(height, width)
    alpha = settled(model, frame, plan)
    base = alpha >= 0.5
    sizes = model.photo_sizes if model.photo_fusion != "groups" or is_group(alpha) else ()
    for short in sizes:
        if short == plan.model_short_side:
            continue
        other = cv2.resize(settled(model, frame, model.plan(height, width, short)), plan.src_size,
                           interpolation=cv2.INTER_LINEAR)
        if model.photo_fusion == "new" and short > plan.model_short_side:
            other = other * new_people(other, base)
        alpha = np.maximum(alpha, other)
    return np.clip(alpha, 0, 1)


def settled(model: "RvmSegmenter", frame: Any, plan: RvmPlan) -> np.ndarray:
    """The alpha after ``model.settle_runs`` runs on the same picture, from zeros."""
    small = downscale(frame, plan.src_size)
    state = None
    for _ in range(model.settle_runs):
        alpha, _fgr, state = model.run(small, state, plan.ratio)
    return alpha
