"""TorchSegmenter: reduced-precision and batch parity (the CUDA path's settings) on real frames,
with a randomly initialised torchvision model; on the CPU, or on a GPU with `pytest --device cuda`
(`--dtype float16` for one precision)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from livebg.segment.torch_model import TorchSegmenter
from livebg.segment.weights import torchvision_weights
from tests.support import lucia_frame


@pytest.fixture(scope="module")
def small_torch_model():
    from torchvision.models import get_model_builder

    torch.manual_seed(0)
    return get_model_builder("lraspp_mobilenet_v3_large")(weights=None, weights_backbone=None, num_classes=21)


def make_segmenter(model, device, **kwargs):
    import copy

    categories = torchvision_weights("lraspp_mobilenet_v3_large").meta["categories"]
    return TorchSegmenter(copy.deepcopy(model), name="lraspp", categories=categories, classes=("person", "chair"),
                          device=device, infer_size=96, **kwargs)


def real_frames(shared, n=4):
    return [lucia_frame(shared, i * 10)[0] for i in range(n)]


# Tolerances for reduced precision against float32 (probabilities in [0, 1]): bfloat16 keeps
# 8 bits of mantissa, float16 10; the softmax itself always runs in float32.
TOLERANCE = {"bfloat16": 0.08, "float16": 0.02}


@pytest.mark.dtypes("bfloat16", "float16")
def test_reduced_precision_matches_float32(small_torch_model, shared, device, dtype):
    frames = real_frames(shared, 2)
    reference = [p.alpha for p in make_segmenter(small_torch_model, device, precision="float32").predict(frames)]
    try:
        reduced = [p.alpha for p in make_segmenter(small_torch_model, device, precision=dtype, channels_last=True).predict(frames)]
    except RuntimeError as exc:  # some CPU builds lack float16 convolutions
        if dtype == "float16" and device == "cpu" and "not implemented" in str(exc).lower():
            pytest.fail(f"float16 on CPU is not available in this torch build: {exc}")
        raise
    for ref, red in zip(reference, reduced):
        assert red.dtype == np.float32
        assert np.abs(ref - red).mean() < TOLERANCE[dtype] / 4
        assert np.abs(ref - red).max() < TOLERANCE[dtype] * 4


def test_batch_of_n_equals_n_single_frames(small_torch_model, shared, device):
    frames = real_frames(shared, 4)
    batched = [p.alpha for p in make_segmenter(small_torch_model, device, batch_size=4, channels_last=True).predict(frames)]
    single = make_segmenter(small_torch_model, device, batch_size=1)
    for frame, b in zip(frames, batched):
        np.testing.assert_allclose(single.predict([frame])[0].alpha, b, atol=1e-4)
