"""The output layer, below every stage: each file livebg writes (videos, frame directories,
photos, mattes, batch chunks and state, the server's job records, downloaded weights) is
written under a hidden temporary name beside it and renamed into place when whole, so a
failed, stopped or killed job never leaves a partial file under the final name. Partial
files are recognised by their name, and removed here.
"""
from __future__ import annotations

import errno
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from livebg.errors import OutputError, reason

PARTIAL_TAG = ".livebg-partial-"
STALE_SECONDS = 600  # a partial file untouched this long, whose process is gone, was left by a killed run

# errno values that mean the file system refused the output (the user can act on those)
FILE_SYSTEM_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO}

# how a write that failed is told: the final path and the exception -> the error to raise
WriteError = Callable[[Path, BaseException], Exception]


def write_failed(path: Path, exc: BaseException) -> OutputError:
    """The one-line error for an output that failed while being written: the disk or permissions
    when the file system said so, else the encoder or muxer's own reason."""
    why = reason(exc)
    if getattr(exc, "errno", None) in FILE_SYSTEM_ERRORS:
        return OutputError(f"cannot write {path} ({why}): check the disk space and the directory's permissions")
    return OutputError(f"encoding {path.name} failed ({why}): try another output format (.mkv takes the most), "
                       f"or --no-audio if the input's audio is damaged")


def partial_path(final: Path) -> Path:
    """A hidden temporary name beside ``final``, unique to this job (two jobs writing the same
    output never share one): .NAME.livebg-partial-PID-TOKEN.EXT. The output appears under its
    final name only by the rename at the end, so the last job to finish wins, whole."""
    return final.with_name(f".{final.stem}{PARTIAL_TAG}{os.getpid()}-{secrets.token_hex(4)}{final.suffix}")


def is_partial(path: Path) -> bool:
    """True for a name partial_path made (a job's output not finished yet, or left by a killed run)."""
    return PARTIAL_TAG in path.name


def discard(path: Path) -> None:
    """Remove an output, partial or finished (a file, or a directory of frames), if it is there."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def commit(partial: Path, final: Path, *, error: WriteError | None = write_failed) -> Path:
    """Move a finished partial output to its final name in one rename (readers see all of it
    or none). When the rename fails the partial is removed and ``error(final, exc)`` raised
    (``error`` None: the OSError itself)."""
    try:
        os.replace(partial, final)
    except OSError as exc:
        discard(partial)
        if error is None:
            raise
        raise error(final, exc) from None
    return final


@contextmanager
def atomic_output(final: Path, *, error: WriteError | None = write_failed,
                  errors: tuple[type[BaseException], ...] = (OSError,)) -> Iterator[Path]:
    """Write ``final`` through the temporary name this yields: renamed to ``final`` when the
    block ends, removed when it raises (a stop signal too). An exception of ``errors`` (the
    file system's; the encoder's too where the caller adds them) is raised as
    ``error(final, exc)``, or as it is when ``error`` is None."""
    partial = partial_path(final)
    try:
        yield partial
    except BaseException as exc:
        discard(partial)
        if error is not None and isinstance(exc, errors):
            raise error(final, exc) from None
        raise
    commit(partial, final, error=error)


def write_atomic(final: Path, data: bytes | str, *, error: WriteError | None = write_failed) -> None:
    """Write ``data`` (text as UTF-8) to ``final`` whole or not at all (see atomic_output)."""
    with atomic_output(final, error=error) as partial:
        if isinstance(data, bytes):
            partial.write_bytes(data)
        else:
            partial.write_text(data, encoding="utf-8")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _stale(path: Path) -> bool:
    """Left by a livebg run that was killed (kill -9, a crash, power loss): its process is gone
    and the file was left alone for long (a job on another machine writing into a shared
    folder has a process id this one does not know)."""
    pid = path.name.split(PARTIAL_TAG, 1)[1].split("-", 1)[0]
    if not pid.isdigit() or int(pid) == os.getpid() or _running(int(pid)):
        return False
    try:
        return time.time() - path.stat().st_mtime >= STALE_SECONDS
    except OSError:
        return False


def remove_partials(directory: Path, *, stale_only: bool = False) -> list[Path]:
    """Remove the partial outputs in ``directory`` (not below it); ``stale_only``: only those
    left by runs that were killed, a running job's are kept. Returns what was removed."""
    removed = []
    for path in directory.glob(f".*{PARTIAL_TAG}*"):
        if stale_only and not _stale(path):
            continue
        try:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        except FileNotFoundError:
            continue
        except OSError:
            if stale_only:
                continue
            raise
        removed.append(path)
    return removed
