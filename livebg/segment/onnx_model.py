"""ONNX models run by ONNX Runtime (the bundled MediaPipe selfie models, TF DeepLabV3 VOC
exports); the layout, scaling and output kind are read off the file.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from livebg.errors import ModelError, first_line, say
from livebg.frames.yuv import downscale
from livebg.segment.base import VOC_CATEGORIES, Prediction, Segmenter, class_indices


def _read_onnx(path: str | Path):
    import onnx

    try:
        model = onnx.load_model(str(path))
    except Exception as exc:  # protobuf's DecodeError, or a missing external-data file
        reason = first_line(exc, 160) or type(exc).__name__
        raise ModelError(f"{path} is not a readable ONNX model ({reason}): check the file, or download it again") from None
    if not model.graph.input or not model.graph.output:
        raise ModelError(f"{path} is not a readable ONNX model (no graph inputs or outputs): check the file, or download it again")
    return model


def model_input(model):
    """The graph's image input: its first input that is not a stored value (older exports list
    their weights among the inputs)."""
    stored = {t.name for t in model.graph.initializer}
    return next((i for i in model.graph.input if i.name not in stored), None)


def _inferred_dims(model, name: str) -> list[int | None]:
    """An output's dims by ONNX shape inference, for files that do not state them."""
    from onnx import shape_inference

    from livebg.segment.onnx_rewrites import dims

    try:
        inferred = shape_inference.infer_shapes(model)
    except Exception:  # inference gives up on some graphs; the layout check then says so
        return []
    return next((dims(o) for o in inferred.graph.output if o.name == name), [])


def _note_unrewritten(path, exc: Exception) -> None:
    say(f"{Path(path).name} runs without graph rewrites ({type(exc).__name__}: {first_line(exc, 120)})")


def _rewrite(model, path, input_name: str, scale: float, offset: float):
    """onnx_rewrites.optimize on ``model`` in place; None when it fails (the caller then runs the
    model as exported, from its own copy)."""
    from livebg.segment import onnx_rewrites

    try:
        return onnx_rewrites.optimize(model, input_name=input_name, scale=scale, offset=offset)
    except Exception as exc:  # a model shape these rewrites did not foresee
        _note_unrewritten(path, exc)
        return None


def inference_threads(requested: int) -> int:
    """CPU threads for the model: ``requested`` up to the machine's cores (more only slows it,
    and far more slows it to a crawl), or 0 for one per core less one, left to the pipeline."""
    cores = os.cpu_count() or 2
    if requested > cores:
        say(f"--threads {requested} is more than the {cores} cores here: using {cores}")
        return cores
    return requested or max(1, cores - 1)


