"""livebg/composite/kernels.py: ``blend_i420`` (the YUV 4:2:0 blend) against a plain numpy
reference on synthetic data, ``linear_axis`` against OpenCV's INTER_LINEAR, and compiling with
no writable cache directory."""
from __future__ import annotations

import numpy as np
import pytest

from livebg.composite.kernels import linear_axis
from tests.support.fastpath import (
    levels,
    planes,
    random_i420,
    reference_blend,
    run_kernel,
    upsample,
)


@pytest.mark.parametrize("size", [(480, 270), (322, 182), (64, 48)])
def test_kernel_pure_cases_are_exact(size):
    rng = np.random.default_rng(1)
    w, h = size
    yuv, bg = random_i420(rng, w, h), random_i420(rng, w, h)
    zero = np.zeros((h // 6 + 1, w // 6 + 1), np.float32)
    out, mixed = run_kernel(yuv, bg, zero, zero)
    assert np.array_equal(out, bg) and mixed == 0
    out, mixed = run_kernel(yuv, bg, zero, zero + 1)
    assert np.array_equal(out, yuv) and mixed == 0
    out, mixed = run_kernel(yuv, bg, zero, zero + 1.7)  # clipped to 1
    assert np.array_equal(out, yuv) and mixed == 0
    out, mixed = run_kernel(yuv, bg, zero, zero + 0.5)
    half = np.floor((yuv.astype(np.float32) + bg) / 2 + 0.5).astype(np.uint8)
    assert np.array_equal(out, half)
    assert mixed == (h // 2) * (w // 2)


@pytest.mark.parametrize("size", [(480, 270), (322, 182), (960, 540), (40, 30)])
def test_kernel_matches_a_numpy_reference(size):
    rng = np.random.default_rng(2)
    w, h = size
    yuv, bg = random_i420(rng, w, h), random_i420(rng, w, h)
    ch, cw = max(2, h // 6), max(2, w // 6)
    # a steep luma dependence and offsets that put some regions fully in or out, some mixed
    a = rng.normal(0, 0.02, (ch, cw)).astype(np.float32)
    b = rng.uniform(-3, 3, (ch, cw)).astype(np.float32)
    out, mixed = run_kernel(yuv, bg, a, b)
    expected = reference_blend(yuv, bg, a, b)
    d = levels(out, expected)
    assert d.max() <= 1
    assert (d > 0).mean() < 1e-3
    fy, gy = planes(yuv)[0], planes(bg)[0]
    assert (out[:h] == fy).any() and (out[:h] == gy).any() and (out[:h] != fy).any() and (out[:h] != gy).any()
    assert 0 < mixed < (h // 2) * (w // 2)


def test_kernel_copies_whole_blocks_only_where_alpha_cannot_depend_on_luma():
    """A = 0.01 with B = -0.3: alpha depends on Y everywhere (0 at Y 30, 1 at Y 130), so no
    block may be copied; with B = -3 alpha is 0 for any Y in 0..255 and every block is."""
    rng = np.random.default_rng(3)
    yuv, bg = random_i420(rng, 64, 48), random_i420(rng, 64, 48)
    a = np.full((8, 8), 0.01, np.float32)
    out, mixed = run_kernel(yuv, bg, a, np.full((8, 8), -0.3, np.float32))
    assert mixed == 32 * 24
    assert np.array_equal(out, reference_blend(yuv, bg, a, np.full((8, 8), -0.3, np.float32)))
    out, mixed = run_kernel(yuv, bg, a, np.full((8, 8), -3.0, np.float32))
    assert mixed == 0 and np.array_equal(out, bg)


def test_linear_axis_is_opencvs_inter_linear():
    rng = np.random.default_rng(4)
    for (h, w), (height, width) in [((45, 80), (270, 480)), ((7, 5), (270, 322)), ((20, 30), (20, 30)), ((30, 40), (24, 34))]:
        coef = rng.random((h, w), dtype=np.float32)
        x0, x1, wx = linear_axis(width, w)
        y0, y1, wy = linear_axis(height, h)
        assert x0.min() >= 0 and x1.max() <= w - 1 and 0 <= wx.min() and wx.max() < 1
        rows = coef[y0] + wy[:, None] * (coef[y1] - coef[y0])
        ours = rows[:, x0] + wx * (rows[:, x1] - rows[:, x0])
        assert np.abs(ours - upsample(coef, width, height)).max() < 1e-6


def test_kernels_compile_where_no_cache_directory_is_writable(monkeypatch):
    """A read-only install run with an unwritable HOME: numba finds nowhere to cache and refuses
    cache=True at decoration; livebg's kernels then compile without a cache instead of failing."""
    from numba import njit
    from numba.core import caching

    from livebg.frames.jit import compiled

    def twice(x):
        return 2 * x

    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])
    with pytest.raises(RuntimeError, match="no locator available"):
        njit(cache=True)(twice)
    assert compiled(twice)(21) == 42
