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
