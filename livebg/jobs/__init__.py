"""File jobs, assembled from the stages: a video (or image sequence) in, an encoded video or
PNG frames out (video.py, its stage chains in chains.py); photos in and out (photos.py).
Used by the CLI and the Python API.
"""
from livebg.jobs.photos import run_images
from livebg.jobs.video import VideoResult, run_video

__all__ = ["VideoResult", "run_images", "run_video"]
