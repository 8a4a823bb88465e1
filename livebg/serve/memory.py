"""Giving memory back between bursts: a server that decoded a 49 MP photo should shrink to about
its warm-up size once the answer is sent, not keep the peak for ever.

Two things keep freed memory in a Python process on glibc. Its allocator hands blocks under the
mmap threshold out of per-thread arenas (up to 8 per core), and freed pages inside an arena stay
mapped; and the threshold itself rises (up to 32 MB) each time a large mapped block is freed,
so after one big photo, frames and mattes of a few MB also come from the arenas. ``tune()``
pins the threshold and caps the arenas once, at start; ``trim()`` (``malloc_trim(0)``) returns
the free pages of every arena to the system, called by the server after a large request or a
video job. Elsewhere than glibc both do nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from functools import cache
from pathlib import Path

M_ARENA_MAX = -8  # mallopt parameters (glibc's malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 4 << 20  # blocks of 4 MB and more are mapped on their own and unmapped when freed
ARENA_MAX = 2  # arenas for all threads: the server's work is bounded by its slots, not its threads


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows)
        return None
    return libc


def tune() -> bool:
    """Pin glibc's mmap threshold and cap its arenas, unless MALLOC_ARENA_MAX or
    MALLOC_MMAP_THRESHOLD_ are set (the operator's choice). Returns whether it could."""
    libc = _libc()
    if libc is None:
        return False
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    if "MALLOC_ARENA_MAX" not in os.environ:
        libc.mallopt(M_ARENA_MAX, ARENA_MAX)
    return True


class Trimmer:
    """Counts the work that leaves freed memory behind; ``trim_if_due()`` (the server's
    housekeeping, in a worker thread) gives it back once something large finished."""

    def __init__(self) -> None:
        self._due = threading.Event()

    def note(self) -> None:
        self._due.set()

    def trim_if_due(self) -> bool:
        if not self._due.is_set():
            return False
        self._due.clear()
        return trim()


def trim() -> bool:
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


def rss_bytes(pid: int | str = "self") -> int:
    """The resident set size of a process, from /proc (0 where there is none)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
