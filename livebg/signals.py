"""The one stop policy, for every job: the first Ctrl-C (or SIGTERM) stops taking frames and
finishes the output; a second one, not the first delivered twice, abandons it.

File jobs: ``terminate_as_interrupt`` (cli.py) makes SIGTERM act as Ctrl-C, and while the
pipeline runs ``signals_noted`` records each signal for ``run_stages`` to drain or abandon.
A batch (``livebg batch``): the first signal stops it (``first_stop_only``); the chunks in
flight are dropped, finished jobs and chunks are kept for ``--resume``.
The live loop: ``StopOnSignal`` sets its stop event. ``second_stop`` decides for all three.
"""
from __future__ import annotations

import signal
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

# A second stop signal this soon after the first is the same stop, delivered twice: coreutils'
# `timeout` (without --foreground) signals the process and then its whole process group,
# microseconds apart (a handler runs when the main thread next looks, up to the pipeline's 0.1 s
# poll later). A person's quick second Ctrl-C (0.3 s after the first) abandons the job.
SAME_STOP_SECONDS = 0.2

Caught = tuple[float, int]  # (time.monotonic(), signal number) of one stop signal


def second_stop(caught: Sequence[Caught]) -> bool:
    """True when these stop signals hold a second stop: one SAME_STOP_SECONDS or more after the
    first (sooner, it is the first one delivered twice, as `timeout` does)."""
    return any(t - caught[0][0] >= SAME_STOP_SECONDS for t, _ in caught[1:])


@contextmanager
def terminate_as_interrupt(command: str) -> Iterator[None]:
    """SIGTERM (``kill``, ``timeout``) stops a file job as Ctrl-C does: the frames in flight are
    finished and the file is closed, instead of the process dying with a partial file behind.
    Afterwards the signal is raised again under the previous handler, so the process still ends
    by SIGTERM (status 143) and a program that called ``main()`` is terminated as was asked.

    Only when SIGTERM has its default action: an ignored signal or someone else's handler is
    left alone, as is everything off the main thread (signals can only be set there). ``cam``
    stops on SIGTERM by itself (``StopOnSignal``)."""
    received = []

    def interrupt(signum, frame):
        received.append(signum)
        raise KeyboardInterrupt

    installed = restored_int = False
    if command in ("video", "image", "batch") and threading.current_thread() is threading.main_thread():
        installed = signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        # A job started in the background by a non-interactive shell (`livebg video … &` in a
        # script) inherits SIGINT ignored; `kill -INT` must still stop it as Ctrl-C does.
        restored_int = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    if installed:
        signal.signal(signal.SIGTERM, interrupt)
    if restored_int:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if restored_int:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        if installed:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            if received:
                sys.stderr.flush()
                signal.raise_signal(signal.SIGTERM)



@contextmanager
def signals_noted(caught: list[Caught]) -> Iterator[None]:
    """While the pipeline runs, SIGINT and SIGTERM only note their time in ``caught``, for the
    loop in ``run_stages`` to act on; nothing is raised on the main thread. (Raised as
    KeyboardInterrupt, a second signal right after the first could land in the code that
    handles the first, outside any ``try``, and abandon the job.) The handlers that were set
    are still told, their KeyboardInterrupt swallowed: the CLI notes a SIGTERM so as to end by
    it once the file is closed. A signal left at its default action or ignored keeps it; only
    the main thread can set handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}

    def note(signum, frame):
        caught.append((time.monotonic(), signum))
        try:
            previous[signum](signum, frame)
        except KeyboardInterrupt:
            pass

    for sig in (signal.SIGINT, signal.SIGTERM):
        if callable(signal.getsignal(sig)):  # Python's Ctrl-C handler, the CLI's SIGTERM one
            previous[sig] = signal.signal(sig, note)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)



@contextmanager
def first_stop_only(caught: list[Caught]) -> Iterator[None]:
    """While a batch runs: the first SIGINT or SIGTERM raises KeyboardInterrupt on the main
    thread (the batch stops its workers, keeps what is finished and its state file); later
    ones are only noted in ``caught``, so none can land in the code that handles the first
    (`timeout` sends SIGTERM twice; a person may press Ctrl-C again while the workers stop).
    The handlers that were set are still told (the CLI notes a SIGTERM, to end by it);
    a signal left at its default action or ignored keeps it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}

    def stop(signum, frame):
        caught.append((time.monotonic(), signum))
        try:
            previous[signum](signum, frame)
        except KeyboardInterrupt:
            pass
        if len(caught) == 1:
            raise KeyboardInterrupt

    for sig in (signal.SIGINT, signal.SIGTERM):
        if callable(signal.getsignal(sig)):
            previous[sig] = signal.signal(sig, stop)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class StopOnSignal:
    """SIGINT/SIGTERM set the stop event, so the loop ends and every device is released; a second one
    (not the first repeated within SAME_STOP_SECONDS) interrupts."""

    def __init__(self, stop: threading.Event):
        self.stop = stop
        self.received: int | None = None
        self._times: list[Caught] = []  # when each signal came, and which
        self._previous: dict[int, Any] = {}

    def _handle(self, signum, frame) -> None:
        self._times.append((time.monotonic(), signum))
        if second_stop(self._times):
            raise KeyboardInterrupt
        if self.received is None:
            self.received = signum
        self.stop.set()

    def __enter__(self) -> "StopOnSignal":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
