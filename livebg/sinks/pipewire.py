"""A PipeWire camera: the composited frames as a Video/Source node that portal-aware apps list
(Firefox, Chrome and OBS on current Linux desktops), as the pyvirtualcam backend ``pipewire``.

The binding is PipeWire's own client library (libpipewire-0.3), called through ctypes:

- it installs with the daemon itself (the ``pipewire`` package brings libpipewire-0.3-0), with
  no compiler, no GObject introspection in the venv (PyGObject from pip builds against system
  headers) and no GStreamer plugin;
- it is the shortest path: each frame is copied once, from the numpy array straight into the
  shared-memory buffer the consumer reads, and the graph is triggered at once (this stream
  drives it), with no pipe to a child process and no GStreamer queue in between;
- GStreamer's ``pipewiresink mode=provide`` (PipeWire 0.3.65, Debian 12) was tried first and
  fails here: after a consumer disconnects, a new consumer gets a few frames and then none, and
  the sink blocks waiting for a buffer that never comes back, which would stall livebg.

The node is named after ``--vcam-device`` (default ``livebg``) and offers one format, I420 at
the capture's size and rate, which Firefox and Chrome (libwebrtc), OBS and GStreamer all take.
A frame arriving while no app is connected, or while the app still holds every buffer, is
dropped (counted in ``dropped``), never waited for: apps come and go without stopping livebg.
"""
from __future__ import annotations

import ctypes
import os
import socket
import threading
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from livebg.errors import DeviceError
from livebg.sinks import spa_pod
from livebg.sinks.pipewire_abi import (
    DIRECTION_INPUT,
    DIRECTION_OUTPUT,
    FLAG_AUTOCONNECT,
    FLAG_DRIVER,
    FLAG_MAP_BUFFERS,
    ID_ANY,
    PACKAGES,
    PARAM_CHANGED,
    PROCESS,
    STATE_CHANGED,
    STATE_ERROR,
    STATE_PAUSED,
    STATE_STREAMING,
    STATE_UNCONNECTED,
    MetaHeader,
    SpaBuffer,
    StreamEvents,
    library,
)

START = "systemctl --user start pipewire wireplumber"
CONNECT_TIMEOUT = 5.0  # seconds for the daemon to accept the stream; it answers in milliseconds
RENEW_AFTER = 0.5  # seconds without a reader before the node is made anew (see Stream._renew)

def socket_path() -> Path | None:
    """Where the PipeWire daemon listens, as libpipewire finds it; None without a runtime directory."""
    remote = os.environ.get("PIPEWIRE_REMOTE") or "pipewire-0"
    if os.path.isabs(remote):
        return Path(remote)
    runtime = os.environ.get("PIPEWIRE_RUNTIME_DIR") or os.environ.get("XDG_RUNTIME_DIR")
    return Path(runtime) / remote if runtime else None


def daemon_problem() -> str | None:
    """Why no PipeWire daemon can be reached (one clause), or None when one answers on its socket."""
    path = socket_path()
    if path is None:
        return "XDG_RUNTIME_DIR is not set, so there is no PipeWire session to join"
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except OSError as exc:
        return f"nothing listens on {path} ({exc.strerror or exc})"
    finally:
        probe.close()
    return None


def daemon_running() -> bool:
    return daemon_problem() is None


def not_running_message(problem: str) -> str:
    return (f"PipeWire is not running ({problem}): start it with `{START}` (packages: {PACKAGES}), "
            f"or use --vcam-backend v4l2loopback, or run with --no-vcam")


def rate_fraction(fps: float) -> tuple[int, int]:
    """The frame rate as PipeWire takes it: 29.97 as 30000/1001, 30 as 30/1."""
    rate = Fraction(fps).limit_denominator(1001)
    return rate.numerator, rate.denominator


