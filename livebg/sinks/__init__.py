"""Frame sinks: encoded video files, PNG directories, single images (and, for `livebg cam`,
the virtual camera and the preview window).

File sinks write under a temporary name in the target directory and rename at the end, so
a failed or abandoned job never leaves a partial file under the final name.
"""
from .files import (ALPHA_VIDEO_EXTENSIONS, VIDEO_EXTENSIONS, ImageDirSink, OutputPlan, VideoFileSink,
                    check_writable, open_frame_sink, plan_output, write_image_atomic)

__all__ = ["ALPHA_VIDEO_EXTENSIONS", "VIDEO_EXTENSIONS", "ImageDirSink", "OutputPlan", "VideoFileSink",
           "check_writable", "open_frame_sink", "plan_output", "write_image_atomic"]
