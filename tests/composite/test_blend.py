"""livebg.composite.blend: the tensor blend (the GPU path; on the CPU unless `pytest --device cuda`)
against OpenCV's, and the light wrap."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from livebg.composite.blend import light_wrap
from livebg.errors import ConfigError
from tests.support import square_scene


def test_torch_blend_matches_cpu_blend(device):
    from livebg.composite.blend import blend_torch, composite

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    bg = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    alpha = rng.random((40, 50), dtype=np.float32)
    cpu = composite(frame, alpha, bg)
    for dtype, tol in [(torch.float32, 1), (torch.bfloat16, 3)]:
        t = blend_torch(torch.from_numpy(frame).to(device), torch.from_numpy(alpha).to(device, dtype),
                        torch.from_numpy(bg).to(device)).cpu().numpy()
        assert np.abs(t.astype(int) - cpu).max() <= tol


def test_device_blend_path_matches_opencv_blend(device):
    """The Compositor's tensor path (used on CUDA in float16), on ``--device`` (the CPU by default)."""
    from livebg.composite.blend import Compositor
    from livebg.composite.plain import ColorBackground

    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    alpha = rng.random((30, 40), dtype=np.float32)
    background = ColorBackground((10, 200, 30), "test")
    on_cpu = Compositor(background)(frame, alpha, 0)
    on_device = Compositor(background, device=device)(frame, alpha, 0)
    assert on_device.dtype == np.uint8 and np.abs(on_device.astype(int) - on_cpu).max() <= 1


def test_light_wrap_is_a_background_setting_and_checked_there():
    from livebg.config import BackgroundConfig

    with pytest.raises(ConfigError, match="light wrap"):
        BackgroundConfig(light_wrap=2).validate()


def test_light_wrap_touches_only_the_subject_edge():
    frame, _, truth = square_scene()
    background = np.zeros_like(frame)
    background[:] = (0, 0, 255)
    out = light_wrap(frame, background, truth, 0.8)
    changed = np.abs(out.astype(int) - frame.astype(int)).sum(axis=2) > 0
    assert changed.any()
    assert not changed[truth == 0].any()  # nothing outside the subject
    assert not changed[80:100, 140:180].any()  # nor deep inside it
    assert out[52, 160, 2] > frame[52, 160, 2]  # blue light on the rim
