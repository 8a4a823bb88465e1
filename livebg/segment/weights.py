"""Where model weights come from: the bundled ONNX models, ONNX files, torchvision's cache,
and livebg's own cache for Robust Video Matting.

This is the only module that may download anything: torchvision's weights through
torchvision's own loader (into its cache under ``TORCH_HOME``), and RVM's official release
file into ``$LIVEBG_CACHE`` (default ``~/.cache/livebg``), checked against its sha256. Both
only when the model is asked for (or chosen by ``auto``), missing, and downloads are allowed.
"""
from __future__ import annotations

import hashlib
import os
import sys
import time
import urllib.error
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from livebg.errors import ModelError, first_line, say

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

# Robust Video Matting: not bundled (its code is GPL-3.0, its authors state no licence for the
# weights); the official release file is downloaded on first use.
RVM_RELEASE = "https://github.com/PeterL1n/RobustVideoMatting/releases/download/v1.0.0"
RVM_FILES = {  # precision -> (file name, sha256; None: not recorded, the file is checked by loading it)
    "float32": ("rvm_mobilenetv3_fp32.onnx", "88d4531297118f595bf2fd60f6f566aec2e559393802d1f436c380f0cbbd2828"),
    "float16": ("rvm_mobilenetv3_fp16.onnx", None),
}
RVM_TERMS = ("Robust Video Matting by Lin et al., official v1.0.0 release; its code is GPL-3.0 and its "
             "authors state no licence for the weights: check that your use is allowed")
RETRY_AFTER_SECONDS = 24 * 3600  # a failed download is not retried on every run

CPU_DEFAULT_MODEL = "selfie"

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


