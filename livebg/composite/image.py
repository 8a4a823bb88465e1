"""A still image as the background, scaled to cover the frame.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from livebg.composite.base import Background
from livebg.composite.fit import fit_cover
from livebg.errors import BackgroundError, say
from livebg.frames.images import read_image


class ImageBackground(Background):
    uses_frame = False  # only the frame's shape
    transparent = False
    kind = "image"
    is_scene = True

    def __init__(self, path: Path, *, size: tuple[int, int] | None = None):
        """``size`` (width, height): the frames it will fill, so a large JPEG is decoded only
        as large as they need (``read_image``'s ``cover``); another size reads it again whole."""
        self.path = path
        self._size = size
        self.image = self._read(size)
        if is_animated_webp(path):  # neither OpenCV nor FFmpeg decodes its animation
            say(f"--bg {path.name} is an animated WebP: livebg shows its first frame; to play it, convert it "
                f"to a video (a GIF or .mp4 plays)")
        self._fitted: np.ndarray | None = None

    def _read(self, size: tuple[int, int] | None) -> np.ndarray:
        try:
            return read_image(self.path, error=BackgroundError, cover=size)
        except BackgroundError as exc:  # say that it is the --bg file, not the input, that is wrong
            raise BackgroundError(f"--bg {exc}") from None

    def frame_at(self, t, frame):
        h, w = frame.shape[:2]
        if self._fitted is None or self._fitted.shape[:2] != (h, w):
            if self._size is not None and self._size != (w, h):  # read for another size
                self._size = None
                self.image = self._read(None)
            self._fitted = fit_cover(self.image, w, h)
        return self._fitted


def is_animated_webp(path: Path) -> bool:
    """True for a WebP file with an animation (its VP8X header's animation flag)."""
    with open(path, "rb") as f:
        head = f.read(21)
    return len(head) == 21 and head[:4] == b"RIFF" and head[8:16] == b"WEBPVP8X" and bool(head[20] & 0x02)
