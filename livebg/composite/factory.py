"""Opening a --bg value as a Background: colours, keywords, image and video files.
"""
from __future__ import annotations

from fractions import Fraction

from livebg.composite.base import Background
from livebg.composite.blur import BlurBackground
from livebg.composite.image import ImageBackground
from livebg.composite.plain import (
    ColorBackground,
    GrayBackground,
    OriginalBackground,
    TransparentBackground,
)
from livebg.composite.video import VideoBackground
from livebg.config import BackgroundSpec, parse_bg
from livebg.errors import BackgroundError


def open_background(spec: str | BackgroundSpec, size: tuple[int, int], *, fit: str = "loop",
                    input_duration: Fraction | None = None) -> Background:
    """The Background a --bg value names (or its parse, ``BackgroundConfig.spec``), for frames
    of ``size`` (width, height)."""
    parsed = spec if isinstance(spec, BackgroundSpec) else parse_bg(spec)
    if parsed.color is not None:
        return ColorBackground(parsed.color, parsed.text)
    if parsed.kind == "blur":
        return BlurBackground(parsed.blur)
    if parsed.kind == "gray":
        return GrayBackground()
    if parsed.kind == "transparent":
        return TransparentBackground()
    if parsed.kind == "original":
        return OriginalBackground()
    if parsed.kind == "folder" or parsed.path is None:
        raise BackgroundError(f"--bg {parsed.text} is a directory: give one image or video (folders of backgrounds are for livebg cam)")
    if parsed.kind == "image":
        return ImageBackground(parsed.path, size=size)
    return VideoBackground(parsed.path, size, fit=fit, input_duration=input_duration)
