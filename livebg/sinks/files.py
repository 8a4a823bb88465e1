"""Output paths: what an output path asks for (OutputPlan), checks before any work, and the
FrameSink base class. Writing them whole (temporary names, renames) is livebg/output.py's.
"""
from __future__ import annotations

import abc
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livebg.errors import OutputError, say
from livebg.output import remove_partials

VIDEO_EXTENSIONS = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"}
ALPHA_VIDEO_EXTENSIONS = {".mov", ".webm"}
IMAGE_OUT_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}


@dataclass(frozen=True)
class OutputPlan:
    path: Path
    kind: str  # "video" or "frames" (a directory of PNGs)
    what: str = "output"  # how messages name it: "output" (-o) or "--alpha-out"

    @property
    def label(self) -> str:
        """The path as messages show it: a directory says it gets PNG frames."""
        return f"{self.path}{os.sep} (PNG frames)" if self.kind == "frames" else str(self.path)


def check_writable(directory: Path, what: str = "output") -> None:
    """Fail before any work when ``directory`` exists but files cannot be created in it."""
    if directory.is_dir() and not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(f"{what}: cannot write into {directory} (permission denied): choose a directory you can write to")


def plan_output(path: str | Path, *, transparent: bool, what: str = "output") -> OutputPlan:
    """Check an output path before any work starts: directory exists and is writable, format can hold the request."""
    text = str(path)
    if text == "-":
        raise OutputError(f"{what} -: livebg writes files, not standard output: give a file such as out.mp4, "
                          f"or a directory for PNG frames")
    out = Path(text).expanduser()
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        if parent.exists():
            raise OutputError(f"{what} {out}: {parent} is a file, not a directory; choose another path")
        raise OutputError(f"{what} directory {parent} does not exist: create it first or choose another path")
    check_writable(parent, what)
    stale = remove_partials(parent, stale_only=True)
    if stale:
        say(f"removed {len(stale)} partial file{'s' if len(stale) > 1 else ''} in {parent} left by an earlier livebg "
            f"run that was killed before it finished ({', '.join(p.name for p in stale[:3])}{', …' if len(stale) > 3 else ''})")
    ext = out.suffix.lower()
    if text.endswith(("/", os.sep)) or out.is_dir() or not ext:
        if out.exists() and not out.is_dir():
            raise OutputError(f"{what} {out} exists and is not a directory: choose another path")
        # the frames' directory is made under a temporary name beside it and renamed into place
        where = out.resolve()
        if where == Path.cwd().resolve() or where in Path.cwd().resolve().parents:
            raise OutputError(f"{what} {text} is the current directory or one above it: PNG frames go into a "
                              f"directory of their own; name a new one, e.g. -o frames/")
        return OutputPlan(Path(os.path.normpath(out)), "frames", what)
    if ext in IMAGE_OUT_EXTENSIONS:
        raise OutputError(f"{what} {out} is a single image, but a video has many frames: use .mp4, .mov, .webm or a directory")
    if ext not in VIDEO_EXTENSIONS:
        raise OutputError(f"{what} extension {ext} is not supported: use one of {', '.join(sorted(VIDEO_EXTENSIONS))} or a directory")
    if transparent and ext not in ALPHA_VIDEO_EXTENSIONS:
        raise OutputError(f"{out.name} cannot keep transparency: use .mov (ProRes 4444), .webm (VP9) or a directory of PNGs")
    return OutputPlan(out, "video", what)


class FrameSink(abc.ABC):
    """Where a file job's frames go. ``write`` takes RGB (RGBA, grey) uint8 frames at a pts in
    the input's time_base; ``close`` finishes the file and returns its path (the output appears
    under its final name only then); ``abort`` removes what was written. Either is safe to call
    twice, and the first of them counts. A sink writes ``_finish`` (complete the file, rename it
    into place) and ``_discard`` (remove it). Optional: a sink that takes yuv420p planes as they
    are says so with ``takes_i420`` and has ``write_i420``; a sink that carries the input's
    audio has it in ``audio``."""

    path: Path
    frames: int = 0
    takes_i420: bool = False
    audio: object | None = None
    _closed: bool = False

    @abc.abstractmethod
    def write(self, image: np.ndarray, pts: int) -> None: ...

    def write_i420(self, yuv: np.ndarray, pts: int) -> None:
        raise ValueError(f"{type(self).__name__} does not take yuv420p frames: use write()")

    def close(self) -> Path:
        if not self._closed:
            self._closed = True
            self._finish()
        return self.path

    def abort(self) -> None:
        if not self._closed:
            self._closed = True
            self._discard()

    @abc.abstractmethod
    def _finish(self) -> None: ...

    @abc.abstractmethod
    def _discard(self) -> None: ...
