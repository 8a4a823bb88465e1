"""Errors a user can act on: each message names the problem and what to do about it.

The CLI prints ``livebg: error: <message>`` and exits non-zero for any LivebgError;
anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import sys


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


class DeviceError(LivebgError):
    """A camera or virtual camera device is missing or failed."""


def say(message: str, *, error: bool = False) -> None:
    """The one place ``livebg: …`` lines are written (to stderr, so stdout stays the output's)."""
    print(f"livebg: {'error: ' if error else ''}{message}", file=sys.stderr, flush=True)
