"""Which model and device a ModelConfig asks for, and building its Segmenter.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from livebg.config import ModelConfig
from livebg.errors import ConfigError, DeviceError, ModelError, say
from livebg.segment.base import Segmenter
from livebg.segment.crop import PersonCropSegmenter
from livebg.segment.onnx_model import OnnxSegmenter, inference_threads
from livebg.segment.rvm import (
    LIVE_SIZES,
    PHOTO_SIZES,
    RvmSegmenter,
    portrait_size,
    working_size,
)
from livebg.segment.torch_model import TorchSegmenter
from livebg.segment.weights import (
    CPU_DEFAULT_MODEL,
    ModelSpec,
    fetch_rvm,
    load_torchvision_model,
    resolve_model,
)

# Short side used for torchvision models on CPU when --infer-size is not given: torchvision's
# own 520 px costs seconds per frame on a laptop CPU; these keep the person well resolved.
CPU_INFER_SIZE = {"deeplabv3_mobilenet_v3_large": 256, "lraspp_mobilenet_v3_large": 256}
CPU_INFER_SIZE_DEFAULT = 384


def _cuda_driver_present() -> bool:
    """Cheap check before importing torch (seconds): on Linux the NVIDIA driver makes
    /dev/nvidiactl (/dev/dxg under WSL); elsewhere assume it may be there."""
    if sys.platform.startswith("linux"):
        return os.path.exists("/dev/nvidiactl") or os.path.exists("/dev/dxg")
    return True


def resolve_device(device: str) -> str:
    if device == "cpu" or (device == "auto" and not _cuda_driver_present()):
        return "cpu"
    import torch

    if device == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError("device cuda was asked for (--device, or the preset's [model] device) but no CUDA "
                              "device is available: use --device cpu or auto")
        return "cuda"
    return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass(frozen=True)
class ModelChoice:
    spec: ModelSpec
    device: str
    reason: str


# What the startup line says the other choice costs, without numbers that go stale with the
# machine and the next speed-up (the measured ratios are in docs/speed.md and docs/quality.md).
FAST_NOTE = ("--fast: the bundled selfie model, several times faster on a CPU (most on small videos, which RVM "
             "enlarges), weaker on groups, full bodies and motion")
RVM_NOTE = "--model rvm: better on groups, full bodies and motion, several times slower on a CPU"
# live on a CPU, RVM at the camera's rate (live/sizing.py) against the selfie model, on the
# labelled clips replayed as a camera (docs/quality.md, "Live"): better on every clip, but each
# frame waits for its own mask, so the latency is about 2.5x the selfie model's and it takes
# about 2.5x the CPU (1.3 of 2 cores), which the call client needs: it is not the default
LIVE_RVM_NOTE = ("--model rvm: sized to the camera's rate and zoomed on the people, a better matte "
                 "(mean IoU .88 against .80 on the labelled clips, better on each; its masks age when the CPU slows), "
                 "about 2.5x the CPU and the latency")
LIVE_RVM_CPU_NOTE = ("on a CPU it is slower than the selfie model (the default live on a CPU) and than the "
                     "camera: the output keeps the camera's rate, with masks from older frames")


# Zoomed live RVM: the whole-frame pass at least every LIVE_FULL_EVERY frames (when [model]
# full_pass_every is left at its default). Such a pass sees the people at the whole frame's
# detail, lower than the box's, so each one costs its frame's matte (.05-.12 IoU on parkour and
# lucia) and resamples the state from box to box; someone coming in suddenly is still found on
# that frame (region.PeopleRegion's sudden check), someone edging in within half a second.
# docs/quality.md, "Live: the whole-frame pass less often".
LIVE_FULL_EVERY = 16


def live_full_every(config: ModelConfig) -> int:
    """The whole-frame pass interval of zoomed live RVM: LIVE_FULL_EVERY unless set."""
    return LIVE_FULL_EVERY if config.full_pass_every == ModelConfig().full_pass_every else config.full_pass_every


def choose_model(config: ModelConfig, *, live: bool = False) -> ModelChoice:
    """Which model and device to use, and why (for the startup line).

    ``auto``: RVM for file jobs and photos wherever its weights are here or can be fetched,
    and live on CUDA; the bundled selfie model live on a CPU (it keeps the camera's rate), with
    ``fast``, and as the fallback when RVM's weights cannot be had (said in one line)."""
    device = resolve_device(config.device)
    if config.name != "auto":
        spec = resolve_model(config.name)
        if live and spec.kind == "rvm" and rvm_device(device) == "cpu" and config.infer_size:
            return ModelChoice(spec, device, f"chosen with --model or the preset; {LIVE_RVM_CPU_NOTE}")
        if live and spec.kind == "rvm" and rvm_device(device) == "cpu":
            return ModelChoice(spec, device, "chosen with --model or the preset; sized to the camera's rate, the "
                                             "selfie model when even the smallest size is too slow")
        return ModelChoice(spec, device, "chosen with --model or the preset")
    selfie = resolve_model(CPU_DEFAULT_MODEL)
    if config.fast:
        return ModelChoice(selfie, device, f"--fast: bundled, works offline; {RVM_NOTE}")
    if live and rvm_device(device) == "cpu":
        return ModelChoice(selfie, device, f"default live on a CPU: keeps the camera's rate; {LIVE_RVM_NOTE}")
    try:
        fetch_rvm(download=config.download, weights_file=config.weights if config.weights.endswith(".onnx") else "",
                  skip_recent_failure=True)
    except ModelError as exc:
        say(f"using the bundled selfie model instead of RVM: {exc}")
        return ModelChoice(selfie, device, f"default while RVM's weights are missing; {RVM_NOTE}")
    where = "on CUDA" if device == "cuda" else "for files and photos"
    return ModelChoice(resolve_model("rvm"), device, f"default {where}; {FAST_NOTE}")


def rvm_device(device: str) -> str:
    """Where RVM runs: ONNX Runtime decides, not torch (the onnxruntime wheel has no CUDA
    provider even on a machine where torch sees a GPU; onnxruntime-gpu has one)."""
    if device != "cuda":
        return "cpu"
    import onnxruntime as ort

    return "cuda" if "CUDAExecutionProvider" in ort.get_available_providers() else "cpu"


def load_rvm(spec: ModelSpec, device: str, config: ModelConfig, reason: str, live: bool = False) -> Segmenter:
    if config.device == "cuda" and rvm_device(device) != "cuda":
        raise DeviceError("RVM on CUDA needs ONNX Runtime's CUDA provider: pip install onnxruntime-gpu, "
                          "or use --device cpu")
    device = rvm_device(device)
    if config.precision == "float16" and device != "cuda":
        raise ConfigError("RVM runs in float16 on CUDA only (it is slower than float32 on a CPU): "
                          "drop --precision float16, or use --device cuda")
    if config.precision == "bfloat16":
        raise ConfigError("RVM runs in float32 (float16 on CUDA): drop --precision bfloat16")
    precision = "float16" if device == "cuda" and config.precision in ("auto", "float16") else "float32"
    try:
        path = fetch_rvm(precision, download=config.download, weights_file=config.weights)
    except ModelError as exc:
        if precision != "float16" or config.precision == "float16":
            raise
        say(f"running RVM in float32: {exc}")  # the float32 file, which auto found, runs on CUDA too
        path = fetch_rvm("float32", download=config.download, weights_file=config.weights)
    source = f"weights {path.name}" if config.weights else f"release file {path.name}"
    # live on a CPU the size follows the camera's rate (live.sizing): the largest of its sizes to start
    sized_live = live and device == "cpu" and not config.infer_size
    # live, the model leaves a core to the compositing thread, unless it is sized to the camera's
    # rate: the loop then waits for each frame's mask, and the model has every core meanwhile
    threads = inference_threads(config.threads) if live and not sized_live else config.threads
    return RvmSegmenter(path, device=device, threads=threads, source=source,
                        model_short=config.infer_size or (LIVE_SIZES[0] if sized_live else working_size(device)),
                        chosen="--infer-size" if config.infer_size else ("live sizing" if sized_live else "auto"),
                        still_reuse=config.still_reuse,
                        people_region=config.crop_pass, full_every=live_full_every(config) if sized_live else config.full_pass_every,
                        zoom=sized_live,
                        portrait_short=0 if config.infer_size or sized_live else portrait_size(device),
                        # photos of groups and small people: more sizes, unless the size was given
                        photo_sizes=() if config.infer_size else PHOTO_SIZES)


def load_segmenter(config: ModelConfig, *, live: bool = False) -> tuple[Segmenter, str]:
    """Build the segmenter a ModelConfig asks for (``live``: for `livebg cam`); returns it and
    the reason it was chosen."""
    config.validate()
    choice = choose_model(config, live=live)
    spec, device = choice.spec, choice.device
    if spec.kind == "rvm":
        return load_rvm(spec, device, config, choice.reason, live=live), choice.reason
    if spec.kind == "onnx":
        # these may come from a preset made for a torchvision model (gpu-quality), so both places are named
        if config.weights:
            raise ConfigError(f"--weights (or [model] weights in the preset) applies to torchvision models only; "
                              f"{spec.name} is an ONNX model: drop it")
        if config.infer_size:
            raise ConfigError(f"--infer-size (or [model] infer_size in the preset) applies to torchvision models only; "
                              f"{spec.name} has a fixed input size: drop it, or set it to 0")
        if config.precision not in ("auto", "float32"):
            raise ConfigError(f"ONNX models run in float32: drop --precision {config.precision} "
                              f"(or [model] precision in the preset)")
        if spec.path is None:
            raise ModelError(f"{spec.name}: an ONNX model with no file: check the model registry")
        onnx_model = OnnxSegmenter(spec.path, name=spec.name, classes=config.classes, device=device,
                                  threads=config.threads, source=spec.source.split(":")[0])
        if config.crop_pass:
            return PersonCropSegmenter(onnx_model, full_pass_every=config.full_pass_every), choice.reason
        return onnx_model, choice.reason
    model, weights = load_torchvision_model(spec.name, config.weights, config.download)
    precision = config.precision if config.precision != "auto" else ("float16" if device == "cuda" else "float32")
    if config.infer_size:
        infer_size = config.infer_size
    elif device == "cuda":
        infer_size = int(weights.transforms().resize_size[0])
    else:
        infer_size = CPU_INFER_SIZE.get(spec.name, CPU_INFER_SIZE_DEFAULT)
    batch = config.batch_size or (8 if device == "cuda" else 1)
    source = f"weights {Path(config.weights).name}" if config.weights else f"{weights}"
    segmenter: Segmenter = TorchSegmenter(model, name=spec.name, categories=weights.meta["categories"], classes=config.classes,
                               device=device, precision=precision, infer_size=infer_size, batch_size=batch, source=source)
    # No crop pass here: a torchvision model's resolution is set with infer_size instead.
    return segmenter, choice.reason
