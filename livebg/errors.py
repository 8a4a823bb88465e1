"""Errors a user can act on: each message names the problem and what to do about it.

The CLI prints ``livebg: error: <message>`` and exits non-zero for any LivebgError;
anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import sys

# Exit codes besides 0, 1 (a bug), 2 (LivebgError), 130 (Ctrl-C) and 143 (SIGTERM):
PHOTOS_FAILED = 3  # some photos of a batch failed; the others were written
DAMAGED_INPUT = 4  # the input video was damaged; the output holds what could be decoded


class LivebgError(Exception):
    """Base class: the message is shown to the user as one line."""

    exit_code = 2


class InputError(LivebgError):
    """The input video, image or camera cannot be used."""


class BackgroundError(LivebgError):
    """The --bg value cannot be used."""


class OutputError(LivebgError):
    """The output path cannot hold what was asked for."""


class ModelError(LivebgError):
    """The model, its weights or the class names cannot be used."""


class ConfigError(LivebgError):
    """A setting or preset file is wrong."""


class PhotosFailed(LivebgError):
    """Some photos of a batch failed; the others were written. Exit code 3."""

    exit_code = PHOTOS_FAILED

    def __init__(self, message: str, *, failed: list, written: list):
        super().__init__(message)
        self.failed = failed  # (path, reason) of each photo that failed
        self.written = written


class Cancelled(LivebgError):
    """A job stopped by its caller (``cancel`` set): its outputs were removed."""


class DeviceError(LivebgError):
    """A camera or virtual camera device is missing or failed."""


_quiet = False


def set_quiet(quiet: bool) -> None:
    """-q: leave out the progress-report lines (``say(..., detail=True)``); warnings and errors stay."""
    global _quiet
    _quiet = quiet


def say(message: str, *, error: bool = False, detail: bool = False) -> None:
    """The one place ``livebg: …`` lines are written (to stderr, so stdout stays the output's).
    ``detail``: a report of what is happening (model, input, what was written), which -q hides."""
    if detail and _quiet:
        return
    print(f"livebg: {'error: ' if error else ''}{message}", file=sys.stderr, flush=True)


# -- why an exception happened, on one line (for the messages above) ---------------------------
def first_line(exc: BaseException, limit: int = 200) -> str:
    """An exception's message on one line (its white space folded), cut to ``limit`` characters."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def reason(exc: BaseException, limit: int = 200) -> str:
    """Why an OS or FFmpeg call failed: its ``strerror`` when it has one (OSError and PyAV's
    errors carry it, without the errno and path around it), else its message on one line."""
    strerror = getattr(exc, "strerror", None)
    return strerror if isinstance(strerror, str) and strerror else first_line(exc, limit)


def last_line(exc: BaseException, limit: int = 200) -> str:
    """The last non-empty line of a message that ends a traceback (a Ray task's error carries the
    worker's traceback, its own exception last), cut to ``limit``; the type's name if empty."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1][:limit] if lines else type(exc).__name__
