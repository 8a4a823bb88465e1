"""A still image as the background, scaled to cover the frame.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from livebg.composite.base import Background
from livebg.composite.fit import fit_cover
from livebg.errors import BackgroundError
from livebg.frames.images import read_image


class ImageBackground(Background):
    uses_frame = False  # only the frame's shape
    transparent = False
    kind = "image"

    def __init__(self, path: Path):
        self.path = path
        try:
            self.image = read_image(path, error=BackgroundError)
        except BackgroundError as exc:  # say that it is the --bg file, not the input, that is wrong
            raise BackgroundError(f"--bg {exc}") from None
        self._fitted: np.ndarray | None = None

    def frame_at(self, t, frame):
        h, w = frame.shape[:2]
        if self._fitted is None or self._fitted.shape[:2] != (h, w):
            self._fitted = fit_cover(self.image, w, h)
        return self._fitted

