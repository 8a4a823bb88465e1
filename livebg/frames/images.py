"""Reading still images (EXIF orientation applied) and listing the images of a folder.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from livebg.errors import BackgroundError, InputError

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


REDUCED = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}


def read_image(path: Path, error=BackgroundError, *, cover: tuple[int, int] | None = None) -> np.ndarray:
    """An image file as RGB uint8 (alpha dropped), honouring EXIF orientation.

    ``cover`` (width, height): the image is only needed to fill that size (a background), so
    a JPEG much larger is decoded at 1/2, 1/4 or 1/8 of its size (its DCT scaled down while
    decoding: a 49 MP photo takes 2.3 MB instead of 147 MB), never smaller than it must be
    to cover ``cover``."""
    if not path.is_file():
        raise error(f"file not found: {path} — check the path")
    data = np.fromfile(str(path), dtype=np.uint8)
    flags = cv2.IMREAD_COLOR
    if cover is not None and data.size:
        flags = REDUCED.get(reduction(data, cover), flags)
    image = cv2.imdecode(data, flags) if data.size else None
    del data
    if image is None:
        raise error(f"{path} is not an image OpenCV can read: use a JPEG, PNG, BMP, WebP or TIFF file")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB, dst=image)  # in place: no second copy of a large image


def reduction(data: np.ndarray, cover: tuple[int, int]) -> int:
    """The largest of 1, 2, 4, 8 that a JPEG (its bytes) can be divided by on decoding and
    still cover ``cover``; 1 for other formats (OpenCV would decode them whole anyway)."""
    size = jpeg_size(data)
    if size is None:
        return 1
    (w, h), (cw, ch) = size, (max(1, cover[0]), max(1, cover[1]))
    if w < h and cw > ch or w > h and cw < ch:  # an EXIF turn may swap them: cover both ways
        cw = ch = max(cw, ch)
    factor = 1
    while factor < 8 and w // (factor * 2) >= cw and h // (factor * 2) >= ch:
        factor *= 2
    return factor


def jpeg_size(data: np.ndarray) -> tuple[int, int] | None:
    """(width, height) from a JPEG's start-of-frame marker, or None if it is not a JPEG."""
    raw = data[:1 << 20].tobytes()  # the frame header comes before the image data
    if raw[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 9 < len(raw):
        if raw[i] != 0xFF:
            return None
        marker = raw[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        length = int.from_bytes(raw[i + 2:i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return int.from_bytes(raw[i + 7:i + 9], "big"), int.from_bytes(raw[i + 5:i + 7], "big")
        i += 2 + length
    return None


def list_images(directory: Path) -> list[Path]:
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    if not files:
        raise InputError(f"{directory} holds no images: give a directory of JPEG/PNG frames or a video file")
    return files
