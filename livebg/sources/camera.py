"""A real camera through OpenCV (V4L2 on Linux), as a capture device for `livebg cam`.
"""
from __future__ import annotations

import sys
from typing import Any

import cv2

from livebg.errors import DeviceError
from livebg.media.probe import DEFAULT_FPS
from livebg.sources.capture_device import CapturedImage, CaptureFault


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