def session_setup(threads: int, device: str, *, spinning: bool = True):
    """ONNX Runtime's session options (``threads`` for one operator, operators in turn, every
    graph optimisation; ``spinning`` False: its threads sleep between operators instead of
    busy-waiting) and providers (CUDA first when asked for and installed)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    providers = ["CPUExecutionProvider"]
    if device == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    return options, providers


class OnnxSegmenter(Segmenter):
    """An ONNX model run by ONNX Runtime; its layout, scaling and output kind are read off the file.

    Kinds understood: NHWC RGB input in [0, 1] with a 1-channel probability (MediaPipe selfie) or
    2-channel logits (MediaPipe landscape); NCHW RGB input in [-1, 1] with 21 VOC logits
    (TensorFlow DeepLabV3 exports).
    """

    def __init__(self, path: str | Path, *, name: str, classes: Sequence[str] = ("person",),
                 device: str = "cpu", threads: int = 0, source: str = "", rewrite: bool = True):
        import onnxruntime as ort

        self.name = name
        self.source = source
        self.precision = "float32"
        self.batch_size = 1
        model = _read_onnx(path)
        graph_input = model_input(model)
        if graph_input is None:
            raise ModelError(f"{path} has no image input (every input has a stored value): export the model with one")
        output = model.graph.output[0]
        from livebg.segment.onnx_rewrites import dims

        out_dims = dims(output) or _inferred_dims(model, output.name)
        self._read_layout(path, dims(graph_input), out_dims)
        self.input_name, self.output_name = graph_input.name, output.name
        options, providers = session_setup(inference_threads(threads), device)
        exported = model.SerializeToString()
        # uint8 pixels in, the scaling and ONNX Runtime's slow spots rewritten (segment/onnx_rewrites/);
        # a model the rewrites fail on, or break, runs as exported
        self.rewrites = _rewrite(model, path, self.input_name, self.scale, self.offset) if rewrite else None
        self.indices = class_indices(self.categories, classes, name)
        self.classes = tuple(classes)
        # Each session runs once on a blank input here: ONNX Runtime sets up its buffers on the
        # first run (several calls' time), which belongs to startup, not to the first frame; and
        # a rewritten graph that loads but cannot run falls back to the file as exported.
        blank = np.zeros((self.height, self.width, 3), np.uint8)
        self.session: Any = None
        if self.rewrites is not None:
            try:
                self.session = ort.InferenceSession(model.SerializeToString(), sess_options=options, providers=providers)
                self.predict([blank])
            except Exception as exc:
                _note_unrewritten(path, exc)
                self.session, self.rewrites = None, None
        if self.session is None:
            try:
                self.session = ort.InferenceSession(exported, sess_options=options, providers=providers)
            except Exception as exc:  # ORT raises its own exception types for unreadable files
                raise ModelError(f"ONNX Runtime cannot load {path} ({first_line(exc, 160)}): check the file, or export the model again") from None
            try:
                self.predict([blank])
            except Exception as exc:
                raise ModelError(f"ONNX Runtime cannot run {path} ({first_line(exc, 160)}): check the file, or export the model again") from None
        self.device = "cuda" if self.session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"

    def _read_layout(self, path, shape: list[int | None], out_shape: list[int | None]) -> None:
        if len(shape) != 4 or len(out_shape) != 4:
            raise ModelError(f"{path}: expected a 4-D image input and output, got {shape} -> {out_shape}: "
                             "use a segmentation model with a 1xHxWx3 or 1x3xHxW image input")
        if shape[3] == 3:
            self.layout, (height, width), channels = "NHWC", shape[1:3], out_shape[3]
            self.scale, self.offset = 1 / 255.0, 0.0
        elif shape[1] == 3:
            self.layout, (height, width), channels = "NCHW", shape[2:4], out_shape[1]
            self.scale, self.offset = 1 / 127.5, -1.0
        else:
            raise ModelError(f"{path}: input {shape} is neither NHWC nor NCHW RGB: "
                             "use a segmentation model with a 1xHxWx3 or 1x3xHxW image input")
        if height is None or width is None:
            raise ModelError(f"{path}: input {shape} has no fixed size; export the model with a fixed input size")
        self.height, self.width = int(height), int(width)
        self.fixed_batch = shape[0] == 1
        if channels == 1:
            self.categories: tuple[str, ...] = ("background", "person")
            self.output_kind = "probability"
        elif channels == 2:
            self.categories, self.output_kind = ("background", "person"), "logits"
        elif channels == len(VOC_CATEGORIES):
            self.categories, self.output_kind = VOC_CATEGORIES, "logits"
        else:
            raise ModelError(f"{path}: output {out_shape} has {channels} channels; expected 1, 2 or 21 (VOC)")

    reads_planes = True  # frames may be I420Image: only downscale() reads them

    @property
    def infer_size(self) -> int:  # type: ignore[override]
        return min(self.height, self.width)

    @property
    def input_size(self) -> tuple[int, int]:
        return int(self.width), int(self.height)

    def close(self) -> None:
        self.session = None

    def describe(self) -> str:
        return (f"model {self.name} (ONNX Runtime, {self.source}) on {self.device}, float32, "
                f"inference {self.width}x{self.height}, classes {','.join(self.classes)}")

    def _input(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        small = np.stack([downscale(f, (self.width, self.height)) for f in frames])
        if self.layout == "NCHW":
            small = np.ascontiguousarray(small.transpose(0, 3, 1, 2))
        if self.rewrites is not None:  # the graph scales uint8 pixels itself
            return small
        x = small.astype(np.float32)
        x *= self.scale
        if self.offset:
            x += self.offset
        return x

    def _probabilities(self, out: np.ndarray) -> np.ndarray:
        if self.layout == "NCHW":
            out = out.transpose(0, 2, 3, 1)
        if self.output_kind == "probability":
            p = out[..., 0]
            if p.min() < 0 or p.max() > 1:  # logits rather than probabilities
                p = 1 / (1 + np.exp(-p))
            return p if self.indices == [1] else 1 - p
        out = out - out.max(axis=-1, keepdims=True)
        e = np.exp(out)
        return e[..., self.indices].sum(axis=-1) / e.sum(axis=-1)

    def predict(self, frames: Sequence[np.ndarray], *, cuts: Sequence[bool] | None = None) -> list[Prediction]:
        if not frames:
            return []
        x = self._input(frames)
        if self.fixed_batch:
            outs = [self.session.run([self.output_name], {self.input_name: x[i:i + 1]})[0] for i in range(len(x))]
            out = np.concatenate(outs)
        else:
            out = self.session.run([self.output_name], {self.input_name: x})[0]
        probs = np.clip(self._probabilities(out), 0, 1).astype(np.float32, copy=False)
        return [Prediction(p) for p in probs]
