"""Phone videos: a frame stored sideways with a display rotation plays upright, and livebg's
output is upright too (the model sees people upright): 90, 180, 270 degrees and mirroring."""
from __future__ import annotations

import av
import numpy as np
import pytest

from livebg.config import Config
from livebg.frames.orientation import Orientation, from_display_matrix
from livebg.jobs import run_video
from livebg.sources.video import VideoFileSource
from tests.support import ConstantSegmenter

W, H = 64, 32  # as stored


def stored_picture() -> np.ndarray:
    """Black, with a white block in the stored frame's top-left corner and a grey one top-right."""
    image = np.zeros((H, W, 3), np.uint8)
    image[:8, :8] = 255
    image[:8, -8:] = 128
    return image


def phone_video(path, degrees: int, hflip: bool = False):
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={"crf": "0", "preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.set_display_rotation(degrees, hflip=hflip)
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(stored_picture(), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def corners(image: np.ndarray) -> dict[str, int]:
    h, w = image.shape[:2]
    return {"tl": int(image[:4, :4].mean()), "tr": int(image[:4, w - 4:].mean()),
            "bl": int(image[h - 4:, :4].mean()), "br": int(image[h - 4:, w - 4:].mean())}


# where the stored top-left (white) and top-right (grey) blocks are shown: FFmpeg's own
# --autorotate semantics (set_display_rotation: degrees counter-clockwise, then the mirror)
EXPECTED = {
    (90, False): ("bl", "tl", (H, W)),
    (180, False): ("br", "bl", (W, H)),
    (270, False): ("tr", "br", (H, W)),
    (0, True): ("tr", "tl", (W, H)),
}


@pytest.mark.parametrize("degrees, hflip", list(EXPECTED))
def test_phone_videos_come_out_upright(tmp_path, degrees, hflip):
    path = phone_video(tmp_path / "phone.mp4", degrees, hflip)
    white, grey, (width, height) = EXPECTED[(degrees, hflip)]
    with VideoFileSource(path) as source:
        assert (source.width, source.height) == (width, height)
        assert (source.stored_width, source.stored_height) == (W, H)
        first = next(iter(source)).rgb()
    assert first.shape == (height, width, 3)
    seen = corners(first)
    assert seen[white] > 230 and 100 < seen[grey] < 160, seen
    # the job's output is upright, and plays so with no rotation of its own
    config = Config().override("background", bg="none").override("output", crf=0)
    result = run_video(str(path), tmp_path / "out.mp4", config, segmenter=ConstantSegmenter(1.0), progress=False)
    with av.open(str(result.output)) as container:
        frame = next(container.decode(video=0))
        assert (frame.width, frame.height) == (width, height)
        assert not frame.rotation
        out = corners(frame.to_ndarray(format="rgb24"))
    assert out[white] > 220 and 100 < out[grey] < 170, out


def test_display_matrices_of_ffmpeg():
    one = 65536
    matrix = lambda a, b, c, d: np.array([a, b, 0, c, d, 0, 0, 0, 1 << 30], "<i4").tobytes()  # noqa: E731
    assert from_display_matrix(None).upright
    assert from_display_matrix(matrix(one, 0, 0, one)).upright
    assert from_display_matrix(matrix(0, -one, one, 0)) == Orientation(True, False, True)
    assert from_display_matrix(matrix(-one, 0, 0, -one)) == Orientation(False, True, True)
    image = np.arange(6).reshape(2, 3)
    assert Orientation(True, False, True).apply(image).tolist() == np.rot90(image, 1).tolist()
    assert Orientation(True, True, False).apply(image).tolist() == np.rot90(image, -1).tolist()
