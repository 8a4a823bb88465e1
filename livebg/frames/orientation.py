"""Display orientation: the rotation and mirroring a video's display matrix asks for (phone
videos are stored sideways with a 90 degree rotation in their metadata), applied to frames so
that the model sees people upright and the output plays upright everywhere.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Orientation:
    """How a stored frame becomes the displayed one: transpose first, then mirror the columns
    and/or the rows (every rotation by a multiple of 90 degrees, with or without a flip)."""
    transpose: bool = False
    flip_x: bool = False
    flip_y: bool = False

    @property
    def upright(self) -> bool:
        return not (self.transpose or self.flip_x or self.flip_y)

    def size(self, width: int, height: int) -> tuple[int, int]:
        """The displayed (width, height) of a stored frame of (width, height)."""
        return (height, width) if self.transpose else (width, height)

    def apply(self, image: np.ndarray) -> np.ndarray:
        """The displayed picture (HxW or HxWxC), as a new contiguous array."""
        if self.transpose:
            image = image.swapaxes(0, 1)
        if self.flip_x:
            image = image[:, ::-1]
        if self.flip_y:
            image = image[::-1]
        return np.ascontiguousarray(image)

    def describe(self) -> str:
        names = {(True, False, True): "rotated 90 degrees counter-clockwise",
                 (True, True, False): "rotated 90 degrees clockwise",
                 (False, True, True): "rotated 180 degrees"}
        text = names.get((self.transpose, self.flip_x, self.flip_y))
        if text:
            return text
        return "mirrored" + (" and transposed" if self.transpose else "")


def from_display_matrix(matrix: bytes | None) -> Orientation:
    """The Orientation of FFmpeg's display matrix (AV_FRAME_DATA_DISPLAYMATRIX: 9 int32, 16.16
    fixed point): a stored pixel (x, y) is shown at (a x + c y, b x + d y), up to a shift.
    Matrices that are not a multiple of 90 degrees (rare) are treated as upright."""
    if not matrix or len(matrix) < 36:
        return Orientation()
    a, b, _, c, d, *_ = struct.unpack("<9i", matrix[:36])
    a, b, c, d = (round(v / 65536) for v in (a, b, c, d))
    if b == 0 and c == 0 and abs(a) == 1 and abs(d) == 1:
        return Orientation(False, a < 0, d < 0)
    if a == 0 and d == 0 and abs(b) == 1 and abs(c) == 1:
        # shown at (c y, b x): the transposed picture, mirrored where the sign is negative
        return Orientation(True, c < 0, b < 0)
    return Orientation()
