"""`livebg cam --alpha-out DIR`: the matte composited onto each output frame, as 8-bit PNGs
named by the source frame's index, written on a thread of their own so the loop keeps the
camera's rate. The directory appears when the session ends (Ctrl-C included) and is removed if
the session fails.
"""
from __future__ import annotations

import queue
import threading

import numpy as np

from livebg.sinks.images import ImageDirSink

_END = None


class AlphaRecorder:
    """Takes (index, alpha) from the live loop; a thread encodes and writes them. The queue is
    unbounded (PNG encoding at 1 ms-scale keeps well ahead of 30 fps; a slow disk costs memory,
    never a stalled camera)."""

    def __init__(self, path: str):
        self.sink = ImageDirSink(path, what="--alpha-out")
        self.path = self.sink.path
        self.frames = 0
        self.error: BaseException | None = None
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="livebg-alpha-out", daemon=True)
        self._thread.start()

    def add(self, index: int, alpha: np.ndarray) -> None:
        if self.error is not None:
            raise self.error
        if alpha.dtype != np.uint8:
            alpha = (np.clip(alpha, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        self._queue.put((index, alpha))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if self.error is not None:
                continue
            try:
                self.sink.write(item[1], number=item[0])
                self.frames += 1
            except BaseException as exc:  # re-raised on the loop's thread
                self.error = exc

    def close(self, *, keep: bool = True) -> None:
        """Write what is queued and show the directory (``keep``), or remove it."""
        if self._thread.is_alive():
            self._queue.put(_END)
            self._thread.join()
        if keep and self.error is None:
            self.sink.close()
        else:
            self.sink.abort()
