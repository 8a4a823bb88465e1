"""Live capture for `livebg cam`: a camera (or a video file/URL replayed as one) read in its own thread.

The newest frame always wins: when the consumer falls behind, the oldest frame it has not
taken yet is dropped, never the newest, so latency stays bounded. A device that stops
delivering frames is reopened a few times before the capture gives up.

Devices follow a small protocol (``CaptureDevice``); ``register_capture`` maps a
``scheme://`` prefix of ``--source`` to a factory, so new kinds of camera (and the tests'
fakes) plug in without touching the capture loop.
"""
from __future__ import annotations

import collections
import sys
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Protocol

import cv2
import numpy as np

from livebg.errors import DeviceError, InputError, say
from livebg.frames.frame import Frame

DEFAULT_FPS = 30.0
REOPEN_SECONDS = 15.0  # a camera that fails is tried again for this long (unplugged, replugged)
REOPEN_DELAY = 0.5  # seconds before the first reopen; the pause grows with each attempt, up to 2 s


class CaptureFault(Exception):
    """The device stopped delivering frames (unplugged, stream broken); it may come back on reopen.

    ``position``: for a replayed file, the frame it failed at (a file that fails at the same
    frame again after a reopen is damaged there, and is not reopened again); None for a camera."""

    def __init__(self, message: str, *, position: int | None = None):
        super().__init__(message)
        self.position = position


@dataclass
class CapturedImage:
    image: np.ndarray  # RGB uint8 HxWx3
    time: float | None = None  # seconds into a replayed file: when it is due; None for real cameras


class CaptureDevice(Protocol):
    name: str
    width: int
    height: int
    fps: float

    def read(self) -> CapturedImage | None:
        """The next frame; None at a normal end (a file replayed to its end); CaptureFault on failure."""

    def close(self) -> None: ...


DeviceFactory = Callable[[], CaptureDevice]
CAPTURE_SCHEMES: dict[str, Callable[..., CaptureDevice]] = {}


def register_capture(scheme: str, factory: Callable[..., CaptureDevice]) -> None:
    """Make ``--source SCHEME://REST`` open ``factory(spec, width=, height=, fps=)``; replaces an earlier one."""
    CAPTURE_SCHEMES[scheme.lower()] = factory


class OpenCVCamera:
    """A real camera through OpenCV (V4L2 on Linux): a device index or a /dev/videoN path."""

    def __init__(self, spec: str, *, width: int = 0, height: int = 0, fps: float = 0.0):
        self.name = f"camera {spec}"
        target: int | str = int(spec) if spec.isdigit() else spec
        api = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
        self._cap: Any = cv2.VideoCapture(target, api)
        if not self._cap.isOpened():
            self._cap.release()
            raise DeviceError(f"camera {spec} could not be opened: check that it is connected and not used by "
                              f"another program, or pick another with --source N or --source /dev/videoN")
        # Compressed capture keeps 720p/1080p at full rate on USB cameras; ignored where unsupported.
        self._cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG"))
        if width and height:
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if fps:
            self._cap.set(cv2.CAP_PROP_FPS, fps)
        self._cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # do not let the driver queue stale frames
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0) or fps or DEFAULT_FPS
        if not self.width or not self.height:
            self._cap.release()
            raise DeviceError(f"camera {spec} opened but reports no frame size: try another --width/--height or device")

    def read(self) -> CapturedImage | None:
        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            raise CaptureFault(f"{self.name} stopped delivering frames")
        return CapturedImage(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class FileReplay:
    """A video file or stream URL replayed as if it were a camera: frames become due at their
    own timestamps (or at ``fps`` when given), scaled to ``width`` x ``height`` when given."""

    def __init__(self, spec: str, *, width: int = 0, height: int = 0, fps: float = 0.0):
        import av

        self.name = spec
        self._spec = spec
        is_url = "://" in spec
        if not is_url and not Path(spec).expanduser().is_file():
            raise InputError(f"--source {spec} not found: give a camera index (0), a /dev/videoN device, a video file or a URL")
        try:
            self._container: Any = av.open(spec if is_url else str(Path(spec).expanduser()), timeout=10.0 if is_url else None)
        except av.FFmpegError as exc:
            raise InputError(f"--source {spec} cannot be opened as a video ({getattr(exc, 'strerror', None) or exc}): "
                             f"check the path or URL") from None
        if not self._container.streams.video:
            self._container.close()
            raise InputError(f"--source {spec} has no video stream: give a video file or a camera")
        self._stream = stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        native_w, native_h = stream.codec_context.width, stream.codec_context.height
        if (width or height) and not (width and height):
            raise InputError("give both --width and --height, or neither")
        self.width, self.height = (width, height) if width else (native_w, native_h)
        self.fixed_fps = float(fps) if fps else 0.0
        self.fps = self.fixed_fps or float(stream.average_rate or stream.guessed_rate or DEFAULT_FPS)
        self._scale = (self.width, self.height) != (native_w, native_h)
        self._frames = self._container.decode(stream)
        self._index = 0
        self._start_pts: int | None = None

    def read(self) -> CapturedImage | None:
        import av

        try:
            frame = next(self._frames, None)
        except av.FFmpegError as exc:
            raise CaptureFault(f"{self.name} failed after {self._index} frames ({getattr(exc, 'strerror', None) or exc})",
                               position=self._index) from None
        if frame is None:
            return None
        if self._scale:
            image = frame.to_ndarray(format="rgb24", width=self.width, height=self.height, interpolation="BILINEAR")
        else:
            image = frame.to_ndarray(format="rgb24")
        if self.fixed_fps or frame.pts is None or frame.time_base is None:
            due = self._index / self.fps
        else:
            self._start_pts = frame.pts if self._start_pts is None else self._start_pts
            due = float((frame.pts - self._start_pts) * frame.time_base)
        self._index += 1
        return CapturedImage(image, due)

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None


def is_camera_spec(spec: str) -> bool:
    return spec.isdigit() or spec.startswith("/dev/video")


def open_capture_device(spec: str, *, width: int = 0, height: int = 0, fps: float = 0.0) -> CaptureDevice:
    """``--source``: a camera index or /dev/videoN, a registered ``scheme://``, a video file or a URL."""
    spec = spec.strip()
    if not spec:
        raise InputError("empty --source: give a camera index (0), a /dev/videoN device, a video file or a URL")
    scheme = spec.split("://", 1)[0].lower() if "://" in spec else ""
    if scheme in CAPTURE_SCHEMES:
        return CAPTURE_SCHEMES[scheme](spec, width=width, height=height, fps=fps)
    if is_camera_spec(spec):
        if sys.platform.startswith("linux") and spec.isdigit() and not Path(f"/dev/video{spec}").exists():
            raise DeviceError(f"camera {spec} (/dev/video{spec}) does not exist: connect a camera, list them with "
                              f"`v4l2-ctl --list-devices` (or ls /dev/video*) and pass one with --source")
        if spec.startswith("/dev/") and not Path(spec).exists():
            raise DeviceError(f"camera {spec} does not exist: list cameras with `v4l2-ctl --list-devices` "
                              f"(or ls /dev/video*) and pass one with --source")
        return OpenCVCamera(spec, width=width, height=height, fps=fps)
    return FileReplay(spec, width=width, height=height, fps=fps)


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
