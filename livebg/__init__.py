"""livebg: replace the background of webcam video, video files and photos."""
__version__ = "0.1.0"

# OpenCV must be loaded before PyAV: the other way round, PyAV's FFmpeg libraries are found
# first and cv2.namedWindow hangs for ever (the preview window), with both wheels from PyPI.
import cv2 as _cv2  # noqa: F401, E402

__all__ = ["BackgroundReplacer", "Config", "load_config", "replace_images", "replace_video"]


def __getattr__(name):  # keep `import livebg` light: torch and friends load on first use
    if name in ("BackgroundReplacer", "replace_images", "replace_video"):
        from livebg import api

        return getattr(api, name)
    if name in ("Config", "load_config"):
        from livebg import config

        return getattr(config, name)
    raise AttributeError(f"module 'livebg' has no attribute {name!r}")
