"""The Python API mirrors the CLI: frames in, frames out."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

import livebg
from livebg.errors import ConfigError


def test_frames_in_frames_out_on_a_real_frame(shared):
    frame = cv2.cvtColor(cv2.imread(str(shared / "media/labeled/davis_lucia/JPEGImages/00010.jpg")), cv2.COLOR_BGR2RGB)
    truth = cv2.imread(str(shared / "media/labeled/davis_lucia/Annotations/00010.png"), cv2.IMREAD_GRAYSCALE) > 127
    with livebg.BackgroundReplacer(bg="#0000ff", model="selfie") as replacer:
        out = replacer(frame)
        alpha = replacer.matte(frame)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert alpha.dtype == np.float32 and alpha.shape == frame.shape[:2]
    assert ((alpha > 0.5) & truth).sum() / ((alpha > 0.5) | truth).sum() > 0.75
    assert (out[~truth] == (0, 0, 255)).all(axis=1).mean() > 0.9  # background replaced by blue
    with pytest.raises(TypeError, match="RGB uint8"):
        livebg.BackgroundReplacer(model="selfie")(frame.astype(np.float32))
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        livebg.BackgroundReplacer(colour="blue")


def test_replace_video_function(shared, tmp_path):
    out = tmp_path / "frames"
    result = livebg.replace_video(shared / "media/labeled/davis_lucia/JPEGImages", out, bg="white", fps=25)
    assert result.frames == 70 and len(list(out.iterdir())) == 70
