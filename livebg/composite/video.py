"""A video as the background, decoded on its own thread and paired with the input by time.
"""
from __future__ import annotations

import queue
import threading
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from livebg.composite.base import Background
from livebg.composite.fit import BackgroundFrame, fit_cover
from livebg.errors import BackgroundError
from livebg.frames.yuv import frame_size
from livebg.media.container import open_media, video_stream
from livebg.media.probe import duration, frame_rate

_END = object()


class VideoBackground(Background):
    """A background video, paired with the input by presentation time.

    The output frame at input time t shows the background frame on screen at background time
    b(t): ``loop`` b = t modulo the background's duration, ``hold`` b = t (the last frame
    stays), ``stretch`` b = t * background duration / input duration. A thread decodes and
    fits frames ahead into a small queue; times are exact fractions, relative to each
    stream's first frame.
    """

    uses_frame = False  # only the frame's shape
    transparent = False
    kind = "video"
    is_scene = True

    def __init__(self, path: Path, size: tuple[int, int], *, fit: str = "loop",
                 input_duration: Fraction | None = None, queue_size: int = 4):
        self.path = path
        self.width, self.height = size
        self.fit = fit
        # opened once here to read its rate and duration; the decoding thread's first pass reads it
        container = self._open()
        stream = video_stream(container, name=f"background {path}", error=BackgroundError, fix="give an image or a video")
        self.rate = frame_rate(stream)
        self.duration = duration(container, stream)
        self._opened: Any = container  # handed to the decoding thread
        if fit == "stretch":
            if not input_duration or not self.duration:
                container.close()
                raise BackgroundError("--bg-fit stretch needs the durations of both videos, and one is unknown: use loop or hold")
            self._scale = self.duration / input_duration
        else:
            self._scale = Fraction(1)
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._current: Any = None  # (time, BackgroundFrame), or _END
        self._next: Any = None
        self._thread = threading.Thread(target=self._decode, name="livebg-bg-decode", daemon=True)
        self._thread.start()

    def _open(self) -> Any:
        return open_media(self.path, name=f"background {self.path}", error=BackgroundError,
                          problem="cannot be read as a video or image", fix="check the file")

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _decode(self) -> None:
        offset = Fraction(0)
        try:
            while not self._stop.is_set():
                produced = 0
                last_time = Fraction(0)
                container, self._opened = self._opened, None
                if container is None:  # the next loop
                    container = self._open()
                with container:
                    stream = container.streams.video[0]
                    stream.thread_type = "AUTO"
                    start = None
                    for frame in container.decode(stream):
                        if frame.pts is None:
                            continue
                        start = frame.pts if start is None else start
                        last_time = Fraction((frame.pts - start) * Fraction(stream.time_base or 0))
                        image = BackgroundFrame(frame, self.width, self.height)
                        if not self._put((offset + last_time, image)):
                            return
                        produced += 1
                if produced == 0:
                    raise BackgroundError(f"background video {self.path} has no frames: give another background")
                if self.fit != "loop":
                    break
                offset += self.duration or (last_time + 1 / self.rate)
        except BackgroundError as exc:
            self._put(exc)
        except Exception as exc:  # decoding errors in the middle of the file
            self._put(BackgroundError(f"background video {self.path} failed to decode ({exc}): check the file"))
        finally:
            if self._opened is not None:  # stopped before the first pass began
                self._opened.close()
                self._opened = None
        self._put(_END)

    def _take(self):
        item = self._queue.get()
        if isinstance(item, Exception):
            raise item
        return item

    def background_time(self, t: Fraction) -> Fraction:
        return t * self._scale

    def _frame_at(self, t) -> Any:
        target = self.background_time(Fraction(t))
        if self._current is None:
            self._current = self._take()
            if self._current is _END:
                raise BackgroundError(f"background video {self.path} has no frames: give another background")
            self._next = self._take()
        while self._next is not _END and self._next[0] <= target:
            self._current, self._next = self._next, self._take()
        return self._current[1]

    def frame_at(self, t, frame):
        image = self._frame_at(t).rgb()
        if image.shape[:2] != frame.shape[:2]:  # photos of several sizes share one background
            image = fit_cover(image, frame.shape[1], frame.shape[0])
        return image

    def i420_at(self, t, yuv) -> np.ndarray | None:
        """The background as yuv420p planes at the size of the frame's planes ``yuv`` (None if
        it cannot be had so)."""
        if frame_size(yuv) != (self.height, self.width):
            return None
        return self._frame_at(t).i420()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
