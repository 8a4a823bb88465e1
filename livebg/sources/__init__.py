"""Frame sources: video files, image sequences (and, for `livebg cam`, cameras).

Every source yields ``Frame`` objects in presentation order with exact timestamps.
"""
from __future__ import annotations

import glob as globlib
from pathlib import Path

from livebg.config import SEQUENCE_FPS
from livebg.errors import InputError
from livebg.frames.frame import Frame
from livebg.frames.images import IMAGE_EXTENSIONS, list_images
from livebg.sources.base import FrameSource
from livebg.sources.images import ImageSequenceSource
from livebg.sources.video import VideoFileSource

__all__ = ["Frame", "FrameSource", "ImageSequenceSource", "VideoFileSource", "open_source", "list_images", "is_photo"]


def is_photo(spec: str) -> bool:
    """True when ``spec`` is one image file (``livebg video`` makes it a one-frame video)."""
    path = Path(spec).expanduser()
    return path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file()


def open_source(spec: str, *, fps: float = SEQUENCE_FPS, strict: bool = False) -> FrameSource:
    """A video file, a directory of frames, a glob of frames or one photo (a one-frame sequence:
    read as ``livebg image`` reads it, EXIF orientation applied, at ``fps``)."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return ImageSequenceSource(list_images(path), fps=fps, name=str(path))
    if any(ch in spec for ch in "*?[") and not path.exists():
        files = sorted(Path(p) for p in globlib.glob(str(path)))
        if not files:
            raise InputError(f"no files match {spec}: check the pattern (quote it so the shell does not expand it)")
        return ImageSequenceSource(files, fps=fps, name=spec)
    if not path.exists():
        raise InputError(f"input not found: {spec} — check the path")
    if is_photo(spec):
        return ImageSequenceSource([path], fps=fps, name=str(path))
    return VideoFileSource(path, strict=strict)
