"""livebg/composite/blur.py: the blur background made from the frame's planes in place, and its
Gaussian blur against OpenCV's."""
from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np
import pytest

from livebg.composite.factory import open_background


@pytest.mark.parametrize("strength", [25, 8, 5, 3])
@pytest.mark.parametrize("size", [(960, 540), (322, 181)])
def test_blur_is_the_frames_gaussian_in_place(strength, size):
    """The blur (of an eighth-size copy for the default strength, a half-size one for 5) is the
    full-size Gaussian of that sigma to within a level or two, to the frame's edges (540 and 181
    rows end inside a block), and not moved: shifting it by a pixel either way only makes it
    further from the full-size blur."""
    w, h = size
    rng = np.random.default_rng(3)
    cell = max(6, strength)  # features about as large as the blur: it leaves them some contrast
    texture = rng.uniform(0, 255, (h // cell, w // cell, 3)).astype(np.float32)
    frame = np.clip(cv2.resize(texture, (w, h), interpolation=cv2.INTER_CUBIC), 0, 255).astype(np.uint8)
    out = open_background(f"blur:{strength}", size).frame_at(Fraction(0), frame).astype(np.float32)
    truth = cv2.GaussianBlur(frame.astype(np.float32), (0, 0), strength, borderType=cv2.BORDER_REFLECT)
    assert out.shape == frame.shape and out.flags.c_contiguous
    d = np.abs(out - truth)
    edges = {"top": d[:4], "bottom": d[-4:], "left": d[:, :4], "right": d[:, -4:]}
    print(f"\nblur:{strength} {w}x{h}: mean {d.mean():.2f}, max {d.max():.1f}; "
          + ", ".join(f"{k} {v.mean():.2f}" for k, v in edges.items()))
    # (blur:8, a quarter-size copy, is the loosest: mean 0.75-0.78 and up to 1.04 on an edge
    # since the small copy is blurred in float32; 0.65-0.67 and 0.89 with OpenCV's uint8 path)
    assert d.mean() < 0.9 and d.max() < 5
    for side, strip in edges.items():
        assert strip.mean() < 1.2, side
    m = 8  # away from the border, where the shifted copies wrap round
    inner = (slice(m, h - m), slice(m, w - m))

    def error(dy: int, dx: int) -> float:
        return float(np.abs(np.roll(out, (dy, dx), axis=(0, 1))[inner] - truth[inner]).mean())

    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        assert error(dy, dx) > error(0, 0), (dy, dx)


@pytest.mark.parametrize("shape", [(76, 120), (68, 120, 3), (181, 322, 3)])
@pytest.mark.parametrize("sigma", [0.5, 2.5, 3.1, 12.5])
def test_gaussian_blur_is_opencvs_to_within_two_levels(shape, sigma):
    """Blurred in float32 instead of by GaussianBlur's slow bit-exact uint8 path."""
    from livebg.composite.blur import gaussian_blur

    image = np.random.default_rng(4).integers(0, 255, shape, dtype=np.uint8)
    expected = cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    got = gaussian_blur(image, sigma)
    assert got.shape == image.shape and got.dtype == np.uint8
    assert np.abs(got.astype(int) - expected).max() <= 2
