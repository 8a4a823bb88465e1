"""Running a recurrent model on the region around the people instead of the whole frame.

RVM's cost grows with the pixels it is given, and on most footage the people fill a part of
the frame: a seated speaker half of it, a dancer or a runner a fifth. ``PeopleRegion`` picks, for
each model call, a box around where the last call found people (alpha above ``PERSON_LEVEL``),
widened by a margin that grows on each side with how far that side moved between the last two
calls, and the model runs on that box only.
The alpha outside the box is 0.

- The box's corners lie on a grid of ``GRID`` model px (RVM's coarsest state is 1/16 of the
  picture), so the recurrent state of one box maps cell for cell onto another's
  (``carry_state``): where they overlap it is kept, where the new box reaches further it starts
  from zeros, as a new stream does.
- When the people in a call's alpha touch an inner side of the box (one that is not the frame's
  edge), they reach beyond it: the same frame runs again, from the same state, with that side
  moved out (at most ``MAX_GROWS`` times, then on the whole frame; a zoomed live stream does
  not run it again, ``RvmStream.regrow``: the next box reaches out). When the box holds under
  ``LOST_SHARE`` of the people the last call found (they jumped away, or left), the same frame
  runs on the whole picture.
- After a cut, a reset or a frame with nobody found, the model sees the whole frame; and every
  ``full_every`` frames when the picture outside the box has changed since it last did (the
  camera moved, someone may have come in), so someone who appears away from the people already
  there is found within that many frames; at once when more than ``SUDDEN_AREA`` of it changed
  since the last call. While nothing outside the box changes (a fixed camera: a call, a talk),
  there is nothing new for the model to find there, and the whole frame waits up to
  ``STILL_FULL_FACTOR`` times as long.
- A box that would cover more than ``FULL_AREA`` of the frame is the whole frame: the saving
  would be small, and the whole frame has no inner sides.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from livebg.segment.reuse import CHANGE_LEVEL, CHANGED_AREA

GRID = 16  # model px: the coarsest state cell (1/16 of the picture)
PERSON_LEVEL = 0.05  # alpha above this counts as someone
MARGIN = 64  # model px kept around the people found
MOTION_GAIN = 2.0  # a side's margin also grows by this many times that side's last move (px)
MAX_MARGIN = 128
EDGE_BAND = 4  # model px: people this close to an inner side reach beyond it
MAX_GROWS = 1  # re-runs of one frame on a wider box before it runs on the whole frame
LOST_SHARE = 0.5  # a box call finding under this share of the last call's people runs the whole frame
FULL_EVERY = 15  # frames: the whole frame at least this often
FULL_AREA = 0.8  # a box above this share of the frame is the whole frame
KEEP_AREA = 1.25  # the last box is kept while it holds the people's and is at most this much larger
STILL_FULL_FACTOR = 4
SHIFT_TOLERANCE = 2  # px of the grey picture (1/4 of the model's): camera drift the outside check forgives
SUDDEN_AREA = 3 * CHANGED_AREA  # outside the box, changed since the last call: the whole frame at once
STATE_SCALES = (2, 4, 8, 16)  # RVM's state r1..r4: 1/2 .. 1/16 of the picture


@dataclass(frozen=True)
class Box:
    """A region of the model's picture, in its px: [x0, x1) x [y0, y1)."""
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def area(self) -> int:
        return (self.x1 - self.x0) * (self.y1 - self.y0)

    def contains(self, other: "Box") -> bool:
        return self.x0 <= other.x0 and self.y0 <= other.y0 and self.x1 >= other.x1 and self.y1 >= other.y1

    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)


def whole(height: int, width: int) -> Box:
    return Box(0, 0, width, height)


def snapped(x0: float, y0: float, x1: float, y1: float, height: int, width: int) -> Box:
    """The smallest grid-aligned box holding [x0, x1) x [y0, y1), within the frame (its far
    sides may end at the frame's edge, off the grid)."""
    def low(v: float) -> int:
        return max(0, int(np.floor(v / GRID)) * GRID)

    def high(v: float, size: int) -> int:
        return min(size, int(np.ceil(v / GRID)) * GRID)
    return Box(low(x0), low(y0), high(x1, width), high(y1, height))