class Stream:
    """One pw_stream on its own thread loop: an output (a camera node others read) or, for tests
    and benchmarks, an input connected to a node by name. ``close()`` is safe twice."""

    def __init__(self, *, name: str, direction: int, width: int, height: int, fps: float,
                 properties: dict[str, str], target: str | None = None, on_frame=None, copy_frames: bool = True):
        lib = library()
        self._lib = lib
        self.name, self.width, self.height = name, width, height
        self.frame_bytes = width * height * 3 // 2
        self.state = STATE_UNCONNECTED
        self.error = ""
        self.renewing = False  # between the disconnect and the new node's first state
        self.renewals = 0
        self._left_at: float | None = None  # when the last app stopped reading
        self._changed = threading.Condition()
        self._on_frame = on_frame  # input streams: called with (bytes, header pts ns, header seq)
        self._copy_frames = copy_frames  # False: on_frame gets b"" (a reader that only counts and times)
        self._stream = None
        self._loop = lib.pw_thread_loop_new(f"livebg-{name}"[:15].encode(), None)
        if not self._loop:
            raise DeviceError("PipeWire: could not create a thread loop (out of memory?)")
        # keep the callbacks and the events struct alive as long as the stream
        self._callbacks = (STATE_CHANGED(self._state_changed), PARAM_CHANGED(self._param_changed),
                           PROCESS(self._process))
        self._events = StreamEvents(version=2, state_changed=self._callbacks[0], param_changed=self._callbacks[1],
                                    process=self._callbacks[2] if direction == DIRECTION_INPUT else PROCESS())
        props = lib.pw_properties_new_string(b"")
        for key, value in properties.items():
            lib.pw_properties_set(props, key.encode(), value.encode())
        if target is not None:
            lib.pw_properties_set(props, b"target.object", target.encode())
        lib.pw_thread_loop_start(self._loop)
        lib.pw_thread_loop_lock(self._loop)
        try:
            self._stream = lib.pw_stream_new_simple(lib.pw_thread_loop_get_loop(self._loop), name.encode(), props,
                                                    ctypes.byref(self._events), None)
            self._format = spa_pod.i420_enum_format(width, height, rate_fraction(fps))
            self._direction = direction
            res = self._connect() if self._stream else -12  # ENOMEM: pw_stream_new_simple gave nothing
        finally:
            lib.pw_thread_loop_unlock(self._loop)
        if res < 0:
            self.close()
            raise DeviceError(not_running_message(f"connecting failed: {os.strerror(-res)}"))

    def _connect(self) -> int:
        """pw_stream_connect with the one format; the loop is locked."""
        params = (ctypes.c_void_p * 1)(ctypes.cast(ctypes.c_char_p(self._format), ctypes.c_void_p))
        flags = FLAG_MAP_BUFFERS | (FLAG_DRIVER if self._direction == DIRECTION_OUTPUT else FLAG_AUTOCONNECT)
        return self._lib.pw_stream_connect(self._stream, self._direction, ID_ANY, flags, params, 1)

    # -- callbacks, on PipeWire's thread with its loop locked ----------------------------------
    def _state_changed(self, _data, _old: int, state: int, error: bytes | None) -> None:
        with self._changed:
            if self.state == STATE_STREAMING and state != STATE_STREAMING:
                self._left_at = time.monotonic()
            if state == STATE_STREAMING:
                self._left_at = None
            if state in (STATE_PAUSED, STATE_STREAMING):
                self.renewing = False
            self.state = state
            if error:
                self.error = error.decode(errors="replace")
            self._changed.notify_all()

    def _param_changed(self, _data, param_id: int, param) -> None:
        if param is None or param_id != spa_pod.PARAM_FORMAT:
            return
        self._update_buffer_params()

    def _update_buffer_params(self) -> None:
        self._buffer_params = [spa_pod.buffers(self.frame_bytes, self.width), spa_pod.header_meta()]
        pods = (ctypes.c_void_p * 2)(*(ctypes.cast(ctypes.c_char_p(b), ctypes.c_void_p) for b in self._buffer_params))
        self._lib.pw_stream_update_params(self._stream, pods, 2)

    def _process(self, _data) -> None:
        buffer = self._lib.pw_stream_dequeue_buffer(self._stream)
        if not buffer:
            return
        try:
            spa = buffer.contents.buffer.contents
            data = spa.datas[0]
            chunk = data.chunk.contents
            if data.data and chunk.size:
                size = min(chunk.size, data.maxsize)
                payload = ctypes.string_at(data.data + chunk.offset, size) if self._copy_frames else b""
                header = _header(spa)
                if self._on_frame is not None:
                    self._on_frame(payload, header.pts if header else -1, header.seq if header else -1)
        finally:
            self._lib.pw_stream_queue_buffer(self._stream, buffer)

    # -- the caller's side -----------------------------------------------------------------------
    def wait_for(self, states: tuple[int, ...], timeout: float) -> int:
        """Wait until the stream is in one of ``states`` (or failed); the state it ended in."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.state not in states and self.state != STATE_ERROR:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return self.state

    @property
    def node_id(self) -> int:
        return self._lib.pw_stream_get_node_id(self._stream) if self._stream else ID_ANY

    def push(self, frame: np.ndarray, seq: int) -> bool:
        """Hand one I420 frame to the connected app; False when none is connected or it holds every buffer."""
        left_at = self._left_at
        if left_at is not None and self.state == STATE_PAUSED and time.monotonic() - left_at > RENEW_AFTER:
            self._renew()
        if self.state != STATE_STREAMING:
            return False
        lib = self._lib
        lib.pw_thread_loop_lock(self._loop)
        try:
            if self.state != STATE_STREAMING:
                return False
            buffer = lib.pw_stream_dequeue_buffer(self._stream)
            if not buffer:
                return False
            spa = buffer.contents.buffer.contents
            data = spa.datas[0]
            size = min(self.frame_bytes, data.maxsize)
            if data.data:
                ctypes.memmove(data.data, frame.ctypes.data, size)
            chunk = data.chunk.contents
            chunk.offset, chunk.size, chunk.stride, chunk.flags = 0, size if data.data else 0, self.width, 0
            header = _header(spa)
            if header is not None:
                header.flags, header.offset, header.dts_offset = 0, 0, 0
                header.pts, header.seq = time.monotonic_ns(), seq
            lib.pw_stream_queue_buffer(self._stream, buffer)
            if lib.pw_stream_is_driving(self._stream):
                lib.pw_stream_trigger_process(self._stream)
            return bool(data.data)
        finally:
            lib.pw_thread_loop_unlock(self._loop)

    def _renew(self) -> None:
        """A new node of the same name, with buffers of its own. An app that is killed while it
        reads keeps the buffer it held: the node never gets it back (PipeWire 0.3.65), and after a
        few such apps every reader sees gaps. Renewed once no app has read for RENEW_AFTER."""
        lib = self._lib
        lib.pw_thread_loop_lock(self._loop)
        try:
            self._left_at = None
            self.renewing = True
            lib.pw_stream_disconnect(self._stream)
            res = self._connect()
            self.renewals += 1
        finally:
            lib.pw_thread_loop_unlock(self._loop)
        if res < 0:
            self.renewing = False
            self.state, self.error = STATE_ERROR, f"reconnecting failed: {os.strerror(-res)}"

    def close(self) -> None:
        lib, loop, stream = self._lib, self._loop, self._stream
        self._loop = self._stream = None
        if loop is None:
            return
        if stream is not None:
            lib.pw_thread_loop_lock(loop)
            lib.pw_stream_destroy(stream)
            lib.pw_thread_loop_unlock(loop)
        lib.pw_thread_loop_stop(loop)
        lib.pw_thread_loop_destroy(loop)


def _header(spa: SpaBuffer) -> MetaHeader | None:
    for i in range(spa.n_metas):
        meta = spa.metas[i]
        if meta.type == spa_pod.META_HEADER and meta.size >= ctypes.sizeof(MetaHeader) and meta.data:
            return MetaHeader.from_address(meta.data)
    return None


def camera_properties(name: str) -> dict[str, str]:
    return {"media.class": "Video/Source", "media.role": "Camera", "media.type": "Video",
            "media.category": "Capture", "node.name": name, "node.description": name, "node.nick": name}


class PipeWireCamera:
    """The pyvirtualcam backend ``pipewire`` (see pyvirtualcam's Backend): frames in I420 (or
    RGB, converted here) go to a Video/Source node named ``device`` (default ``livebg``)."""

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw):
        import pyvirtualcam
        from pyvirtualcam.util import decode_fourcc

        self.fmt = pyvirtualcam.PixelFormat(decode_fourcc(fourcc))
        if self.fmt not in (pyvirtualcam.PixelFormat.I420, pyvirtualcam.PixelFormat.RGB):
            raise RuntimeError(f"the PipeWire camera takes I420 or RGB frames, not {self.fmt.name}")
        if width % 2 or height % 2:
            raise RuntimeError(f"the PipeWire camera needs an even size, not {width}x{height}")
        name = device or "livebg"
        if name.startswith("/dev/"):
            raise RuntimeError(f"{name} is a V4L2 device: a PipeWire camera takes a name (--vcam-device livebg), "
                               f"or use --vcam-backend v4l2loopback for {name}")
        self.width, self.height, self._name = width, height, name
        self.sent = self.dropped = 0
        library()  # the missing library is told first: without it no daemon can be joined anyway
        problem = daemon_problem()
        if problem:
            raise DeviceError(not_running_message(problem))
        self._stream: Stream | None = None
        stream = Stream(name=name, direction=DIRECTION_OUTPUT, width=width, height=height, fps=fps,
                        properties=camera_properties(name))
        state = stream.wait_for((STATE_PAUSED, STATE_STREAMING), CONNECT_TIMEOUT)
        if state not in (STATE_PAUSED, STATE_STREAMING):
            why = stream.error or f"no answer within {CONNECT_TIMEOUT:.0f} s"
            stream.close()
            raise DeviceError(not_running_message(f"the daemon did not take the camera node: {why}"))
        self._stream = stream

    def send(self, frame: np.ndarray) -> None:
        stream = self._stream
        if stream is None:
            raise ValueError("the PipeWire camera is closed")
        if stream.state == STATE_ERROR or (stream.state == STATE_UNCONNECTED and not stream.renewing):
            raise DeviceError(f"the PipeWire camera {self._name!r} lost the daemon ({stream.error or 'disconnected'}): "
                              f"restart PipeWire (`{START}`) and livebg")
        if self.fmt.name == "RGB":
            frame = cv2.cvtColor(frame.reshape(self.height, self.width, 3), cv2.COLOR_RGB2YUV_I420).reshape(-1)
        if stream.push(np.ascontiguousarray(frame), self.sent + self.dropped):
            self.sent += 1
        else:
            self.dropped += 1

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()

    def device(self) -> str:
        return self._name

    def native_fourcc(self) -> int | None:
        from pyvirtualcam.util import encode_fourcc

        return encode_fourcc("I420")

    @property
    def node_id(self) -> int:
        return self._stream.node_id if self._stream is not None else ID_ANY


def register() -> None:
    """Make ``pipewire`` a pyvirtualcam backend (idempotent)."""
    import pyvirtualcam
    from pyvirtualcam.camera import BACKENDS

    if BACKENDS.get("pipewire") is not PipeWireCamera:
        pyvirtualcam.register_backend("pipewire", PipeWireCamera)