def livebg_cache() -> Path:
    """livebg's own download cache: $LIVEBG_CACHE, else $XDG_CACHE_HOME/livebg or ~/.cache/livebg."""
    if os.environ.get("LIVEBG_CACHE"):
        return Path(os.environ["LIVEBG_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "livebg"


def offline() -> bool:
    """LIVEBG_OFFLINE=1: never download (as --no-download, for every run in this environment)."""
    return os.environ.get("LIVEBG_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def rvm_file(precision: str = "float32") -> Path:
    return livebg_cache() / RVM_FILES[precision][0]


# sha256 of the files read in this process, by (path, size, mtime): ``auto`` checks RVM's file
# when it chooses the model and the loader checks it again; it is read once.
_HASHED: dict[tuple[str, int, int], str] = {}


def sha256_of(path: Path) -> str:
    """The file's sha256, read once per process while its size and modification time stay."""
    stat = os.stat(path)
    key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHED:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _HASHED[key] = digest.hexdigest()
    return _HASHED[key]


def fetch_rvm(precision: str = "float32", *, download: bool = True, weights_file: str = "",
              skip_recent_failure: bool = False) -> Path:
    """The RVM ONNX file: ``weights_file`` when given, else the cached release file, downloaded
    (and checked against its sha256) when missing and allowed. ModelError says what to do.

    ``skip_recent_failure`` (``auto``, which has a fallback): a download that failed less than
    RETRY_AFTER_SECONDS ago is not tried again. RVM asked for by name is always tried."""
    if weights_file:
        path = Path(weights_file).expanduser()
        if not path.is_file():
            raise ModelError(f"weights file not found: {weights_file} — check the --weights path")
        return path
    file, expected = RVM_FILES[precision]
    cached = livebg_cache() / file
    url = f"{RVM_RELEASE}/{file}"
    fix = f"download {url} into {cached.parent}, pass --weights FILE, or use {OFFLINE_HINT}"
    try:
        if cached.is_file():
            if expected and sha256_of(cached) != expected:
                raise ModelError(f"{cached} is not the official RVM release file (sha256 differs): delete it and run again")
            return cached
    except OSError as exc:
        raise ModelError(f"cannot read {cached} ({first_line(exc, 120)}): check livebg's cache (LIVEBG_CACHE)") from None
    if not download or offline():
        off = "LIVEBG_OFFLINE is set" if offline() else "downloads are off"
        raise ModelError(f"RVM's weights are not in livebg's cache ({cached}) and {off}: {fix}")
    failed = cached.with_name(cached.name + ".failed")
    if skip_recent_failure and failed.is_file() and time.time() - failed.stat().st_mtime < RETRY_AFTER_SECONDS:
        raise ModelError(f"RVM's weights could not be downloaded earlier ({failed.read_text().strip()}); "
                         f"livebg retries in a day (--model rvm tries again now), or: {fix}")
    say(f"downloading {file} from {RVM_RELEASE} into {cached.parent} ({RVM_TERMS})")
    try:
        download_file(url, cached, expected)
    except ModelError as exc:
        raise ModelError(f"{exc}: try again later, or {fix}") from None
    except OSError as exc:  # requests' errors are OSErrors too
        reason = network_reason(exc)
        try:
            failed.write_text(f"{reason}\n")
        except OSError:
            pass
        raise ModelError(f"RVM's weights could not be downloaded ({reason}): {fix}") from None
    failed.unlink(missing_ok=True)
    return cached


def download_file(url: str, dest: Path, sha256: str | None) -> None:
    """``url`` into ``dest`` with pooch: streamed to a temporary file beside it, checked against
    ``sha256`` (None: not checked), renamed only then, with a progress bar on a terminal.
    ModelError for a file that is not the one recorded; OSError when the network fails."""
    import pooch
    import requests

    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # livebg says what it downloads, once
    try:
        pooch.retrieve(url, known_hash=f"sha256:{sha256}" if sha256 else None, fname=dest.name, path=dest.parent,
                       downloader=pooch.HTTPDownloader(progressbar=sys.stderr.isatty(), timeout=30))
    except ValueError:  # pooch: the hash differs (the temporary file is gone)
        raise ModelError(f"the download of {url} does not match its recorded sha256") from None
    except requests.exceptions.ChunkedEncodingError:  # the connection ended before Content-Length
        raise ModelError(f"the download of {url} was cut short") from None
    finally:
        logger.setLevel(level)
    os.chmod(dest, 0o644)  # the temporary file was private; the cache may be shared


def network_reason(exc: OSError) -> str:
    """Why a download failed, short: "HTTP 404 Not Found", "Failed to resolve 'github.com'
    ([Errno -2] Name or service not known)", rather than requests' whole retry story."""
    import requests

    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} {exc.response.reason}"
    if not isinstance(exc, requests.exceptions.RequestException) or not exc.args:
        return first_line(exc, 120)  # the disk (the cache folder), not the network
    text = str(getattr(exc.args[0], "reason", None) or exc.args[0])  # urllib3's MaxRetryError: the connection's own error
    if text.startswith(("HTTPConnection(", "HTTPSConnection(")):  # urllib3 names the connection first
        text = text.partition("): ")[2] or text
    return first_line(Exception(text), 120)


def resolve_model(name: str) -> ModelSpec:
    """Turn a --model value (a name or an .onnx path) into a ModelSpec; unknown names fail."""
    if name == "rvm":
        return ModelSpec("rvm", "rvm", rvm_file(), f"{RVM_TERMS}: {RVM_RELEASE}/{RVM_FILES['float32'][0]}")
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
    known = ", ".join(["rvm", *BUNDLED_MODELS, *TORCHVISION_MODELS])
    raise ModelError(f"unknown model {name!r}: use one of {known}, or a path to an .onnx file")


def load_torchvision_model(name: str, weights_file: str = "", download: bool = True):
    """Build a torchvision segmentation model with trained weights; returns (model, weights enum).

    Weights come from ``weights_file`` when given, else from torchvision's cache, which
    torchvision fills by downloading when allowed.
    """
    from torchvision.models import get_model_builder

    builder = get_model_builder(name)
    weights = torchvision_weights(name)
    download = download and not offline()
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


# What `livebg models` shows for the torchvision models without importing torch (seconds):
# name -> (weights enum member, download URL). tests/segment/test_weights.py checks that this
# is what the installed torchvision says.
TORCHVISION_LISTING = {
    "deeplabv3_resnet101": ("DeepLabV3_ResNet101_Weights.COCO_WITH_VOC_LABELS_V1",
                            "https://download.pytorch.org/models/deeplabv3_resnet101_coco-586e9e4e.pth"),
    "deeplabv3_resnet50": ("DeepLabV3_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1",
                           "https://download.pytorch.org/models/deeplabv3_resnet50_coco-cd0a2569.pth"),
    "deeplabv3_mobilenet_v3_large": ("DeepLabV3_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1",
                                     "https://download.pytorch.org/models/deeplabv3_mobilenet_v3_large-fc3c493d.pth"),
    "lraspp_mobilenet_v3_large": ("LRASPP_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1",
                                  "https://download.pytorch.org/models/lraspp_mobilenet_v3_large-d234d4ea.pth"),
    "fcn_resnet50": ("FCN_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1",
                     "https://download.pytorch.org/models/fcn_resnet50_coco-1167a1af.pth"),
    "fcn_resnet101": ("FCN_ResNet101_Weights.COCO_WITH_VOC_LABELS_V1",
                      "https://download.pytorch.org/models/fcn_resnet101_coco-7ecb50ca.pth"),
}


def torch_hub_dir() -> Path:
    """torch.hub.get_dir() without importing torch: $TORCH_HOME/hub, else $XDG_CACHE_HOME/torch/hub."""
    home = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "torch")
    return Path(home).expanduser() / "hub"


def describe_models() -> list[dict[str, str]]:
    """One row per known model for `livebg models`: name, kind, source, where, available."""
    rows = []
    spec = resolve_model("rvm")
    cached = spec.path is not None and spec.path.is_file()
    rows.append({"name": "rvm", "kind": "onnx (RVM)", "source": spec.source, "where": str(spec.path),
                 "available": "yes (cached)" if cached else "no: downloaded on first use"})
    for name in BUNDLED_MODELS:
        spec = resolve_model(name)
        rows.append({"name": name, "kind": "onnx", "source": spec.source, "where": str(spec.path),
                     "available": "yes" if spec.path and spec.path.is_file() else "no (package incomplete)"})
    for name in TORCHVISION_MODELS:
        member, url = TORCHVISION_LISTING[name]
        path = torch_hub_dir() / "checkpoints" / Path(urlparse(url).path).name
        rows.append({"name": name, "kind": "torchvision", "source": f"torchvision {member}: {url}", "where": str(path),
                     "available": "yes (cached)" if path.is_file() else "no: downloaded on first use"})
    return rows
