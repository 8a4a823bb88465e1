"""Frame sinks: encoded video files, PNG directories, single images (and, for `livebg cam`,
the virtual camera and the preview window).

File sinks write under a temporary name in the target directory and rename at the end, so
a failed or abandoned job never leaves a partial file under the final name.
"""
from fractions import Fraction
from pathlib import Path

from livebg.sinks.files import (
    ALPHA_VIDEO_EXTENSIONS,
    VIDEO_EXTENSIONS,
    FrameSink,
    OutputPlan,
    check_writable,
    plan_output,
)
from livebg.sinks.images import ImageDirSink, write_image_atomic
from livebg.sinks.video import VideoFileSink

__all__ = ["ALPHA_VIDEO_EXTENSIONS", "VIDEO_EXTENSIONS", "ImageDirSink", "OutputPlan", "VideoFileSink",
           "FrameSink", "check_writable", "open_frame_sink", "plan_output", "write_image_atomic"]


def open_frame_sink(plan: OutputPlan, *, width: int, height: int, rate: Fraction, time_base: Fraction,
                    alpha: bool = False, gray: bool = False, crf: int = 20, preset: str = "veryfast",
                    audio_from: Path | None = None, base_rate: Fraction | None = None) -> FrameSink:
    if plan.kind == "frames":
        return ImageDirSink(plan.path, what=plan.what)
    return VideoFileSink(plan.path, width=width, height=height, rate=rate, time_base=time_base, alpha=alpha,
                         gray=gray, crf=crf, preset=preset, audio_from=audio_from, base_rate=base_rate)
