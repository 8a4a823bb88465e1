"""Reading still images: a large JPEG background is decoded only as large as the frames it fills
(DCT scaling), and looks as the whole decode scaled down does."""
from __future__ import annotations

import cv2
import numpy as np

from livebg.composite.fit import fit_cover
from livebg.composite.image import ImageBackground
from livebg.frames.images import jpeg_size, read_image, reduction
from tests.support import SHARED

PORCH = SHARED / "media" / "backgrounds" / "porch-691330_1280.jpg"


def big_jpeg(tmp_path, size=(5120, 3416)):
    image = cv2.resize(cv2.imread(str(PORCH)), size, interpolation=cv2.INTER_LINEAR)
    path = tmp_path / "big.jpg"
    cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return path


def test_a_large_jpeg_is_decoded_reduced_and_looks_the_same(tmp_path):
    path = big_jpeg(tmp_path)
    data = np.fromfile(str(path), np.uint8)
    assert jpeg_size(data) == (5120, 3416)
    assert reduction(data, (640, 360)) == 8 and reduction(data, (1920, 1080)) == 2 and reduction(data, (5000, 3000)) == 1
    assert reduction(data, (360, 640)) == 4  # portrait frames of a landscape picture: covered both ways
    reduced = read_image(path, cover=(640, 360))
    assert reduced.shape == (427, 640, 3)  # 1/8 of 3416 x 5120
    whole = read_image(path)
    assert whole.shape == (3416, 5120, 3)
    scaled = cv2.resize(whole, (640, 427), interpolation=cv2.INTER_AREA)
    assert np.abs(reduced.astype(np.int16) - scaled).mean() < 2.0  # of 255: the same picture
    assert fit_cover(reduced, 640, 360).shape == (360, 640, 3)
    assert reduction(np.frombuffer(b"\x89PNG\r\n\x1a\n" + bytes(100), np.uint8), (10, 10)) == 1  # only JPEGs


def test_a_background_read_reduced_reads_again_for_larger_frames(tmp_path):
    path = big_jpeg(tmp_path)
    background = ImageBackground(path, size=(640, 360))
    assert background.image.shape[:2] == (427, 640)
    small = background.frame_at(0, np.zeros((360, 640, 3), np.uint8))
    assert small.shape == (360, 640, 3)
    large = background.frame_at(0, np.zeros((2160, 3840, 3), np.uint8))  # not what it was read for: whole
    assert large.shape == (2160, 3840, 3) and background.image.shape[:2] == (3416, 5120)
