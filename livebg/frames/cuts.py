"""Scene cuts: a small grey thumbnail of each frame, and whether two of them differ as the frames
on either side of a cut do. Detected once per frame, where the frame enters the pipeline (a
video job's segment stage, the API's replacer, the live mask thread), with ``[smoothing]
cut_threshold``, and carried with the frame to the recurrent model (which drops its state) and
to the smoother (which drops its past), so both agree on where a shot starts.
"""
from __future__ import annotations

import cv2
import numpy as np

from livebg.frames.frame import Frame
from livebg.frames.resize import shrink

THUMB_SIZE = (64, 36)
CUT_THRESHOLD = 0.08  # mean thumbnail difference (0..1) of a scene cut; a fast pan is ~0.04


def thumbnail(frame: np.ndarray) -> np.ndarray:
    """A 64x36 float thumbnail in [0, 1] of an RGB frame or a grey one (uint8, or float in [0, 1]).

    Halved by OpenCV's fast 2x steps while it is at least twice the thumbnail's size, then
    averaged down the rest of the way: a direct INTER_AREA from 480x270 is much slower."""
    if frame.ndim == 3:
        frame = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    small = frame
    while small.shape[1] >= 2 * THUMB_SIZE[0] and small.shape[0] >= 2 * THUMB_SIZE[1]:
        small = shrink(small, 2)
    thumb = cv2.resize(small, THUMB_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)
    if frame.dtype == np.uint8:
        thumb *= 1 / 255.0
    return thumb


def frame_thumbnail(frame: Frame) -> np.ndarray:
    """The ``thumbnail`` of a Frame from what it holds already: its RGB picture, else its Y plane
    (limited range, brought to the full range of the RGB frame's grey): nothing converted."""
    if frame.image is not None:
        return thumbnail(frame.image)
    thumb = thumbnail(frame.i420()[:frame.height])
    thumb -= 16 / 255
    thumb *= 255 / 219
    return thumb


def cut_between(a: np.ndarray, b: np.ndarray, threshold: float = CUT_THRESHOLD) -> bool:
    """True when two ``thumbnail``s differ as the frames on either side of a scene cut do."""
    return float(cv2.absdiff(a, b).mean()) > threshold


class CutDetector:
    """Consecutive frames in, "a shot starts here" out; ``reset()`` forgets the last frame."""

    def __init__(self, threshold: float = CUT_THRESHOLD):
        self.threshold = threshold
        self._thumb: np.ndarray | None = None

    def reset(self) -> None:
        self._thumb = None

    def __call__(self, frame: np.ndarray | None = None, *, thumb: np.ndarray | None = None) -> bool:
        """True when ``frame`` (RGB or grey), or the ``thumbnail`` of it given as ``thumb``, starts
        a new shot; the first frame after ``reset()`` does not."""
        if thumb is None:
            if frame is None:
                raise TypeError("a cut detector needs the frame or its thumbnail")
            thumb = thumbnail(frame)
        previous, self._thumb = self._thumb, thumb
        return previous is not None and cut_between(previous, thumb, self.threshold)
