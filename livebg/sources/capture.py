"""Live capture for `livebg cam`: a capture device (a camera, or a video file/URL replayed as
one) read in its own thread into a FrameMailbox.

The newest frame always wins: when the consumer falls behind, the oldest frame it has not
taken yet is dropped, never the newest, so latency stays bounded. A device that stops
delivering frames is reopened a few times before the capture gives up.
"""
from __future__ import annotations

import threading
import time
from fractions import Fraction
from typing import Callable

import cv2

from livebg.errors import DeviceError, InputError, say
from livebg.frames.frame import Frame
from livebg.sources.capture_device import CaptureDevice, CaptureFault, DeviceFactory
from livebg.sources.mailbox import FrameMailbox

REOPEN_SECONDS = 15.0  # a camera that fails is tried again for this long (unplugged, replugged)
REOPEN_DELAY = 0.5  # seconds before the first reopen; the pause grows with each attempt, up to 2 s


class LiveCapture:
    """Reads a CaptureDevice in a thread into a FrameMailbox; reopens it after a fault.

    Replayed files are paced: a frame is released when it is due on the wall clock and
    stamped ``captured_at`` then, exactly as a camera would deliver it. Use as a context
    manager or call ``close()`` (safe twice); ``failure`` holds the reason the capture gave
    up, or None after a normal end.
    """

    def __init__(self, open_device: DeviceFactory, *, max_pending: int = 2, reopen_seconds: float | None = None,
                 reopen_delay: float | None = None, log: Callable[[str], None] | None = None):
        self._open_device = open_device
        self.reopen_seconds = REOPEN_SECONDS if reopen_seconds is None else reopen_seconds
        self.reopen_delay = REOPEN_DELAY if reopen_delay is None else reopen_delay
        self.mailbox = FrameMailbox(max_pending=max_pending)
        self._log = log or say
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.device: CaptureDevice | None = open_device()  # opened here so a missing camera fails at once
        self.name = self.device.name
        self.width, self.height, self.fps = self.device.width, self.device.height, self.device.fps
        self.failure: str | None = None
        self.reopens = 0
        self._attempts = 0
        self._fault_at = 0.0  # time.monotonic() of the fault being recovered from
        self._fault_position: int | None = None  # where the last fault of a replayed file came
        self.started_at: float | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- reader side --------------------------------------------------------------------
    def start(self) -> "LiveCapture":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="livebg-capture", daemon=True)
            self._thread.start()
        return self

    def get(self, timeout: float) -> Frame | None:
        return self.mailbox.get(timeout)

    def wait_newer(self, index: int, timeout: float) -> Frame | None:
        return self.mailbox.wait_newer(index, timeout)

    @property
    def ended(self) -> bool:
        """The device is finished (end of file, or gave up after faults) and every frame was taken."""
        return self.mailbox.ended

    @property
    def frames_in(self) -> int:
        return self.mailbox.received

    @property
    def dropped(self) -> int:
        return self.mailbox.dropped

    # -- capture thread -----------------------------------------------------------------
    def _run(self) -> None:
        index = 0
        try:
            while not self._stop.is_set():
                device = self.device
                if device is None:
                    break
                try:
                    index = self._pump(device, index)
                    break  # a normal end of stream, or stopped
                except CaptureFault as fault:
                    self._close_device()
                    if fault.position is not None and fault.position == self._fault_position:
                        self.failure = (f"{fault} again after reopening: the file is damaged there; "
                                        f"replay a complete copy of it")
                        break
                    self._fault_position = fault.position
                    if self._stop.is_set() or not self._reopen(str(fault)):
                        break
        except BaseException as exc:  # a bug or an unexpected decoder error: report it, never hang
            self.failure = f"capture from {self.name} failed ({type(exc).__name__}: {exc})"
        finally:
            self._close_device()
            self.mailbox.end()

    def _pump(self, device: CaptureDevice, index: int) -> int:
        """Read and deliver frames until the device ends or the capture stops; returns the next index."""
        base: float | None = None  # wall clock of the replayed file's time 0
        while not self._stop.is_set():
            captured = device.read()
            if captured is None:
                break
            now = time.perf_counter()
            if captured.time is not None:
                if base is None:
                    base = now - captured.time
                due = base + captured.time
                if due > now and self._stop.wait(due - now):
                    break
                now = time.perf_counter()
                if now - due > 1.0:  # the replay fell far behind (a stall): carry on from now
                    base = now - captured.time
            image = captured.image
            if image.shape[:2] != (self.height, self.width):
                image = cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_AREA)
            if self.started_at is None:
                self.started_at = now
            elapsed = Fraction(round((now - self.started_at) * 1_000_000), 1_000_000)
            self.mailbox.put(Frame(index, index, elapsed, image, now))
            self._attempts = 0  # frames flow again: a later fault gets a fresh set of attempts
            index += 1
        return index

    def _reopen(self, reason: str) -> bool:
        """Reopen the device after a fault, again and again with a growing pause, for up to
        ``reopen_seconds`` (a camera unplugged and plugged back in); False when giving up."""
        if self._attempts == 0:
            self._fault_at = time.monotonic()
        while not self._stop.is_set():
            self._attempts += 1
            pause = min(2.0, self.reopen_delay * self._attempts)
            if time.monotonic() + pause - self._fault_at > self.reopen_seconds:
                self.failure = (f"{reason} and could not be reopened within {self.reopen_seconds:g} s "
                                f"({self._attempts - 1} attempts): check the cable or the stream, then start livebg cam again")
                return False
            if self._attempts == 1:
                self._log(f"{reason}; reopening (trying for up to {self.reopen_seconds:g} s)")
            if self._stop.wait(pause):
                return False
            try:
                device = self._open_device()
            except (DeviceError, InputError, CaptureFault) as exc:
                if self._attempts == 1:
                    self._log(f"reopening failed: {exc}; trying again")
                continue
            with self._lock:
                if self._stop.is_set():
                    device.close()
                    return False
                self.device = device
            self.reopens += 1
            self._log(f"reopened after {time.monotonic() - self._fault_at:.1f} s; frames flow again")
            return True
        return False

    def _close_device(self) -> None:
        with self._lock:
            device, self.device = self.device, None
        if device is not None:
            device.close()

    # -- shutdown -------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the thread and release the device; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._thread is None or not self._thread.is_alive():
            self._close_device()
        self.mailbox.end()

    def __enter__(self) -> "LiveCapture":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
