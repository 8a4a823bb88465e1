"""Which capture device a `livebg cam --source` value names: a camera index or /dev/videoN, a
registered ``scheme://`` (new kinds of camera, and the tests' fakes, plug in here without
touching the capture loop), a video file or a URL.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

from livebg.errors import DeviceError, InputError
from livebg.sources.camera import OpenCVCamera
from livebg.sources.capture_device import CaptureDevice
from livebg.sources.replay import FileReplay

CAPTURE_SCHEMES: dict[str, Callable[..., CaptureDevice]] = {}


def register_capture(scheme: str, factory: Callable[..., CaptureDevice]) -> None:
    """Make ``--source SCHEME://REST`` open ``factory(spec, width=, height=, fps=)``; replaces an earlier one."""
    CAPTURE_SCHEMES[scheme.lower()] = factory


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
