"""What an upload is, decided by decoding it (never by its name or content type), within limits.

Photos are checked by Pillow from the header (pixel count) before any pixel is decoded, then
decoded whole, so a truncated file is caught; videos by PyAV: the container, the first frame,
the duration, and every packet demuxed (a truncated file has fewer than its header says).
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from livebg.errors import InputError, first_line
from livebg.media.container import open_media, video_stream
from livebg.media.probe import duration, frame_rate

PHOTO_FORMATS = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "WEBP": ".webp", "BMP": ".bmp", "TIFF": ".tif", "GIF": ".gif"}
OUTPUT_FORMATS = {"png": ("image/png", ".png"), "jpg": ("image/jpeg", ".jpg"), "jpeg": ("image/jpeg", ".jpg"),
                  "webp": ("image/webp", ".webp")}


class MediaError(Exception):
    """A request's file or field is not acceptable: ``status`` and a one-line ``message``."""

    def __init__(self, status: int, message: str, code: str):
        super().__init__(message)
        self.status = status
        self.code = code


def safe_name(filename: str | None, fallback: str = "upload") -> str:
    """A display name from a client's file name: its last path part, harmless characters
    only. It is shown and used in the download name, never as a path."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = re.sub(r"[^A-Za-z0-9._ -]+", "_", name).strip(" .")
    return name[:100] or fallback


@dataclass
class Photo:
    rgb: np.ndarray
    format: str  # Pillow's name: JPEG, PNG, …


def _open_photo(fp: BinaryIO, max_pixels: int, what: str):
    """The photo opened by Pillow (its header read, no pixel decoded), or MediaError."""
    from PIL import Image, UnidentifiedImageError

    fp.seek(0, 2)
    if fp.tell() == 0:
        raise MediaError(400, f"{what} is empty (0 bytes): upload the photo again", "empty_file")
    fp.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(fp)
    except Image.DecompressionBombError:
        raise MediaError(413, f"{what} has too many pixels: the limit is {max_pixels / 1e6:g} megapixels", "too_many_pixels") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise MediaError(415, f"{what} is not a photo livebg can read: upload a JPEG, PNG, WebP, BMP or TIFF file",
                         "unsupported_media") from None
    if image.format not in PHOTO_FORMATS:
        raise MediaError(415, f"{what} is a {image.format} image, which livebg does not take: upload a JPEG, PNG, WebP, "
                              f"BMP or TIFF file", "unsupported_media")
    width, height = image.size
    if width * height > max_pixels:
        raise MediaError(413, f"{what} is {width}x{height} ({width * height / 1e6:.1f} megapixels); the limit is "
                              f"{max_pixels / 1e6:g}: scale it down", "too_many_pixels")
    return image


def _decode(image, what: str) -> None:
    """Decode the whole file (a truncated one fails here) or raise MediaError."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
    except (OSError, ValueError, SyntaxError) as exc:
        raise MediaError(400, f"{what} is truncated or damaged ({first_line(exc, 80)}): upload a complete copy",
                         "damaged_file") from None


def read_photo(fp: BinaryIO, max_pixels: int, what: str = "file") -> Photo:
    """Decode an uploaded photo (EXIF orientation applied) or raise MediaError.

    One decoded copy at a time besides the array returned: Pillow's copies (the turned
    image, the RGB one) are made only when needed and closed as soon as the next exists."""
    from PIL import ImageOps

    image = _open_photo(fp, max_pixels, what)
    fmt = image.format
    _decode(image, what)
    try:
        if image.getexif().get(0x0112, 1) != 1:  # EXIF orientation: turned
            turned = ImageOps.exif_transpose(image)
            image.close()
            image = turned
        if image.mode != "RGB":
            rgb = image.convert("RGB")
            image.close()
            image = rgb
        pixels = np.asarray(image)  # one copy, out of Pillow's buffer
    except (OSError, ValueError, SyntaxError) as exc:
        raise MediaError(400, f"{what} is truncated or damaged ({first_line(exc, 80)}): upload a complete copy",
                         "damaged_file") from None
    finally:
        image.close()
    return Photo(np.ascontiguousarray(pixels), fmt)


def check_photo(fp: BinaryIO, max_pixels: int, what: str = "file") -> str:
    """Check that an upload is a whole photo (a background) without keeping its pixels;
    returns its format. A JPEG is decoded at 1/8 of its size (every byte still read, so
    a truncated file is caught); other formats are decoded whole and dropped."""
    image = _open_photo(fp, max_pixels, what)
    fmt = image.format
    try:
        if fmt in ("JPEG", "MPO"):
            image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
        _decode(image, what)
    finally:
        image.close()
    return fmt


@dataclass
class VideoInfo:
    width: int
    height: int
    frames: int
    seconds: float
    has_audio: bool


def probe_video(path: Path, max_pixels: int, max_seconds: float, what: str = "file") -> VideoInfo:
    """Check an uploaded video by decoding it, or raise MediaError."""
    import av

    if path.stat().st_size == 0:
        raise MediaError(400, f"{what} is empty (0 bytes): upload the video again", "empty_file")
    try:
        container = open_media(path, name=what)
    except InputError:
        raise MediaError(415, f"{what} is not a video livebg can read: upload an MP4, MOV, MKV, WebM or AVI file",
                         "unsupported_media") from None
    with container:
        try:
            stream = video_stream(container, name=what, fix="upload a video (photos go to /v1/images)")
        except InputError as exc:
            raise MediaError(415, str(exc), "unsupported_media") from None
        codec = stream.codec_context
        width, height = codec.width, codec.height
        if width * height > max_pixels:
            raise MediaError(413, f"{what} is {width}x{height}; the limit is {max_pixels / 1e6:g} megapixels a frame: "
                                  f"scale it down", "too_many_pixels")
        if container.format.name in ("image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "gif"):
            raise MediaError(415, f"{what} is a picture, not a video: send photos to /v1/images", "unsupported_media")
        seconds = float(duration(container, stream) or 0)
        if seconds > max_seconds:
            raise MediaError(413, f"{what} lasts {seconds:.0f} s; the limit is {max_seconds:g} s: cut it shorter",
                             "too_long")
        expected = stream.frames
        packets = 0
        decoded_first = False
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                packets += 1
                if not decoded_first:
                    for _frame in packet.decode():
                        decoded_first = True
                        break
        except av.error.FFmpegError as exc:
            raise MediaError(400, f"{what} is truncated or damaged ({type(exc).__name__} after {packets} packets): "
                                  f"upload a complete copy", "damaged_file") from None
        if packets == 0:
            raise MediaError(400, f"{what} holds no video frames: upload a complete copy", "damaged_file")
        if expected and packets < expected:
            raise MediaError(400, f"{what} is truncated: {packets} of its {expected} frames are there; upload a "
                                  f"complete copy", "damaged_file")
        if not seconds:
            seconds = packets / float(frame_rate(stream))
            if seconds > max_seconds:
                raise MediaError(413, f"{what} lasts {seconds:.0f} s; the limit is {max_seconds:g} s: cut it shorter",
                                 "too_long")
        return VideoInfo(width, height, expected or packets, seconds, bool(container.streams.audio))


def kind_of(path: Path) -> str:
    """"photo" or "video" for a background upload, by what decodes."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if image.format in PHOTO_FORMATS:
                return "photo"
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        pass
    return "video"
