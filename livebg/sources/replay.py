"""A video file or stream URL replayed as if it were a camera (`livebg cam --source FILE|URL`).
"""
from __future__ import annotations

from pathlib import Path

from livebg.errors import InputError, reason
from livebg.media.container import open_media, video_stream
from livebg.media.probe import frame_rate
from livebg.sources.capture_device import CapturedImage, CaptureFault


class FileReplay:
    """A video file or stream URL replayed as if it were a camera: frames become due at their
    own timestamps (or at ``fps`` when given), scaled to ``width`` x ``height`` when given."""

    def __init__(self, spec: str, *, width: int = 0, height: int = 0, fps: float = 0.0):
        self.name = spec
        self._spec = spec
        is_url = "://" in spec
        if not is_url and not Path(spec).expanduser().is_file():
            raise InputError(f"--source {spec} not found: give a camera index (0), a /dev/videoN device, a video file or a URL")
        self._container = open_media(spec if is_url else Path(spec).expanduser(), name=f"--source {spec}",
                                     problem="cannot be opened as a video", fix="check the path or URL",
                                     timeout=10.0 if is_url else None)
        self._stream = stream = video_stream(self._container, name=f"--source {spec}", fix="give a video file or a camera")
        stream.thread_type = "AUTO"
        native_w: int = stream.codec_context.width
        native_h: int = stream.codec_context.height
        if (width or height) and not (width and height):
            raise InputError("give both --width and --height, or neither")
        self.width, self.height = (width, height) if width else (native_w, native_h)
        self.fixed_fps = float(fps) if fps else 0.0
        self.fps = self.fixed_fps or float(frame_rate(stream))
        self._scale = (self.width, self.height) != (native_w, native_h)
        self._frames = self._container.decode(stream)
        self._index = 0
        self._start_pts: int | None = None

    def read(self) -> CapturedImage | None:
        import av

        try:
            frame = next(self._frames, None)
        except av.FFmpegError as exc:
            raise CaptureFault(f"{self.name} failed after {self._index} frames ({reason(exc)})",
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
