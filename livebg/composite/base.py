"""The Background base class: what the compositors ask of a background, with defaults.
"""
from __future__ import annotations

import abc
from fractions import Fraction

import numpy as np


class Background(abc.ABC):
    """A background to put behind the person.

    A kind must implement ``frame_at``. The rest has defaults:

    - ``kind``: its name in messages; ``transparent``: True when there is nothing behind;
    - ``is_scene``: True when it is a picture of a scene (an image, a video) whose light the
      person can be harmonised to; False (the default) for colours and what is made from the
      frame itself;
    - ``uses_frame``: False when ``frame_at`` only looks at the frame's shape (a colour, an
      image, a video), so a YUV job need not make an RGB frame for it;
    - ``i420_at(t, yuv)``: the background as yuv420p planes at the size of the frame's planes,
      or None (the default) when it cannot make them, and ``I420Compositor`` converts
      ``frame_at``'s picture instead;
    - ``close()``: release files and threads; safe to call twice.
    """

    kind: str = ""
    transparent: bool = False
    is_scene: bool = False
    uses_frame: bool = True

    @abc.abstractmethod
    def frame_at(self, t: Fraction, frame: np.ndarray) -> np.ndarray | None:
        """The RGB background behind ``frame`` (shown at time ``t``), or None for transparent."""

    def i420_at(self, t: Fraction, yuv: np.ndarray) -> np.ndarray | None:
        """The background as yuv420p planes like ``yuv``'s, or None to take ``frame_at``."""
        return None

    def close(self) -> None:
        """Release what the background holds."""

    def __enter__(self) -> "Background":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
