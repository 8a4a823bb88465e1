"""What the video and photo jobs share: messages, output checks and clean-up."""
from __future__ import annotations

from pathlib import Path

from livebg.errors import OutputError, say
from livebg.output import discard as remove_output  # noqa: F401 - the jobs remove finished outputs with it


def detail(message: str) -> None:
    """A progress-report line (-q hides it)."""
    say(message, detail=True)


def log(message: str) -> None:
    say(message)


def frames_text(n: int) -> str:
    return f"{n} frame{'' if n == 1 else 's'}"


def check_not_overwriting(output: Path, flag: str, input_spec: str | None, bg_spec: str) -> None:
    """Refuse an output path that is the input or the background file: the finished output
    replaces it (it is written under a temporary name, then renamed)."""
    target = output.expanduser().resolve()
    if input_spec is not None and target == Path(input_spec).expanduser().resolve():
        raise OutputError(f"{flag} {output} is the input itself and would be overwritten: choose another path")
    if bg_spec and Path(bg_spec).expanduser().is_file() and target == Path(bg_spec).expanduser().resolve():
        raise OutputError(f"{flag} {output} is the background file and would be overwritten: choose another path")
