"""The frames a live capture hands on: at most a few wait, the newest always wins.
"""
from __future__ import annotations

import collections
import threading

from livebg.frames.frame import Frame


class FrameMailbox:
    """Frames waiting for the consumer, at most ``max_pending``: a new frame pushes out the oldest.

    The newest frame is also kept apart (``wait_newer``) for a second reader, the segmenter,
    which skips to the latest frame rather than working through a backlog.
    """

    def __init__(self, *, max_pending: int = 2):
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, got {max_pending}")
        self.max_pending = max_pending
        self._pending: collections.deque[Frame] = collections.deque()
        self._newest: Frame | None = None
        self._cond = threading.Condition()
        self._ended = False
        self.dropped = 0
        self.received = 0

    def put(self, frame: Frame) -> None:
        with self._cond:
            self._pending.append(frame)
            self._newest = frame
            self.received += 1
            while len(self._pending) > self.max_pending:
                self._pending.popleft()
                self.dropped += 1
            self._cond.notify_all()

    def end(self) -> None:
        """No more frames will come; readers drain what is pending, then get None."""
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    @property
    def finished(self) -> bool:
        """No more frames will be put (some may still be pending)."""
        return self._ended

    @property
    def ended(self) -> bool:
        """No more frames will be put and every pending one was taken."""
        with self._cond:
            return self._ended and not self._pending

    def get(self, timeout: float) -> Frame | None:
        """The oldest pending frame, waiting up to ``timeout`` seconds; None if none came."""
        with self._cond:
            if not self._pending and not self._ended:
                self._cond.wait(timeout)
            return self._pending.popleft() if self._pending else None

    def wait_newer(self, index: int, timeout: float) -> Frame | None:
        """The newest frame if its index is above ``index``, waiting up to ``timeout`` for one."""
        with self._cond:
            if (self._newest is None or self._newest.index <= index) and not self._ended:
                self._cond.wait(timeout)
            newest = self._newest
            return newest if newest is not None and newest.index > index else None
