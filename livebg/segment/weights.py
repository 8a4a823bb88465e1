"""Where model weights come from: the bundled ONNX models, ONNX files, torchvision's cache.

This is the only module that may download anything, and it does so only through
torchvision's own loader (into torchvision's cache under ``TORCH_HOME``) when a torchvision
model is asked for, its weights are not cached and downloads are allowed.
"""
from __future__ import annotations

import sys
import urllib.error
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from livebg.errors import ModelError, say

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "models"

# name -> (file, description); bundled with the package, Apache-2.0 (see models/NOTICE)
BUNDLED_MODELS = {
    "selfie": ("mediapipe_selfie_256x256.onnx", "MediaPipe selfie segmentation, general, 256x256"),
    "selfie_landscape": ("mediapipe_selfie_landscape_144x256.onnx", "MediaPipe selfie segmentation, landscape, 144x256"),
}

TORCHVISION_MODELS = (
    "deeplabv3_resnet101",
    "deeplabv3_resnet50",
    "deeplabv3_mobilenet_v3_large",
    "lraspp_mobilenet_v3_large",
    "fcn_resnet50",
    "fcn_resnet101",
)

CPU_DEFAULT_MODEL = "selfie"
CUDA_DEFAULT_MODEL = "deeplabv3_resnet101"

OFFLINE_HINT = "--model selfie (bundled, works offline)"


@dataclass(frozen=True)
class ModelSpec:
    """What a model name resolves to, before anything is loaded."""

    name: str
    kind: str  # "onnx" or "torchvision"
    path: Path | None  # the ONNX file, or the torchvision checkpoint in the cache
    source: str  # where the weights come from, for `livebg models` and the startup line


def torch_hub_checkpoints() -> Path:
    """torchvision's checkpoint cache: $TORCH_HOME/hub/checkpoints (torch.hub.get_dir())."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def torchvision_weights(name: str):
    """The DEFAULT weights enum member of a torchvision segmentation model."""
    from torchvision.models import get_model_weights

    return get_model_weights(name).DEFAULT


def checkpoint_file_name(weights) -> str:
    return Path(urlparse(weights.url).path).name


def resolve_model(name: str) -> ModelSpec:
    """Turn a --model value (a name or an .onnx path) into a ModelSpec; unknown names fail."""
    if name in BUNDLED_MODELS:
        file, desc = BUNDLED_MODELS[name]
        return ModelSpec(name, "onnx", BUNDLED_DIR / file, f"bundled: {desc}")
    if name in TORCHVISION_MODELS:
        weights = torchvision_weights(name)
        path = torch_hub_checkpoints() / checkpoint_file_name(weights)
        return ModelSpec(name, "torchvision", path, f"torchvision {weights}: {weights.url}")
    if name.lower().endswith(".onnx"):
        path = Path(name).expanduser()
        if not path.is_file():
            raise ModelError(f"model file not found: {name} — check the path, or run `livebg models` to list the models")
        return ModelSpec(path.stem, "onnx", path, f"ONNX file {path}")
    known = ", ".join([*BUNDLED_MODELS, *TORCHVISION_MODELS])
    raise ModelError(f"unknown model {name!r}: use one of {known}, or a path to an .onnx file")


def load_torchvision_model(name: str, weights_file: str = "", download: bool = True):
    """Build a torchvision segmentation model with trained weights; returns (model, weights enum).

    Weights come from ``weights_file`` when given, else from torchvision's cache, which
    torchvision fills by downloading when allowed.
    """
    from torchvision.models import get_model_builder

    builder = get_model_builder(name)
    weights = torchvision_weights(name)
    if weights_file:
        return _load_from_file(name, builder, weights, Path(weights_file).expanduser()), weights
    cached = torch_hub_checkpoints() / checkpoint_file_name(weights)
    missing = (
        f"weights for {name} are not in torchvision's cache ({cached})"
    )
    fix = f"download {weights.url} there, pass --weights FILE, or use {OFFLINE_HINT}"
    if not cached.is_file() and not download:
        raise ModelError(f"{missing} and downloads are off: {fix}")
    if not cached.is_file():
        say(f"downloading {checkpoint_file_name(weights)} into {cached.parent}")
    try:
        model = builder(weights=weights, progress=sys.stderr.isatty())
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ModelError(f"{missing} and could not be downloaded ({reason}): {fix}") from None
    except RuntimeError as exc:  # a corrupt or foreign file in the cache
        raise ModelError(f"cached weights {cached} do not load ({first_line(exc)}): delete the file and retry, or use {OFFLINE_HINT}") from None
    return model, weights


def _load_from_file(name: str, builder, weights, path: Path):
    import torch

    if not path.is_file():
        raise ModelError(f"weights file not found: {path} — check the --weights path")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and format errors all mean "not a checkpoint"
        raise ModelError(f"weights file {path} is not a PyTorch checkpoint ({first_line(exc)}): pass a state_dict saved with torch.save") from None
    for key in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ModelError(f"weights file {path} does not hold a state_dict: save one with torch.save(model.state_dict(), path)")
    kwargs = {"weights": None, "weights_backbone": None, "num_classes": len(weights.meta["categories"])}
    if not name.startswith("lraspp"):
        kwargs["aux_loss"] = any(k.startswith("aux_classifier.") for k in state)
    model = builder(**kwargs)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelError(f"weights file {path} does not match model {name} ({first_line(exc, 160)}): pass the checkpoint of {name}") from None
    return model


def first_line(exc: BaseException, limit: int = 200) -> str:
    """An exception's message on one line, cut to ``limit`` characters (for error messages)."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_models() -> list[dict[str, str]]:
    """One row per known model for `livebg models`: name, kind, source, where, available."""
    rows = []
    for name in BUNDLED_MODELS:
        spec = resolve_model(name)
        rows.append({"name": name, "kind": "onnx", "source": spec.source, "where": str(spec.path),
                     "available": "yes" if spec.path and spec.path.is_file() else "no (package incomplete)"})
    for name in TORCHVISION_MODELS:
        spec = resolve_model(name)
        ok = spec.path is not None and spec.path.is_file()
        rows.append({"name": name, "kind": "torchvision", "source": spec.source, "where": str(spec.path),
                     "available": "yes (cached)" if ok else "no: downloaded on first use"})
    return rows
