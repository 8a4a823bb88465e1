"""Reading still images (EXIF orientation applied) and listing the images of a folder.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from livebg.errors import BackgroundError, InputError

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def read_image(path: Path, error=BackgroundError) -> np.ndarray:
    """An image file as RGB uint8 (alpha dropped), honouring EXIF orientation."""
    if not path.is_file():
        raise error(f"file not found: {path} — check the path")
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise error(f"{path} is not an image OpenCV can read: use a JPEG, PNG, BMP, WebP or TIFF file")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def list_images(directory: Path) -> list[Path]:
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    if not files:
        raise InputError(f"{directory} holds no images: give a directory of JPEG/PNG frames or a video file")
    return files
