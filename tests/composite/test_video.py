"""Video backgrounds are paired with the input by presentation time, for loop, hold and stretch."""
from __future__ import annotations

import math
from fractions import Fraction

import av
import pytest

from livebg.config import Config
from livebg.jobs import run_video
from tests.support import ConstantSegmenter, decode_index, write_clip

NTSC = Fraction(30000, 1001)


def stream_duration(path) -> Fraction:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return s.duration * s.time_base


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("pairing")
    # input: 45 frames at 29.97 (1.50 s); background: 20 frames at 25 fps (0.80 s), so loop wraps
    inp = write_clip(d / "input.mov", picture="index", frames=45, rate=NTSC, size=(64, 48))
    bg = write_clip(d / "bg.mov", picture="index", frames=20, rate=Fraction(25), size=(80, 40))
    return inp, bg


def expected_index(i: int, fit: str, n_bg: int, d_in: Fraction, d_bg: Fraction) -> int:
    t = i / NTSC
    if fit == "loop":
        return math.floor(t * 25) % n_bg
    if fit == "hold":
        return min(math.floor(t * 25), n_bg - 1)
    return min(math.floor(t * d_bg / d_in * 25), n_bg - 1)


@pytest.mark.parametrize("fit", ["loop", "hold", "stretch"])
def test_every_output_frame_shows_the_background_frame_on_screen_at_its_time(videos, tmp_path, fit):
    inp, bg = videos
    config = Config().override("background", bg=str(bg), fit=fit).override("refine", method="bilinear")
    out = tmp_path / "frames"
    result = run_video(str(inp), out, config, segmenter=ConstantSegmenter(0.0), progress=False)
    assert result.frames == 45
    import cv2

    got = [decode_index(cv2.imread(str(out / f"{i:05d}.png"))[24, 32, ::-1]) for i in range(45)]
    d_in, d_bg = stream_duration(inp), stream_duration(bg)
    want = [expected_index(i, fit, 20, d_in, d_bg) for i in range(45)]
    assert got == want
    if fit == "loop":
        assert 0 in got[25:], "a shorter background loops"
    if fit == "hold":
        assert got[-1] == 19
    if fit == "stretch":
        assert got[0] == 0 and got[-1] >= 18 and got == sorted(got)


def test_background_video_is_fitted_by_cover_not_stretched(videos, tmp_path):
    inp, _ = videos
    # 80x40 background: each half a different colour column-wise, input 64x48
    import numpy as np

    bg = tmp_path / "halves.png"
    import cv2

    image = np.zeros((40, 80, 3), np.uint8)
    image[:, :40] = (0, 0, 255)  # BGR: red on the left
    image[:, 40:] = (255, 0, 0)  # blue on the right
    cv2.imwrite(str(bg), image)
    config = Config().override("background", bg=str(bg))
    out = tmp_path / "cover"
    run_video(str(inp), out, config, segmenter=ConstantSegmenter(0.0), progress=False)
    frame = cv2.imread(str(out / "00000.png"))[:, :, ::-1]
    assert frame.shape == (48, 64, 3)
    # cover: scale 40 -> 48 rows (x1.2): 96 columns, centre crop 64 -> the split stays in the middle
    assert frame[24, 5].tolist() == [255, 0, 0] and frame[24, 58].tolist() == [0, 0, 255]
    assert abs(int(frame[24, 31, 0]) - int(frame[24, 32, 0])) > 100
