"""RVM's size policy: the model's working short side by device and for portraits, the live
sizes, and how frames of one size go through the model (``RvmPlan``, ``plan_for``).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# The model's working size (the short side after the downsample ratio). RVM's authors advise
# 256..512 px, more for full bodies than for portraits; see docs/quality.md for the choice.
MODEL_SHORT_SIDE = 384
# On CUDA, where the model is not the job's cost: 512 px scores higher on every labelled sample
# (docs/quality.md); on a CPU it costs 1.8x a call.
MODEL_SHORT_SIDE_CUDA = 512
# Video on a CPU: while the people are one person filling a large part of the frame (a
# portrait: a call, a talk) the model runs at this size instead; RVM's authors advise a lower
# ratio for portraits than for full bodies. Measured on the labelled clips zoomed in
# (docs/quality.md): level or better for one large person, worse for a group, a third faster.
MODEL_SHORT_SIDE_PORTRAIT = 320
# Live on a CPU: the working sizes the live path moves between to hold the camera's rate
# (live/sizing.py), largest first: the file jobs' size for whole bodies and groups (384) down
# to 128, where the zoomed box (zoom.py) still beats the selfie model on every labelled clip
LIVE_SIZES = (384, 320, 288, 256, 224, 192, 176, 160, 144, 128)
PORTRAIT_SHARE = 0.25  # the largest person covers at least this share of the frame...
PORTRAIT_DOMINANCE = 2 / 3  # ... and this share of all the people found (not a group)
PORTRAIT_KEEP_SHARE = 0.2  # at the portrait size, it stays while the largest person covers this
SIZE_HOLD = 12  # frames in a row whose people want the other size before a shot changes size
SWITCH_SETTLE_RUNS = 3  # runs on the frame where a shot changes size, from zeros (a fresh state)


def working_size(device: str) -> int:
    """The model's default working short side on a device ("cpu" or "cuda")."""
    return MODEL_SHORT_SIDE_CUDA if device == "cuda" else MODEL_SHORT_SIDE


def portrait_size(device: str) -> int:
    """The working short side for portrait shots on a device, 0: the same as the others (on
    CUDA the model is not the job's cost)."""
    return 0 if device == "cuda" else MODEL_SHORT_SIDE_PORTRAIT


def is_portrait(alpha: np.ndarray, share: float = PORTRAIT_SHARE) -> bool:
    """Whether an alpha shows a portrait: one person (a connected region at alpha >= 0.5)
    covering at least ``share`` of the picture and PORTRAIT_DOMINANCE of all its people. A
    group is not one, however much of the frame its people fill together; one person this
    large is, whether the frame shows their face or their whole body."""
    mask = (alpha[::2, ::2] >= 0.5).astype(np.uint8)  # every other pixel: shares are the same, 4x cheaper
    people = int(np.count_nonzero(mask))
    if people < share * mask.size:
        return False
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    largest = int(stats[1:, cv2.CC_STAT_AREA].max())
    return largest >= share * mask.size and largest >= PORTRAIT_DOMINANCE * people


@dataclass(frozen=True)
class RvmPlan:
    """How a frame of one size goes through the model."""
    src_size: tuple[int, int]  # (w, h) the frame is shrunk to
    ratio: float  # downsample_ratio

    @property
    def model_short_side(self) -> int:
        return round(min(self.src_size) * self.ratio)


def plan_for(height: int, width: int, model_short: int = MODEL_SHORT_SIDE,
             source_short: int | None = None) -> RvmPlan:
    """The source size and ratio for frames of (height, width): the frame scaled so that its
    short side is ``source_short`` (default: ``model_short``; small frames are enlarged: the
    model sees small people better at its working size), and the ratio that brings that to
    ``model_short`` (at most 1). ``source_short`` 0: the frame as it is (RVM's own way, its
    refiner bringing the alpha up)."""
    if source_short is None:
        source_short = model_short
    scale = max(source_short, model_short) / min(height, width) if source_short > 0 else 1.0
    w, h = max(2, round(width * scale)), max(2, round(height * scale))
    ratio = min(1.0, model_short / min(w, h))
    return RvmPlan((w, h), float(ratio))
