"""What `livebg cam` reads from: the protocol every capture device follows (a camera, a file
replayed as one, the tests' fakes), the image it gives and the fault it raises.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np


class CaptureFault(Exception):
    """The device stopped delivering frames (unplugged, stream broken); it may come back on reopen.

    ``position``: for a replayed file, the frame it failed at (a file that fails at the same
    frame again after a reopen is damaged there, and is not reopened again); None for a camera."""

    def __init__(self, message: str, *, position: int | None = None):
        super().__init__(message)
        self.position = position


@dataclass
class CapturedImage:
    image: np.ndarray  # RGB uint8 HxWx3
    time: float | None = None  # seconds into a replayed file: when it is due; None for real cameras


class CaptureDevice(Protocol):
    name: str
    width: int
    height: int
    fps: float

    def read(self) -> CapturedImage | None:
        """The next frame; None at a normal end (a file replayed to its end); CaptureFault on failure."""

    def close(self) -> None: ...


DeviceFactory = Callable[[], CaptureDevice]
