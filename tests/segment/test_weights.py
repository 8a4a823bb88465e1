"""Which model and weights a --model name resolves to: torchvision checkpoints found in
torchvision's own cache or given as a file, missing ones (with and without a network), ones of
another model, and unknown model and class names."""
from __future__ import annotations

import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

from livebg.config import ModelConfig
from livebg.errors import ModelError
from livebg.segment.factory import load_segmenter
from livebg.segment.torch_model import TorchSegmenter
from livebg.segment.weights import (
    TORCHVISION_MODELS,
    checkpoint_file_name,
    torchvision_weights,
)
from tests.support import lucia_frame


def save_random_checkpoint(name: str, directory) -> Path:
    """A randomly initialised model saved under torchvision's file name (as a download would be)."""
    from torchvision.models import get_model_builder

    weights = torchvision_weights(name)
    kwargs = {"weights": None, "weights_backbone": None, "num_classes": len(weights.meta["categories"])}
    if not name.startswith("lraspp"):
        kwargs["aux_loss"] = True  # torchvision's checkpoints carry the aux head
    torch.manual_seed(0)
    model = get_model_builder(name)(**kwargs)
    path = directory / checkpoint_file_name(weights)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub" / "checkpoints"


@pytest.mark.parametrize("name", TORCHVISION_MODELS)
def test_torchvision_model_loads_from_torchvision_cache(name, torch_home, shared):
    save_random_checkpoint(name, torch_home)
    segmenter, reason = load_segmenter(ModelConfig(name=name, device="cpu", infer_size=64, download=False))
    assert isinstance(segmenter, TorchSegmenter) and reason == "chosen with --model or the preset"
    assert segmenter.indices == [15]  # "person" found by name in the weights' categories
    frame, _ = lucia_frame(shared)
    (prediction,) = segmenter.predict([frame])
    prob = prediction.alpha
    assert prob.dtype == np.float32 and prob.shape == (64, 114)
    assert 0.0 <= prob.min() and prob.max() <= 1.0
    assert "torchvision" in segmenter.describe() and "64 px" in segmenter.describe()


def test_weights_file_and_mismatch(tmp_path, shared):
    path = save_random_checkpoint("lraspp_mobilenet_v3_large", tmp_path)
    segmenter, _ = load_segmenter(ModelConfig(name="lraspp_mobilenet_v3_large", weights=str(path), device="cpu", infer_size=64))
    assert segmenter.predict([lucia_frame(shared)[0]])[0].alpha.shape == (64, 114)
    with pytest.raises(ModelError, match="does not match model deeplabv3_mobilenet_v3_large"):
        load_segmenter(ModelConfig(name="deeplabv3_mobilenet_v3_large", weights=str(path), device="cpu"))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="is not a PyTorch checkpoint"):
        load_segmenter(ModelConfig(name="lraspp_mobilenet_v3_large", weights=str(junk), device="cpu"))


def test_missing_weights_say_file_cache_and_offline_alternative(torch_home, monkeypatch):
    monkeypatch.delenv("LIVEBG_OFFLINE")  # the session's offline switch; this test stands in for the network itself
    name = "deeplabv3_mobilenet_v3_large"
    file = checkpoint_file_name(torchvision_weights(name))
    with pytest.raises(ModelError) as info:
        load_segmenter(ModelConfig(name=name, device="cpu", download=False))
    message = str(info.value)
    assert file in message and str(torch_home) in message and "--model selfie" in message

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(ModelError, match="could not be downloaded") as info:
        load_segmenter(ModelConfig(name=name, device="cpu"))
    assert file in str(info.value) and "--model selfie" in str(info.value)


def test_unknown_model_and_class(shared):
    with pytest.raises(ModelError, match="unknown model 'deeplab'"):
        load_segmenter(ModelConfig(name="deeplab"))
    with pytest.raises(ModelError, match="unknown class 'cat' for model selfie"):
        load_segmenter(ModelConfig(name="selfie", classes=("cat",)))
    with pytest.raises(ModelError, match="model file not found"):
        load_segmenter(ModelConfig(name="missing.onnx"))


def test_the_models_listing_matches_torchvision_without_importing_it(monkeypatch, tmp_path):
    """`livebg models` lists the torchvision models from a table (importing torch took 6 s):
    the table must say what the installed torchvision says, and the cache where torch looks."""
    import torch.hub

    from livebg.segment.weights import (
        TORCHVISION_LISTING,
        TORCHVISION_MODELS,
        torch_hub_dir,
        torchvision_weights,
    )

    assert set(TORCHVISION_LISTING) == set(TORCHVISION_MODELS)
    for name, (member, url) in TORCHVISION_LISTING.items():
        weights = torchvision_weights(name)
        assert (str(weights), weights.url) == (member, url), name
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert torch_hub_dir() == Path(torch.hub.get_dir())


def test_livebg_models_does_not_load_torch():
    import subprocess
    import sys

    code = ("import sys; from livebg.cli import main; status = main(['models']); "
            "sys.exit(3 if 'torch' in sys.modules else status)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "rvm" in result.stdout and "Which to pick" in result.stdout
