"""livebg/matte/matter.py: ``Matter.luma_coefficients`` (the YUV path's matte) against the RGB
matte it stands for."""
from __future__ import annotations

import numpy as np

from livebg.config import Config
from livebg.matte.matter import Matter
from tests.support.fastpath import (
    upsample,
)


def test_luma_coefficients_give_the_rgb_matte(yuv_doctor):
    yuvs, rgbs, probs = yuv_doctor
    h, w = rgbs[0].shape[:2]
    rgb_matter, yuv_matter = Matter(Config()), Matter(Config())
    means, p999, maxes = [], [], []
    for yuv, rgb, prob in zip(yuvs, rgbs, probs):
        expected = rgb_matter(prob, rgb)
        a, b = yuv_matter.luma_coefficients(prob, yuv[:h])
        assert a.dtype == b.dtype == np.float32 and a.shape == b.shape and a.shape[0] < h
        alpha = np.clip(upsample(a, w, h) * yuv[:h].astype(np.float32) + upsample(b, w, h), 0, 1)
        d = np.abs(alpha - expected)
        means.append(d.mean())
        p999.append(np.percentile(d, 99.9))
        maxes.append(d.max())
        assert 0.1 < (expected > 0.5).mean() < 0.9  # a real matte: person and background
    print(f"\nalpha from Y vs RGB matte: mean |diff| {max(means):.2e}, p99.9 {max(p999):.4f}, max {max(maxes):.3f}")
    assert max(means) < 1e-4  # measured 4.4e-5
    assert max(p999) < 0.025  # measured 0.012
