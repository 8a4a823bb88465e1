"""The foreground colour RVM gives outside the box it ran on (``segment.region``): the frame's
own within a ring round the box, zeros beyond.
"""
from __future__ import annotations

import numpy as np

from livebg.frames.frame import EXTENT_PAD
from livebg.segment.region import Box

# The frame's own colour (float in [0, 1]) is written this far around a box, and zeros beyond: the
# edge colour is only blended around alpha above foreground.EXTENT_LEVEL, up to EXTENT_PAD model
# px further, and near a box's side that can reach a little past it.
COLOUR_RING = EXTENT_PAD + 2


def colour_around(small: np.ndarray, box: Box) -> np.ndarray:
    """The foreground colour outside ``box``: the frame's own within COLOUR_RING px of the box,
    zeros further out (nobody is there; converting the whole frame would cost a pass a call)."""
    h, w = small.shape[:2]
    out = np.zeros((h, w, 3), np.float32)
    y0, y1 = max(0, box.y0 - COLOUR_RING), min(h, box.y1 + COLOUR_RING)
    x0, x1 = max(0, box.x0 - COLOUR_RING), min(w, box.x1 + COLOUR_RING)
    for rows, cols in (((y0, box.y0), (x0, x1)), ((box.y1, y1), (x0, x1)),
                       ((box.y0, box.y1), (x0, box.x0)), ((box.y0, box.y1), (box.x1, x1))):
        part = (slice(*rows), slice(*cols))
        out[part] = small[part] * np.float32(1 / 255)
    return out
