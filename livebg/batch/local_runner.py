"""Chunks on this machine: N worker processes, each loading its models once and keeping them
for every chunk it runs (processes, not threads: each worker's model and FFmpeg keep a core
busy without sharing Python's lock)."""
from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from livebg.batch.chunk import ChunkResult, ChunkTask, ChunkWorker
from livebg.batch.runner import RETRIES, Event, Progress, Runner, gave_up
from livebg.errors import set_quiet

POLL_SECONDS = 0.25

# the worker process's own: set by _start_worker, once per process
_worker: ChunkWorker | None = None
_messages: Any = None


def _start_worker(messages: Any, threads: int) -> None:
    """In each worker process: Ctrl-C and SIGTERM are the driver's to handle (it stops the
    workers: a stop sent to the whole process group, as `timeout` and systemd send it, reaches
    the workers too), report lines stay off, and the models are loaded on first use, then
    kept. A worker whose driver is gone (killed outright) ends itself."""
    global _worker, _messages
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_end_with_parent, args=(os.getppid(),), name="livebg-parent-watch", daemon=True).start()
    set_quiet(True)
    _worker = ChunkWorker(threads=threads)
    _messages = messages
    messages.put(("pid", os.getpid()))


def _end_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _run_chunk(task: ChunkTask) -> ChunkResult:
    if _worker is None:
        raise RuntimeError("worker process not started")
    return _worker.run(task, lambda key, frames: _messages.put(("progress", key, frames)))


class LocalRunner(Runner):
    def __init__(self, workers: int):
        self.workers = workers
        self.threads = max(1, (os.cpu_count() or 1) // workers)
        self._context = multiprocessing.get_context("spawn")  # no copy of the driver's threads
        self._messages = self._context.Queue()
        self._pids: set[int] = set()
        self._pool: ProcessPoolExecutor | None = None

    def describe(self) -> str:
        return (f"{self.workers} worker process{'es' if self.workers > 1 else ''} on this machine, "
                f"{self.threads} core{'s' if self.threads > 1 else ''} each")

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=self._context, initializer=_start_worker,
                                   initargs=(self._messages, self.threads))

    def run(self, tasks: Iterable[ChunkTask], wanted: Callable[[ChunkTask], bool]) -> Iterator[Event]:
        pending = deque(tasks)
        running: dict[Future, ChunkTask] = {}
        attempts: Counter = Counter()
        self._pool = self._new_pool()
        while pending or running:
            while pending and len(running) < self.workers:
                task = pending.popleft()
                if wanted(task):
                    running[self._pool.submit(_run_chunk, task)] = task
            finished, _ = wait(running, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            yield from self._read_messages()
            broken = False
            for future in finished:
                task = running.pop(future)
                try:
                    yield future.result()
                    continue
                except BrokenProcessPool:
                    broken, why = True, "its worker process died"
                except Exception as exc:  # noqa: BLE001 -- a bug, or the machine (memory): try the chunk again
                    why = f"{type(exc).__name__}: {exc}"
                attempts[task.key] += 1
                if attempts[task.key] > RETRIES:
                    yield gave_up(task, why)
                else:
                    pending.appendleft(task)
            if broken:  # the pool is gone with the process: the other running chunks start again
                for future in list(running):
                    task = running.pop(future)
                    pending.appendleft(task)
                self._pool.shutdown(wait=False, cancel_futures=True)  # it has ended its other workers
                self._pool = self._new_pool()
        yield from self._read_messages()

    def _read_messages(self) -> Iterator[Progress]:
        while True:
            try:
                message = self._messages.get_nowait()
            except (queue.Empty, OSError, ValueError):
                return
            if message[0] == "pid":
                self._pids.add(message[1])
            else:
                yield Progress(message[1], message[2])

    def _stop_workers(self) -> None:
        """End this pool's worker processes (live children of this process, by their pid;
        SIGKILL: they ignore SIGTERM, which is the driver's)."""
        for child in multiprocessing.active_children():
            if child.pid in self._pids:
                child.kill()
        self._pids.clear()

    def cancel(self) -> None:
        self._read_messages_quietly()
        self._stop_workers()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _read_messages_quietly(self) -> None:
        for _ in self._read_messages():
            pass

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._messages.close()
