"""PNG frame directories and single photos, written under a temporary name and renamed at the end.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from livebg.errors import OutputError, reason
from livebg.output import commit, discard, partial_path, write_atomic, write_failed
from livebg.sinks.files import FrameSink


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class ImageDirSink(FrameSink):
    """Frames as numbered PNGs (00000.png, …) in a directory that appears when the job ends."""

    def __init__(self, path: str | Path, *, compression: int = 1, what: str = "output"):
        self.path = Path(path)
        if self.path.exists() and any(self.path.iterdir()):
            raise OutputError(f"{what} directory {self.path} is not empty: choose a new or empty directory")
        self.partial = partial_path(self.path)
        self.partial.mkdir(mode=0o777 & ~_umask())
        self.params = [cv2.IMWRITE_PNG_COMPRESSION, compression]
        self.frames = 0

    def write(self, image: np.ndarray, pts: int = 0, *, number: int | None = None) -> None:
        """The next frame as ``NNNNN.png``; ``number``: under that number instead (live: the
        source frame's index, which skips the frames the camera dropped)."""
        if image.ndim == 3:
            image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR if image.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
        # encoded in memory and written by Python: a full disk is an OSError with its reason
        # (cv2.imwrite only returns False, after libpng has printed its own error line)
        ok, data = cv2.imencode(".png", image, self.params)
        if not ok:
            raise OutputError(f"cannot encode frame {self.frames} of {self.path} as PNG")
        try:
            (self.partial / f"{self.frames if number is None else number:05d}.png").write_bytes(data.tobytes())
        except OSError as exc:
            raise write_failed(self.path, exc) from None
        self.frames += 1

    def _finish(self) -> None:
        if self.path.exists():
            self.path.rmdir()  # empty, checked at the start
        commit(self.partial, self.path)

    def _discard(self) -> None:
        discard(self.partial)


def write_image_atomic(path: Path, image: np.ndarray, quality: int = 95) -> None:
    """Write one RGB/RGBA/grey image via a temporary name in the same directory."""
    ext = path.suffix.lower()
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR if image.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext in (".jpg", ".jpeg") else []
    ok, data = cv2.imencode(ext, image, params)
    if not ok:
        raise OutputError(f"cannot encode {path.name} as {ext}: use .png or .jpg")
    write_atomic(path, data.tobytes(), error=_image_write_failed)


def _image_write_failed(path: Path, exc: BaseException) -> OutputError:
    return OutputError(f"cannot write {path} ({reason(exc)}): check the directory and disk space")
