"""PipeWire's client library (libpipewire-0.3) as ctypes sees it: the stream states and flags,
the structures livebg reads (pw_buffer, spa_buffer and what they point to, pw_stream_events),
the functions' signatures, and loading the library once (``library()``). The camera itself is
``sinks/pipewire.py``; the parameter PODs ``sinks/spa_pod.py``."""
from __future__ import annotations

import ctypes
import threading

from livebg.errors import DeviceError

LIBRARY_NAMES = ("libpipewire-0.3.so.0", "libpipewire-0.3.so")
PACKAGES = "pipewire wireplumber"  # Debian/Ubuntu names; Fedora and Arch use the same
INSTALL = f"sudo apt-get install {PACKAGES}"

# pw_stream states, directions and flags (pipewire/stream.h)
STATE_ERROR, STATE_UNCONNECTED, STATE_CONNECTING, STATE_PAUSED, STATE_STREAMING = -1, 0, 1, 2, 3
DIRECTION_INPUT, DIRECTION_OUTPUT = 0, 1
FLAG_AUTOCONNECT, FLAG_MAP_BUFFERS, FLAG_DRIVER = 1 << 0, 1 << 2, 1 << 3
ID_ANY = 0xFFFFFFFF


class Chunk(ctypes.Structure):
    _fields_ = [("offset", ctypes.c_uint32), ("size", ctypes.c_uint32), ("stride", ctypes.c_int32),
                ("flags", ctypes.c_int32)]


class Data(ctypes.Structure):
    _fields_ = [("type", ctypes.c_uint32), ("flags", ctypes.c_uint32), ("fd", ctypes.c_int64),
                ("mapoffset", ctypes.c_uint32), ("maxsize", ctypes.c_uint32), ("data", ctypes.c_void_p),
                ("chunk", ctypes.POINTER(Chunk))]


class Meta(ctypes.Structure):
    _fields_ = [("type", ctypes.c_uint32), ("size", ctypes.c_uint32), ("data", ctypes.c_void_p)]


class MetaHeader(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint32), ("offset", ctypes.c_uint32), ("pts", ctypes.c_int64),
                ("dts_offset", ctypes.c_int64), ("seq", ctypes.c_uint64)]


class SpaBuffer(ctypes.Structure):
    _fields_ = [("n_metas", ctypes.c_uint32), ("n_datas", ctypes.c_uint32), ("metas", ctypes.POINTER(Meta)),
                ("datas", ctypes.POINTER(Data))]


class PwBuffer(ctypes.Structure):
    _fields_ = [("buffer", ctypes.POINTER(SpaBuffer)), ("user_data", ctypes.c_void_p), ("size", ctypes.c_uint64),
                ("requested", ctypes.c_uint64)]


STATE_CHANGED = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_char_p)
PARAM_CHANGED = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p)
PROCESS = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class StreamEvents(ctypes.Structure):
    """struct pw_stream_events, version 2; the callbacks left NULL are not called."""
    _fields_ = [("version", ctypes.c_uint32), ("destroy", ctypes.c_void_p), ("state_changed", STATE_CHANGED),
                ("control_info", ctypes.c_void_p), ("io_changed", ctypes.c_void_p), ("param_changed", PARAM_CHANGED),
                ("add_buffer", ctypes.c_void_p), ("remove_buffer", ctypes.c_void_p), ("process", PROCESS),
                ("drained", ctypes.c_void_p), ("command", ctypes.c_void_p), ("trigger_done", ctypes.c_void_p)]


_lib: ctypes.CDLL | None = None
_lib_lock = threading.Lock()


def library() -> ctypes.CDLL:
    """libpipewire-0.3, loaded and initialised once; DeviceError naming the package when it is missing."""
    global _lib
    with _lib_lock:
        if _lib is not None:
            return _lib
        lib = None
        for name in LIBRARY_NAMES:
            try:
                lib = ctypes.CDLL(name)
                break
            except OSError:
                continue
        if lib is None:
            raise DeviceError(f"PipeWire's client library ({LIBRARY_NAMES[0]}) is not installed: {INSTALL} "
                              f"(or use --vcam-backend v4l2loopback, or run with --no-vcam)")
        p = ctypes.c_void_p
        signatures = {
            "pw_init": (None, [p, p]),
            "pw_thread_loop_new": (p, [ctypes.c_char_p, p]),
            "pw_thread_loop_get_loop": (p, [p]),
            "pw_thread_loop_start": (ctypes.c_int, [p]),
            "pw_thread_loop_stop": (None, [p]),
            "pw_thread_loop_destroy": (None, [p]),
            "pw_thread_loop_lock": (None, [p]),
            "pw_thread_loop_unlock": (None, [p]),
            "pw_properties_new_string": (p, [ctypes.c_char_p]),
            "pw_properties_set": (ctypes.c_int, [p, ctypes.c_char_p, ctypes.c_char_p]),
            "pw_stream_new_simple": (p, [p, ctypes.c_char_p, p, ctypes.POINTER(StreamEvents), p]),
            "pw_stream_connect": (ctypes.c_int, [p, ctypes.c_int, ctypes.c_uint32, ctypes.c_int, ctypes.POINTER(p),
                                                 ctypes.c_uint32]),
            "pw_stream_update_params": (ctypes.c_int, [p, ctypes.POINTER(p), ctypes.c_uint32]),
            "pw_stream_get_node_id": (ctypes.c_uint32, [p]),
            "pw_stream_dequeue_buffer": (ctypes.POINTER(PwBuffer), [p]),
            "pw_stream_queue_buffer": (ctypes.c_int, [p, ctypes.POINTER(PwBuffer)]),
            "pw_stream_is_driving": (ctypes.c_bool, [p]),
            "pw_stream_trigger_process": (ctypes.c_int, [p]),
            "pw_stream_disconnect": (ctypes.c_int, [p]),
            "pw_stream_destroy": (None, [p]),
        }
        for name, (restype, argtypes) in signatures.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = restype, argtypes
        lib.pw_init(None, None)
        _lib = lib
        return lib
