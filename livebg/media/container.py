"""Opening media with PyAV: the one place an FFmpeg or OS error met while opening or reading
a file becomes one of livebg's errors, with a message that says what to do.

PyAV is imported on first use, so importing this costs nothing for photo jobs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from livebg.errors import InputError, LivebgError, reason

UNREADABLE = "is not a video FFmpeg can read"
CHECK_THE_FILE = "check that the file is complete and is a video"


def read_failed(exc: BaseException, name: str, *, error: type[LivebgError] = InputError, problem: str = UNREADABLE,
                fix: str = CHECK_THE_FILE) -> LivebgError:
    """``name problem (why): fix`` as ``error``, for an FFmpeg or OS error ``exc`` met while
    opening or reading ``name`` (how messages call it: a path, ``--source X``, ``background X``)."""
    return error(f"{name} {problem} ({reason(exc)}): {fix}")


def open_media(target: str | Path, *, name: str, error: type[LivebgError] = InputError, problem: str = UNREADABLE,
               fix: str = CHECK_THE_FILE, timeout: float | None = None) -> Any:
    """An input container for a file (or a URL, with ``timeout`` seconds for the network), or
    ``error`` saying why FFmpeg cannot open it (see read_failed)."""
    import av

    try:
        return av.open(str(target), timeout=timeout)
    except av.FFmpegError as exc:
        raise read_failed(exc, name, error=error, problem=problem, fix=fix) from None


def video_stream(container: Any, *, name: str, error: type[LivebgError] = InputError,
                 fix: str = "give a video file") -> Any:
    """The container's first video stream; without one the container is closed and ``error``
    raised: ``name has no video stream: fix``."""
    if not container.streams.video:
        container.close()
        raise error(f"{name} has no video stream: {fix}")
    return container.streams.video[0]