def people_box(people: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) around the True pixels of ``people`` (alpha above PERSON_LEVEL), or None
    when there is nobody."""
    rows = np.flatnonzero(people.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(people[rows[0]:rows[-1] + 1].any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def change_bounds(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The grey levels a later picture may take at each pixel without counting as changed from
    ``grey``: the range ``grey`` takes within SHIFT_TOLERANCE px, widened by CHANGE_LEVEL."""
    window = np.ones((2 * SHIFT_TOLERANCE + 1,) * 2, np.uint8)
    return cv2.subtract(cv2.erode(grey, window), CHANGE_LEVEL), cv2.add(cv2.dilate(grey, window), CHANGE_LEVEL)


class PeopleRegion:
    """Where the next model call looks, from where the last ones found people."""

    def __init__(self, full_every: int = FULL_EVERY, margin: int = MARGIN):
        self.full_every = full_every
        self.margin = margin  # model px kept around the people found (MAX_MARGIN scales with it)
        self.box: Box | None = None  # the last call's box
        self._people: tuple[int, int, int, int] | None = None
        self._motion = (0, 0, 0, 0)  # how far each side of the people's box moved between the last two calls
        self._since_full = 0
        self._mass = 0.0  # pixels of people (alpha above PERSON_LEVEL) in the last call
        # change_bounds of the grey picture (reuse.FlowReuse.grey) at the last whole-frame call,
        # and at the last call
        self._whole_bounds: tuple[np.ndarray, np.ndarray] | None = None
        self._last_bounds: tuple[np.ndarray, np.ndarray] | None = None
        self.calls = self.cropped = self.grown = 0  # model calls, those on a box, re-runs on a wider one
        self.frame_size = (0, 0)  # (height, width) of the last call's picture
        self._pixels = [0, 0]  # pixels the model was given, pixels of the whole pictures

    @property
    def pixel_share(self) -> float:
        """The share of the frames' pixels the model was given (1.0 before any call)."""
        return self._pixels[0] / self._pixels[1] if self._pixels[1] else 1.0

    def reset(self) -> None:
        """Forget where people were: the next call sees the whole frame."""
        self.box = None
        self._people = None
        self._motion = (0, 0, 0, 0)
        self._mass = 0.0
        self._whole_bounds = self._last_bounds = None

    def skipped(self) -> None:
        """A frame went by without a model call (it reused one)."""
        self._since_full += 1

    def next_box(self, height: int, width: int, grey: np.ndarray) -> Box:
        """The box the model runs on next; ``grey`` is the frame's grey picture
        (``reuse.FlowReuse.grey``)."""
        full = whole(height, width)
        if self.full_every <= 1:
            return full
        due = self._since_full + 1
        if (self._people is None or self._whole_bounds is None or self.frame_size != (height, width)
                or due >= STILL_FULL_FACTOR * self.full_every):
            return full
        left, top, right, bottom = self._margins()
        x0, y0, x1, y1 = self._people
        needed = snapped(x0 - left, y0 - top, x1 + right, y1 + bottom, height, width)
        if needed.area > FULL_AREA * full.area:
            return full
        # keep the last box while it holds what is needed and is not much larger: each change of
        # box moves where the picture ends, which the model notices a little
        if (self.box is not None and self.box != full and self.box.contains(needed)
                and self.box.area <= KEEP_AREA * needed.area):
            needed = self.box
        if due >= self.full_every and self._changed_outside(grey, self._whole_bounds, needed, CHANGED_AREA):
            return full
        # something appeared outside the box since the last call (someone came in, or jumped
        # there, faster than the margin follows): the whole frame now
        if self._changed_outside(grey, self._last_bounds, needed, SUDDEN_AREA):
            return full
        return needed

    def _margins(self) -> tuple[float, ...]:
        """The margin on each side (left, top, right, bottom), model px."""
        top = MAX_MARGIN * self.margin / MARGIN
        return tuple(min(top, self.margin + MOTION_GAIN * moved) for moved in self._motion)

    def _changed_outside(self, grey: np.ndarray, bounds: tuple[np.ndarray, np.ndarray] | None, box: Box,
                         area: float) -> bool:
        """Whether the picture outside ``box`` differs from an earlier frame's (``bounds``, its
        ``change_bounds``) in more than ``area`` of it (a slow drift or zoom of the camera is
        not a change; something new there is)."""
        if bounds is None or bounds[0].shape != grey.shape:
            return True
        (gh, gw), (height, width) = grey.shape, self.frame_size
        outside = np.ones(grey.shape, bool)
        outside[box.y0 * gh // height:-(-box.y1 * gh // height), box.x0 * gw // width:-(-box.x1 * gw // width)] = False
        if not outside.any():
            return False
        low, high = bounds
        changed = (grey < low) | (grey > high)
        return bool(np.count_nonzero(changed & outside) > area * np.count_nonzero(outside))

    def wider(self, box: Box, alpha: np.ndarray, height: int, width: int) -> Box | None:
        """The box to run again on when the people in ``alpha`` (the call's output on ``box``)
        touch one of its inner sides; None when they do not."""
        inside = alpha > PERSON_LEVEL
        left, top, right, bottom = self._margins()
        x0: float = box.x0
        y0: float = box.y0
        x1: float = box.x1
        y1: float = box.y1
        if box.x0 > 0 and inside[:, :EDGE_BAND].any():
            x0 -= left
        if box.y0 > 0 and inside[:EDGE_BAND].any():
            y0 -= top
        if box.x1 < width and inside[:, -EDGE_BAND:].any():
            x1 += right
        if box.y1 < height and inside[-EDGE_BAND:].any():
            y1 += bottom
        if (x0, y0, x1, y1) == (box.x0, box.y0, box.x1, box.y1):
            return None
        out = snapped(x0, y0, x1, y1, height, width)
        return whole(height, width) if out.area > FULL_AREA * height * width else out

    def lost(self, alpha: np.ndarray) -> bool:
        """Whether the people the last call found are mostly gone from this call's ``alpha`` (on
        a box): they moved out of it faster than its margin (a jump in the footage that is not a
        cut), or left; the frame then runs on the whole picture."""
        return self._mass > 0 and float(np.count_nonzero(alpha > PERSON_LEVEL)) < LOST_SHARE * self._mass

    def ran(self, box: Box) -> None:
        """The model ran on ``box`` (every run, the ones a wider box replaced included)."""
        self._pixels[0] += box.area

    def done(self, box: Box, alpha: np.ndarray, grows: int, grey: np.ndarray) -> None:
        """Record a call's result: ``alpha`` is the whole picture's, with ``box`` the region it
        ran on; ``grey`` the frame's grey picture."""
        full = whole(*alpha.shape[:2])
        self.calls += 1
        self.grown += grows
        self.frame_size = (full.y1, full.x1)
        self._pixels[1] += full.area
        self._last_bounds = change_bounds(grey)
        if box == full:
            self._since_full = 0
            self._whole_bounds = self._last_bounds
        else:
            self.cropped += 1
            self._since_full += 1
        inside = alpha > PERSON_LEVEL
        self._mass = float(np.count_nonzero(inside))
        people = people_box(inside)
        if people is not None and self._people is not None:
            (a0, b0, c0, d0), (a1, b1, c1, d1) = people, self._people
            self._motion = (abs(a0 - a1), abs(b0 - b1), abs(c0 - c1), abs(d0 - d1))
        self._people = people
        self.box = box


def carry_state(state: Sequence[np.ndarray], old: Box, new: Box) -> list[np.ndarray]:
    """RVM's state made on ``old`` as it would be on ``new``: the cells both boxes cover are
    kept, the rest start from zeros. Both boxes' corners are on the GRID, so a cell at 1/s of
    the picture is the same stretch of the frame in both."""
    out = []
    ox0, oy0, ox1, oy1 = max(old.x0, new.x0), max(old.y0, new.y0), min(old.x1, new.x1), min(old.y1, new.y1)
    for value, s in zip(state, STATE_SCALES):
        h, w = -(-(new.y1 - new.y0) // s), -(-(new.x1 - new.x0) // s)
        moved = np.zeros((*value.shape[:2], h, w), value.dtype)
        if ox1 > ox0 and oy1 > oy0:
            # rows and columns of the overlap in each box's cells (ceil at a far side, which
            # may end off the grid at the frame's edge)
            sy, sx = (oy0 - old.y0) // s, (ox0 - old.x0) // s
            dy, dx = (oy0 - new.y0) // s, (ox0 - new.x0) // s
            n_y = min(-(-(oy1 - old.y0) // s) - sy, h - dy, value.shape[2] - sy)
            n_x = min(-(-(ox1 - old.x0) // s) - sx, w - dx, value.shape[3] - sx)
            moved[:, :, dy:dy + n_y, dx:dx + n_x] = value[:, :, sy:sy + n_y, sx:sx + n_x]
        out.append(moved)
    return out


def paste(part: np.ndarray, box: Box, into: np.ndarray) -> np.ndarray:
    """``part`` (the model's output on ``box``) written into the whole picture ``into``."""
    into[box.slices()] = part
    return into
