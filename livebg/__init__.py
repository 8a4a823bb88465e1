"""livebg: replace the background of webcam video, video files and photos."""
__version__ = "0.1.0"

__all__ = ["BackgroundReplacer", "Config", "load_config", "replace_images", "replace_video"]


def __getattr__(name):  # keep `import livebg` light: torch and friends load on first use
    if name in ("BackgroundReplacer", "replace_images", "replace_video"):
        from . import api

        return getattr(api, name)
    if name in ("Config", "load_config"):
        from . import config

        return getattr(config, name)
    raise AttributeError(f"module 'livebg' has no attribute {name!r}")
