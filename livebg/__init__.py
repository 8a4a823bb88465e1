"""livebg: replace the background of webcam video, video files and photos."""
__version__ = "0.1.0"
