"""RVM live on a CPU: the model's pixels spent on the box around the people, not on the frame.

Live on a CPU the model gets a fixed number of pixels a call (the working size the camera's
rate allows, ``live.sizing``: the whole frame at that size). On the whole frame most of them
are background. Zoomed, the box around the people (``region.PeopleRegion``, on the frame at
``MODEL_SHORT_SIDE``, the file jobs' detail) is cut from the frame at full detail and scaled
down only as far as the budget needs (``zoom_size``): a walker filling a fifth of the frame is
seen at about twice the detail for the same time. Measured on the labelled clips, causal,
every frame its own call at a 160 px budget: mean IoU 0.844 whole-frame, 0.887 zoomed, at
about the same call time (docs/quality.md, "Live: the box at the budget's detail").

The box changes size from call to call, so the scale of the picture the model sees does too;
the recurrent state made on one box is resampled onto the next (``rescale_state``): each cell
takes the old state at the same place of the frame, and cells the old box did not cover start
from zeros, as a new stream's.
"""
from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

from livebg.segment.region import STATE_SCALES, Box

# px of the MODEL_SHORT_SIDE frame kept around the people (region.MARGIN: 64): live does not run a
# frame again on a wider box, so a margin buys less than the detail it costs (16 above 32 on every
# labelled clip at every live size; at 8 fast motion loses limbs: docs/quality.md)
ZOOM_MARGIN = 16
STEP = 4  # the zoomed picture's sides are multiples of this


def zoom_size(box: Box, budget: float) -> tuple[int, int]:
    """(w, h) the box is given to the model at: its own size, or smaller so that it holds about
    ``budget`` pixels (never larger than the box)."""
    w, h = box.x1 - box.x0, box.y1 - box.y0
    scale = min(1.0, math.sqrt(budget / max(1, w * h)))
    if scale >= 1.0:
        return w, h

    def side(v: int) -> int:
        return max(16, int(round(v * scale / STEP)) * STEP)
    return side(w), side(h)


def rescale_state(state: Sequence[np.ndarray], old: Box, old_size: tuple[int, int], new: Box,
                  new_size: tuple[int, int]) -> list[np.ndarray]:
    """RVM's state made on box ``old`` given to the model at ``old_size`` (w, h) as it would be
    on box ``new`` at ``new_size``: each cell of the new state takes the old state's value at
    the same point of the frame (bilinear, the edge cells' values up to the old box's sides);
    where the old box did not reach, zeros. A state of
    a call that has not run yet (1x1 zeros) stays as it is."""
    out = []
    for value, s in zip(state, STATE_SCALES):
        if value.shape[2] == 1 and value.shape[3] == 1:
            out.append(value)
            continue
        n_h, n_w = -(-new_size[1] // s), -(-new_size[0] // s)
        # a new cell's centre in frame px, then in the old state's cells
        fx = new.x0 + (np.arange(n_w) + 0.5) * s * (new.x1 - new.x0) / new_size[0]
        fy = new.y0 + (np.arange(n_h) + 0.5) * s * (new.y1 - new.y0) / new_size[1]
        ox = (fx - old.x0) * old_size[0] / (old.x1 - old.x0) / s - 0.5
        oy = (fy - old.y0) * old_size[1] / (old.y1 - old.y0) / s - 0.5
        map_x, map_y = np.meshgrid(ox.astype(np.float32), oy.astype(np.float32))
        cells = value[0]
        # within the old box's cells the nearest edge value; beyond them, zeros (new ground)
        inside = ((ox >= -0.5) & (ox <= cells.shape[2] - 0.5))[None, :] & ((oy >= -0.5) & (oy <= cells.shape[1] - 0.5))[:, None]
        moved = np.empty((cells.shape[0], n_h, n_w), np.float32)
        # OpenCV remaps up to 4 channels at a time, channels last
        for c in range(0, cells.shape[0], 4):
            part = np.ascontiguousarray(cells[c:c + 4].transpose(1, 2, 0), np.float32)
            done = cv2.remap(part, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            moved[c:c + 4] = done.reshape(n_h, n_w, -1).transpose(2, 0, 1)
        moved *= inside
        out.append(moved[None].astype(value.dtype, copy=False))
    return out
