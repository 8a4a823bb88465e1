"""livebg.frames.yuv: downscale() to a model's input from crops of any width, and I420Image
views of a frame's planes, cropped anywhere, giving what the RGB frame gives; the yuv420p
layout of FFmpeg's frames and the copies through their padded lines."""
from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from livebg.frames import yuv as i420
from tests.support import yuv_frames
from tests.support.fastpath import planes


@pytest.mark.parametrize("width", [640, 729, 767])
def test_downscale_keeps_the_crops_geometry_for_any_width(shared, width):
    """Model inputs from crops of any width: the integer-factor INTER_AREA step runs on the crop
    trimmed to a multiple of the factor (OpenCV's fast path), which may drop a column: an edge
    lands within half an output pixel of where it belongs (the two steps alone are 0.14 off at
    700 px, the trim adds 0.24 at 729), and a real frame comes out within about a level of the
    direct INTER_AREA resize."""
    import av

    from livebg.frames.yuv import downscale

    edge = np.zeros((540, width, 3), np.uint8)
    edge[:, 500:] = 200
    row = downscale(edge, (256, 256))[128, :, 0].astype(float)
    crossing = np.flatnonzero(row >= 100)[0]
    at = crossing - 1 + (100 - row[crossing - 1]) / (row[crossing] - row[crossing - 1])  # where it crosses half
    assert abs(at + 0.5 - 500 / width * 256) < 0.5  # pixel centres at +0.5

    with av.open(str(shared / "media/videos/doctor_960x540.mp4")) as c:
        frame = next(c.decode(video=0)).to_ndarray(format="rgb24")
    crop = frame[:, 100:100 + width]
    ours = downscale(crop, (256, 256))
    direct = cv2.resize(crop, (256, 256), interpolation=cv2.INTER_AREA)
    assert ours.shape == direct.shape == (256, 256, 3) and ours.dtype == np.uint8
    assert np.abs(ours.astype(np.int16) - direct.astype(np.int16)).mean() < 2


@pytest.mark.parametrize("box, size", [(None, (256, 256)), ((201, 33, 930, 540), (256, 256)),
                                       ((101, 7, 350, 301), (257, 257)), ((0, 0, 960, 540), (256, 144))])
def test_i420_image_gives_the_model_the_rgb_frames_input(shared, box, size):
    """A frame's planes, cropped anywhere (odd corners too) and resized to a model's input, even or
    odd: within about a level of converting the frame to RGB first and resizing that."""
    from livebg.frames.yuv import I420Image, downscale

    yuv = yuv_frames(shared, 1)[0]
    rgb = cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420)
    image = I420Image(yuv)
    assert image.shape == rgb.shape
    if box is not None:
        x0, y0, x1, y1 = box
        image, rgb = image[y0:y1, x0:x1], rgb[y0:y1, x0:x1]
        assert image.shape == rgb.shape and image.box == box
    ours, theirs = downscale(image, size), downscale(rgb, size)
    assert ours.shape == theirs.shape == (size[1], size[0], 3) and ours.dtype == np.uint8
    diff = np.abs(ours.astype(np.int16) - theirs.astype(np.int16))
    assert diff.mean() < 2.0 and np.percentile(diff, 99) < 24, (diff.mean(), np.percentile(diff, 99))


def test_planes_are_views_of_ffmpegs_packed_layout():
    """480x270 has 135 chroma rows of 240: U ends, and V starts, in the middle of a row of the array."""
    frame = av.VideoFrame(480, 270, "yuv420p")
    rng = np.random.default_rng(5)
    for plane in frame.planes:  # planes may have padded lines; fill each through its own view
        data = rng.integers(0, 256, (plane.height, plane.line_size), dtype=np.uint8)
        plane.update(data.tobytes())
    yuv = frame.to_ndarray(format="yuv420p")
    assert yuv.shape == (405, 480)
    y, u, v = planes(yuv)
    assert y.shape == (270, 480) and u.shape == v.shape == (135, 240)
    for ours, plane in zip((y, u, v), frame.planes):
        theirs = np.frombuffer(bytes(plane), np.uint8).reshape(plane.height, plane.line_size)[:, :plane.width]
        assert np.array_equal(ours, theirs)
    assert all(np.shares_memory(p, yuv) for p in (y, u, v))


def test_i420_copies_match_pyav_through_padded_lines(doctor_480):
    """from_frame/to_frame copy rows past the decoder's line padding (480x270: U and V rows
    straddle the array's rows); PyAV's own conversions are the reference."""
    with av.open(str(doctor_480)) as c:
        decoded = [f for _, f in zip(range(3), c.decode(video=0))]
    assert any(p.line_size > p.width for p in decoded[0].planes)  # the case that needs the copy
    for frame in decoded:
        yuv = i420.from_frame(frame)
        assert yuv.flags.c_contiguous and np.array_equal(yuv, frame.to_ndarray(format="yuv420p"))
        again = i420.to_frame(yuv)
        assert (again.width, again.height, again.format.name) == (480, 270, "yuv420p")
        assert np.array_equal(again.to_ndarray(format="yuv420p"), yuv)
    with pytest.raises(ValueError, match="yuv420p frame of even size"):
        i420.from_frame(av.VideoFrame(482, 271, "yuv420p"))
    with pytest.raises(ValueError, match="yuv420p frame of even size"):
        i420.from_frame(av.VideoFrame(480, 270, "rgb24"))
