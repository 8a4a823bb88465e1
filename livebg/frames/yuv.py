"""yuv420p frames as one numpy array in FFmpeg's layout ((H * 3 / 2) x W: Y, then U, then V).

PyAV's ``VideoFrame.to_ndarray(format="yuv420p")`` and ``from_ndarray`` are slow (the decoder
pads each row, a 960 px one to 1024 bytes); copying the rows through the planes' buffers moves
the same bytes much faster.
"""
from __future__ import annotations

import av
import cv2
import numpy as np

from livebg.frames import resize


def frame_size(yuv: np.ndarray) -> tuple[int, int]:
    """(H, W) of the frame an FFmpeg-layout yuv420p array ((H * 3 / 2) x W) holds."""
    return yuv.shape[0] * 2 // 3, yuv.shape[1]


def i420_planes(yuv: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y, U, V views of an FFmpeg-layout yuv420p array ((H * 3 / 2) x W)."""
    h, w = frame_size(yuv)
    flat = yuv.reshape(-1)  # U and V are packed one after the other, not row-aligned
    n, q = h * w, (h // 2) * (w // 2)
    return yuv[:h], flat[n:n + q].reshape(h // 2, w // 2), flat[n + q:n + 2 * q].reshape(h // 2, w // 2)


def crop_planes(yuv: np.ndarray, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y, U and V samples covering ``box`` (x0, y0, x1, y1) in frame pixels: the
    same rectangle for even corners, up to one luma pixel more on a side with an odd edge."""
    x0, y0, x1, y1 = box

    def part(plane: np.ndarray, d: int) -> np.ndarray:
        return plane[y0 // d:max(y0 // d + 1, -(-y1 // d)), x0 // d:max(x0 // d + 1, -(-x1 // d))]

    y, u, v = i420_planes(yuv)
    return part(y, 1), part(u, 2), part(v, 2)


def _rows(plane) -> np.ndarray:
    """A frame plane's bytes as rows of ``line_size`` (the padding included)."""
    return np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)


def from_frame(frame: av.VideoFrame) -> np.ndarray:
    """A decoded yuv420p frame (even width and height) copied out as one array."""
    if frame.format.name != "yuv420p" or frame.width % 2 or frame.height % 2:
        raise ValueError(f"expected a yuv420p frame of even size, got {frame.format.name} {frame.width}x{frame.height}")
    out = np.empty((frame.height * 3 // 2, frame.width), np.uint8)
    for dst, plane in zip(i420_planes(out), frame.planes):
        dst[:] = _rows(plane)[:dst.shape[0], :dst.shape[1]]
    return out


def to_frame(yuv: np.ndarray) -> av.VideoFrame:
    """A new yuv420p VideoFrame holding a copy of ``yuv`` ((H * 3 / 2) x W uint8, even H and W)."""
    height, width = yuv.shape[0] * 2 // 3, yuv.shape[1]
    frame = av.VideoFrame(width, height, "yuv420p")
    for src, plane in zip(i420_planes(yuv), frame.planes):
        _rows(plane)[:src.shape[0], :src.shape[1]] = src
    return frame


class I420Image:
    """A yuv420p frame, or a rectangle of one, where the segmenters take an RGB frame: it has the
    RGB frame's ``shape``, crops like it (``image[y0:y1, x0:x1]``) and ``downscale`` makes the
    model's RGB input from its planes at the model's size. A file job's frames never become
    RGB at full size (which saves a conversion and 1.5 MB a frame at 960x540), and the resize reads
    half the bytes."""

    def __init__(self, yuv: np.ndarray, box: tuple[int, int, int, int] | None = None):
        self.yuv = yuv
        h, w = frame_size(yuv)
        self.box = box or (0, 0, w, h)

    @property
    def shape(self) -> tuple[int, int, int]:
        x0, y0, x1, y1 = self.box
        return y1 - y0, x1 - x0, 3

    def __getitem__(self, key: tuple[slice, slice]) -> "I420Image":
        rows, cols = key
        x0, y0, x1, y1 = self.box
        top, bottom, _ = rows.indices(y1 - y0)
        left, right, _ = cols.indices(x1 - x0)
        return I420Image(self.yuv, (x0 + left, y0 + top, x0 + right, y0 + bottom))

    def resized(self, size: tuple[int, int]) -> np.ndarray:
        """RGB uint8 of the rectangle at ``size`` (w, h): each plane resized, then OpenCV's I420
        conversion at that size (the chroma samples covering the rectangle: up to one luma pixel
        more on a side with an odd edge)."""
        w, h = size
        even = (w + w % 2, h + h % 2)  # the I420 layout needs even sizes
        out = np.empty((even[1] * 3 // 2, even[0]), np.uint8)
        for part, dst in zip(crop_planes(self.yuv, self.box), i420_planes(out)):
            dst[:] = downscale(part, (dst.shape[1], dst.shape[0]))
        rgb = cv2.cvtColor(out, cv2.COLOR_YUV2RGB_I420)
        return rgb if even == size else cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR)


def downscale(image: np.ndarray | I420Image, size: tuple[int, int]) -> np.ndarray:
    """``resize.downscale`` (integer-factor area step, then bilinear), for RGB frames and for
    I420Image planes alike."""
    if isinstance(image, I420Image):
        return image.resized(size)
    return resize.downscale(image, size)
