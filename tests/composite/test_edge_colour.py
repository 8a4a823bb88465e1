"""The foreground's own colour at the edge on video (a matting model's estimate, RVM's fgr):
both compositors blend a given colour where alpha is above 0, and both chains of a video job
carry the model's estimate from the segment stage to the composite stage."""
from __future__ import annotations

from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from livebg.composite.blend import Compositor
from livebg.composite.i420 import I420Compositor
from livebg.composite.plain import ColorBackground, OriginalBackground
from livebg.config import Config
from livebg.frames.frame import LumaCoefficients
from livebg.jobs import run_video
from livebg.segment.base import Prediction, Segmenter
from tests.support import write_clip

T0 = Fraction(0)
HAIR = np.array((120, 60, 20), np.float32)


def scene(h: int = 48, w: int = 96):
    """Brown hair (left) over a white wall (right) with a 12 px soft edge of mixed pixels, and
    the steep alpha livebg's refinement gives it (1 over the edge's inner half): (frame, true
    alpha, steep alpha, the hair's colour as a picture)."""
    true_alpha = np.clip((54 - np.arange(w, dtype=np.float32)) / 12, 0, 1)[None, :].repeat(h, 0)
    a = true_alpha[..., None]
    frame = np.clip(a * HAIR + (1 - a) * 250 + 0.5, 0, 255).astype(np.uint8)
    steep = (true_alpha >= 0.5).astype(np.float32)
    colour = np.broadcast_to(HAIR.astype(np.uint8), frame.shape).copy()
    return frame, true_alpha, steep, colour


def test_both_compositors_blend_the_given_colour_at_the_edge():
    frame, true_alpha, steep, colour = scene()
    h, w = steep.shape
    rim = (steep == 1) & (true_alpha < 0.9)  # whole in livebg's matte, yet part wall
    black = ColorBackground((0, 0, 0), (w, h))
    plain = Compositor(black)(frame, steep, T0)
    fixed = Compositor(black)(frame, steep, T0, colour)
    assert np.abs(plain[rim].astype(int) - HAIR).mean() > 40  # the old wall shows as a pale rim
    assert np.abs(fixed[rim].astype(int) - HAIR).mean() < 2
    assert np.array_equal(fixed[steep == 0], plain[steep == 0])

    yuv = cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420)
    coefficients = LumaCoefficients(np.zeros_like(steep), steep)  # alpha = steep, at full size
    compositor = I420Compositor(black)
    plain_planes = compositor(None, yuv, coefficients, T0)
    fixed_planes = compositor(None, yuv, coefficients, T0, cv2.cvtColor(colour, cv2.COLOR_RGB2YUV_I420))
    hair_y = cv2.cvtColor(colour, cv2.COLOR_RGB2YUV_I420)[:h]
    # the rim's pixels are in blocks copied whole (alpha 1 for any luma): copied from the colour
    assert np.abs(plain_planes[:h][rim].astype(int) - hair_y[rim]).mean() > 40
    assert np.abs(fixed_planes[:h][rim].astype(int) - hair_y[rim]).max() <= 1


def test_the_frame_itself_as_background_ignores_the_colour_and_shapes_are_checked():
    frame, _, steep, colour = scene()
    assert np.array_equal(Compositor(OriginalBackground())(frame, steep, T0, colour), frame)
    yuv = cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420)
    coefficients = LumaCoefficients(np.zeros_like(steep), steep)
    out = I420Compositor(OriginalBackground())(None, yuv, coefficients, T0, cv2.cvtColor(colour, cv2.COLOR_RGB2YUV_I420))
    assert np.array_equal(out, yuv)
    black = ColorBackground((0, 0, 0), steep.shape[::-1])
    with pytest.raises(ValueError, match="shape"):
        Compositor(black)(frame, steep, T0, colour[:-2])
    with pytest.raises(ValueError, match="shape"):
        I420Compositor(black)(None, yuv, coefficients, T0, yuv[:-2])


class RampMatting(Segmenter):
    """A matting model without a model: alpha 1 on the left of the frame, falling to 0 across its
    middle fifth, and, when ``colour`` is given, that colour as its foreground estimate."""

    name = "ramp"

    def __init__(self, colour: tuple[float, float, float] | None):
        self.colour = colour

    def describe(self) -> str:
        return "ramp matting"

    def predict(self, frames, *, cuts=None):
        h, w = 27, 48
        ramp = np.clip((0.6 * w - np.arange(w, dtype=np.float32)) / (0.2 * w), 0, 1)[None, :].repeat(h, 0)
        colour = None
        if self.colour is not None:
            colour = np.broadcast_to(np.float32(self.colour), (h, w, 3)).astype(np.float32)
        return [Prediction(ramp, colour) for _ in frames]


def decoded(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


@pytest.mark.parametrize("chain", ["yuv", "rgb"])
def test_video_jobs_blend_the_models_colour_at_the_edge(chain, shared, tmp_path):
    """Both chains: with the model's estimate (pure red) the soft edge turns red over black;
    without one the job is as before; left of the edge nothing changes."""
    clip = write_clip(tmp_path / "doctor.mp4", frames=3, size=(480, 270), crf=12)
    config = (Config().override("background", bg="black").override("output", crf=0)
              .override("smoothing", method="none").override("refine", method="bilinear"))
    if chain == "rgb":  # the matte's own file takes the job to the RGB chain
        config = config.override("output", alpha_out=str(tmp_path / "alpha.mp4"))
    runs = {}
    for name, colour in (("plain", None), ("red", (1.0, 0.0, 0.0))):
        if chain == "rgb":
            (tmp_path / "alpha.mp4").unlink(missing_ok=True)
        result = run_video(str(clip), tmp_path / f"{name}.mp4", config, segmenter=RampMatting(colour), progress=False)
        runs[name] = decoded(result.output)
    assert len(runs["red"]) == len(runs["plain"]) == 3
    w = runs["red"][0].shape[1]
    edge = slice(round(0.42 * w), round(0.52 * w))  # model alpha 0.9 .. 0.4: the estimate's colour

    def redness(image: np.ndarray) -> float:
        return float((image[:, edge, 0] - image[:, edge, 1]).mean())

    for plain, red in zip(runs["plain"], runs["red"]):
        plain, red = plain.astype(int), red.astype(int)
        assert np.abs(plain[:, : round(0.3 * w)] - red[:, : round(0.3 * w)]).max() <= 2  # the person inside
        assert redness(red) > redness(plain) + 60, (redness(red), redness(plain))
