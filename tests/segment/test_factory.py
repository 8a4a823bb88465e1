"""Which model ``auto`` runs live: the selfie model on a CPU, RVM on CUDA (the issue's rule), with
no GPU here: CUDA is made to look present to torch and to ONNX Runtime."""
from __future__ import annotations

import os

import onnxruntime
import pytest
import torch

from livebg.config import ModelConfig
from livebg.segment import factory
from livebg.segment.factory import choose_model


@pytest.fixture
def cuda_here(monkeypatch):
    """A machine with an NVIDIA driver, torch seeing a GPU and onnxruntime-gpu installed."""
    monkeypatch.setattr(factory, "_cuda_driver_present", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(onnxruntime, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])


def test_live_auto_is_the_selfie_model_on_a_cpu(rvm_cache):
    for device in ("cpu", "auto"):  # auto: no GPU on this machine
        choice = choose_model(ModelConfig(device=device), live=True)
        assert choice.spec.name == "selfie" and choice.device == "cpu"
        assert "live on a CPU" in choice.reason and "--model rvm" in choice.reason  # what the other costs


def test_live_auto_is_rvm_on_cuda(rvm_cache, cuda_here):
    for device in ("cuda", "auto"):
        choice = choose_model(ModelConfig(device=device), live=True)
        assert choice.spec.name == "rvm" and choice.device == "cuda", device
        assert "on CUDA" in choice.reason and "--fast" in choice.reason


def test_live_auto_stays_on_selfie_when_onnx_runtime_has_no_cuda(rvm_cache, cuda_here, monkeypatch):
    """torch sees the GPU but the plain onnxruntime wheel has no CUDA provider: RVM would run on
    the CPU, so live stays on the selfie model."""
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert choose_model(ModelConfig(device="cuda"), live=True).spec.name == "selfie"


def test_rvm_asked_for_live_on_a_cpu_says_how_it_keeps_the_camera_rate(rvm_cache):
    choice = choose_model(ModelConfig(name="rvm", device="cpu"), live=True)
    assert choice.spec.name == "rvm" and "sized to the camera's rate" in choice.reason
    # at a size of the user's own it is not sized: slower than the selfie model and the camera
    fixed = choose_model(ModelConfig(name="rvm", device="cpu", infer_size=256), live=True)
    assert "slower than the selfie model" in fixed.reason
    # neither is said for file jobs, where RVM is the default on a CPU too
    assert "slower" not in choose_model(ModelConfig(name="rvm", device="cpu")).reason
    assert "camera" not in choose_model(ModelConfig(name="rvm", device="cpu")).reason


def test_live_rvm_on_a_cpu_is_sized_to_the_camera_and_takes_every_core(rvm_cache, monkeypatch):
    """Live, RVM without --infer-size is built at the largest live size with no portrait size
    (live/sizing.py sets the size) and every core (the loop waits for its masks); with
    --infer-size it keeps that size and leaves a core to the compositing thread."""
    from livebg.segment import rvm
    from livebg.segment.factory import load_segmenter

    made = []
    monkeypatch.setattr(rvm.RvmSegmenter, "__init__",
                        lambda self, path, **kw: made.append(kw) or None)
    load_segmenter(ModelConfig(name="rvm", device="cpu"), live=True)
    load_segmenter(ModelConfig(name="rvm", device="cpu", infer_size=256), live=True)
    load_segmenter(ModelConfig(name="rvm", device="cpu"))
    sized, fixed, files = made
    assert sized["model_short"] == rvm.LIVE_SIZES[0] and sized["portrait_short"] == 0 and sized["threads"] == 0
    assert sized["chosen"] == "live sizing"
    assert fixed["model_short"] == 256 and fixed["threads"] == max(1, (os.cpu_count() or 2) - 1)
    assert files["model_short"] == rvm.MODEL_SHORT_SIDE and files["portrait_short"] == rvm.MODEL_SHORT_SIDE_PORTRAIT
    # zoomed live, the whole-frame pass (lower detail than the box) comes half as often, unless set
    assert sized["zoom"] and sized["full_every"] == 16 and fixed["full_every"] == files["full_every"] == 8
    load_segmenter(ModelConfig(name="rvm", device="cpu", full_pass_every=5), live=True)
    assert made[-1]["full_every"] == 5


def test_rvm_works_at_512_px_on_cuda_and_384_on_a_cpu(rvm_cache, cuda_here, monkeypatch):
    """The working size follows the device (docs/quality.md: 512 px scores higher on every
    labelled sample; on a CPU it costs 1.8x); --infer-size still decides when given."""
    made = []
    monkeypatch.setattr(factory, "RvmSegmenter", lambda path, **kw: made.append(kw) or kw)
    monkeypatch.setattr(factory, "fetch_rvm", lambda precision, **kw: rvm_cache / "rvm_mobilenetv3_fp32.onnx")
    for device, infer_size, expected in (("cuda", 0, 512), ("cpu", 0, 384), ("cuda", 320, 320)):
        factory.load_segmenter(ModelConfig(name="rvm", device=device, infer_size=infer_size))
        assert made[-1]["model_short"] == expected and made[-1]["device"] == device, (device, infer_size)
