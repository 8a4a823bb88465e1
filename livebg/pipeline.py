"""Threads joined by bounded queues: the shape every job runs in.

``run_stages`` starts one thread for the source and one per stage; each stage is a
generator function from an iterator of items to an iterator of items (so a stage may batch,
or keep state). Queues are bounded and blocking, so a file job never drops a frame and memory
stays flat. One stop event ends every thread; the first error in any thread is re-raised on
the caller's thread after all of them have been joined, so a failing stage never hangs the
job. ``drain()`` is the gentle stop (Ctrl-C): the source stops, queued frames finish.
"""
from __future__ import annotations

import contextlib
import queue
import threading
import time
import types
from typing import Callable, Iterable, Iterator, Sequence

import cv2

from livebg.signals import Caught, second_stop, signals_noted

Stage = Callable[[Iterator], Iterator]

_END = object()
POLL_SECONDS = 0.1


class Pipeline:
    def __init__(self, *, queue_size: int = 4):
        self.queue_size = queue_size
        self.interrupted = False  # a stop signal came while it ran (set by run_stages)
        self.stop_event = threading.Event()
        self.drain_event = threading.Event()
        self._errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._done: list[threading.Event] = []
        # CPU seconds each thread used, by thread name (filled as threads end): where time goes
        self.cpu_seconds: dict[str, float] = {}

    # -- control -------------------------------------------------------------------------
    def drain(self) -> None:
        """Stop taking new frames; let the ones in flight finish (first Ctrl-C)."""
        self.drain_event.set()

    def stop(self) -> None:
        """Stop everything now (a second Ctrl-C, or an error)."""
        self.drain_event.set()
        self.stop_event.set()

    def _fail(self, exc: BaseException) -> None:
        with self._lock:
            self._errors.append(exc)
        self.stop()

    # -- queues that give up when the pipeline stops --------------------------------------
    def _put(self, q: queue.Queue, item) -> bool:
        while not self.stop_event.is_set():
            try:
                q.put(item, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _iterate(self, q: queue.Queue) -> Iterator:
        while not self.stop_event.is_set():
            try:
                item = q.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            if item is _END:
                return
            yield item

    # -- threads ---------------------------------------------------------------------------
    def _run_source(self, source: Iterable, out: queue.Queue) -> None:
        items = iter(source)
        try:
            for item in items:
                if self.drain_event.is_set() or not self._put(out, item):
                    break
        except BaseException as exc:
            self._fail(exc)
        finally:
            if isinstance(items, types.GeneratorType):  # its cleanup (a decoder's) runs in this thread
                try:
                    items.close()
                except BaseException as exc:
                    self._fail(exc)
        self._put(out, _END)
        self._account()

    def _run_stage(self, stage: Stage, inp: queue.Queue, out: queue.Queue | None) -> None:
        try:
            for item in stage(self._iterate(inp)):
                if out is not None and not self._put(out, item):
                    break
        except BaseException as exc:
            self._fail(exc)
        if out is not None:
            self._put(out, _END)
        self._account()

    def _account(self) -> None:
        with self._lock:
            self.cpu_seconds[threading.current_thread().name] = time.thread_time()

    def start(self, source: Iterable, stages: Sequence[Stage]) -> None:
        queues: list[queue.Queue] = [queue.Queue(maxsize=self.queue_size) for _ in stages]
        names = [getattr(s, "__name__", f"stage{i}") for i, s in enumerate(stages)]
        self._threads = [self._thread("livebg-source", self._run_source, iter(source), queues[0])]
        for i, stage in enumerate(stages):
            out = queues[i + 1] if i + 1 < len(stages) else None
            self._threads.append(self._thread(f"livebg-{names[i]}", self._run_stage, stage, queues[i], out))
        for thread in self._threads:
            thread.start()

    def _thread(self, name: str, target, *args) -> threading.Thread:
        done = threading.Event()
        self._done.append(done)

        def run():
            try:
                target(*args)
            finally:
                done.set()

        return threading.Thread(target=run, name=name, daemon=True)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for every thread; True when all have ended. KeyboardInterrupt reaches the caller.

        Waits on an event each thread sets as it ends rather than on Thread.join: a
        KeyboardInterrupt inside Thread.join can leave a running thread reported as ended
        (CPython 3.11), and the caller would then close files under it."""
        for done in self._done:
            if not done.wait(timeout):
                return False
        return True

    def raise_first_error(self) -> None:
        if self._errors:
            raise self._errors[0]


@contextlib.contextmanager
def opencv_serial() -> Iterator[None]:
    """OpenCV's own thread pool off while the stages run. The stages already keep the cores
    busy; OpenCV splitting each small resize or filter across its pool as well only adds
    hand-offs (the default matte took more CPU time a frame with it on)."""
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def run_stages(source: Iterable, stages: Sequence[Stage], *, queue_size: int = 4,
               on_interrupt: Callable[[Pipeline], None] | None = None,
               cancel: threading.Event | None = None) -> Pipeline:
    """Run a pipeline to the end. The first Ctrl-C drains (frames in flight finish), a second
    (not the first one repeated, see SAME_STOP_SECONDS) stops at once, and so does ``cancel``
    when it is set (a server's job cancelled by its client). Raises the first error of any
    thread after every thread has ended."""
    pipeline = Pipeline(queue_size=queue_size)
    caught: list[Caught] = []  # when each stop signal came, and which
    announced = False
    with signals_noted(caught), opencv_serial():
        pipeline.start(source, stages)
        while True:
            if second_stop(caught) or (cancel is not None and cancel.is_set()):
                pipeline.stop()
            elif caught and not announced:
                pipeline.drain()
                if on_interrupt:
                    on_interrupt(pipeline)
                announced = True
            if pipeline.join(POLL_SECONDS):
                break
    if second_stop(caught):  # came as the drain ended: abandoned all the same
        pipeline.stop()
    pipeline.interrupted = bool(caught)
    pipeline.raise_first_error()
    return pipeline
