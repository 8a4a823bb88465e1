"""Output paths: what an output path asks for (OutputPlan), checks before any work, file
system errors as one-line messages, and the FrameSink base class.
"""
from __future__ import annotations

import abc
import errno
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livebg.errors import OutputError, say

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


# errno values that mean the file system refused the output (the user can act on those)
FILE_SYSTEM_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO}


def write_failed(path: Path, exc: BaseException) -> OutputError:
    """The one-line error for an output that failed while being written: the disk or permissions
    when the file system said so, else the encoder or muxer's own reason."""
    reason = getattr(exc, "strerror", None) or str(exc)
    if getattr(exc, "errno", None) in FILE_SYSTEM_ERRORS:
        return OutputError(f"cannot write {path} ({reason}): check the disk space and the directory's permissions")
    return OutputError(f"encoding {path.name} failed ({reason}): try another output format (.mkv takes the most), "
                       f"or --no-audio if the input's audio is damaged")


PARTIAL_TAG = ".livebg-partial-"
STALE_SECONDS = 600  # a partial file untouched this long, whose process is gone, was left by a killed run


def partial_path(final: Path) -> Path:
    """A hidden temporary name beside ``final``, unique to this job (two jobs writing the same
    output never share one): .NAME.livebg-partial-PID-TOKEN.EXT. The output appears under its
    final name only by the rename at the end, so the last job to finish wins, whole."""
    return final.with_name(f".{final.stem}{PARTIAL_TAG}{os.getpid()}-{secrets.token_hex(4)}{final.suffix}")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_partials(directory: Path) -> list[Path]:
    """Remove the partial outputs in ``directory`` that livebg runs left when they were killed
    (kill -9, a crash, power loss): those whose process is gone. A running job's are kept."""
    removed = []
    for path in directory.glob(f".*{PARTIAL_TAG}*"):
        pid = path.name.split(PARTIAL_TAG, 1)[1].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _running(int(pid)):
            continue
        try:  # a job on another machine (a shared folder) has a process id this one does not know:
            if time.time() - path.stat().st_mtime < STALE_SECONDS:  # only files left alone for long
                continue
        except OSError:
            continue
        try:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        except OSError:
            continue
        removed.append(path)
    return removed


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
    stale = remove_stale_partials(parent)
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
    under its final name only then); ``abort`` removes what was written. Optional: a sink that
    takes yuv420p planes as they are says so with ``takes_i420`` and has ``write_i420``; a sink
    that carries the input's audio has it in ``audio``."""

    frames: int = 0
    takes_i420: bool = False
    audio: object | None = None

    @abc.abstractmethod
    def write(self, image: np.ndarray, pts: int) -> None: ...

    def write_i420(self, yuv: np.ndarray, pts: int) -> None:
        raise ValueError(f"{type(self).__name__} does not take yuv420p frames: use write()")

    @abc.abstractmethod
    def close(self) -> Path: ...

    @abc.abstractmethod
    def abort(self) -> None: ...
