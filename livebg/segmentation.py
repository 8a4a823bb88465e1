"""Segmentation: frames in, person probability maps out (soft alpha at inference resolution).

Two back ends behind one interface: torchvision's DeepLabV3/LRASPP/FCN family (batched;
float16 + channels_last + pinned non-blocking copies on CUDA) and ONNX models through ONNX
Runtime (the bundled MediaPipe selfie models, TF DeepLabV3 VOC exports). The probability is
the softmax mass of the chosen classes, never an argmax mask.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

import cv2
import numpy as np

from .config import ModelConfig
from .errors import ConfigError, DeviceError, ModelError
from . import resize
from .i420 import crop_planes, frame_size, i420_planes
from .weights import CPU_DEFAULT_MODEL, CUDA_DEFAULT_MODEL, ModelSpec, first_line, load_torchvision_model, resolve_model

# PASCAL VOC labels in training order; torchvision's DeepLabV3 weights use the same list.
VOC_CATEGORIES = (
    "__background__", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
    "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
    "sheep", "sofa", "train", "tvmonitor",
)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Short side used for torchvision models on CPU when --infer-size is not given: torchvision's
# own 520 px costs seconds per frame on a laptop CPU; these keep the person well resolved.
CPU_INFER_SIZE = {"deeplabv3_mobilenet_v3_large": 256, "lraspp_mobilenet_v3_large": 256}
CPU_INFER_SIZE_DEFAULT = 384


class Segmenter(Protocol):
    name: str
    device: str
    precision: str
    batch_size: int

    def describe(self) -> str:
        """One line: model, back end, device, precision, inference size."""

    def predict(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        """RGB uint8 HxWx3 frames (all the same size) -> float32 probability maps in [0, 1]."""


def class_indices(categories: Sequence[str], classes: Sequence[str], model: str) -> list[int]:
    """Indices of the chosen class names in the model's category list; unknown names fail."""
    lowered = [c.lower() for c in categories]
    indices = []
    for name in classes:
        key = name.strip().lower()
        if key not in lowered:
            shown = ", ".join(c for c in categories if not c.startswith("__"))
            raise ModelError(f"unknown class {name!r} for model {model}: choose from {shown}")
        indices.append(lowered.index(key))
    return indices


def short_side_size(height: int, width: int, short: int) -> tuple[int, int]:
    """(h, w) with the short side scaled to ``short`` and the aspect ratio kept."""
    scale = short / min(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


class I420Image:
    """A yuv420p frame, or a rectangle of one, where the segmenters take an RGB frame: it has the
    RGB frame's ``shape``, crops like it (``image[y0:y1, x0:x1]``) and ``downscale`` makes the
    model's RGB input from its planes at the model's size. A file job's frames never become
    RGB at full size (0.1 ms of conversion and 1.5 MB a frame at 960x540), and the resize reads
    half the bytes."""

    def __init__(self, yuv: np.ndarray, box: tuple[int, int, int, int] | None = None):
        self.yuv = yuv
        h, w = frame_size(yuv)
        self.box = box or (0, 0, w, h)

    @property
    def shape(self) -> tuple[int, int, int]:
        x0, y0, x1, y1 = self.box
        return y1 - y0, x1 - x0, 3

    def __getitem__(self, key: tuple[slice, slice]) -> "I420Image":
        rows, cols = key
        x0, y0, x1, y1 = self.box
        top, bottom, _ = rows.indices(y1 - y0)
        left, right, _ = cols.indices(x1 - x0)
        return I420Image(self.yuv, (x0 + left, y0 + top, x0 + right, y0 + bottom))

    def resized(self, size: tuple[int, int]) -> np.ndarray:
        """RGB uint8 of the rectangle at ``size`` (w, h): each plane resized, then OpenCV's I420
        conversion at that size (the chroma samples covering the rectangle: up to one luma pixel
        more on a side with an odd edge)."""
        w, h = size
        even = (w + w % 2, h + h % 2)  # the I420 layout needs even sizes
        out = np.empty((even[1] * 3 // 2, even[0]), np.uint8)
        for part, dst in zip(crop_planes(self.yuv, self.box), i420_planes(out)):
            dst[:] = downscale(part, (dst.shape[1], dst.shape[0]))
        rgb = cv2.cvtColor(out, cv2.COLOR_YUV2RGB_I420)
        return rgb if even == size else cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR)


def downscale(image: np.ndarray | I420Image, size: tuple[int, int]) -> np.ndarray:
    """``resize.downscale`` (integer-factor area step, then bilinear), for RGB frames and for
    I420Image planes alike."""
    if isinstance(image, I420Image):
        return image.resized(size)
    return resize.downscale(image, size)


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


class TorchSegmenter:
    """A torchvision segmentation model; batched, reduced precision and channels_last on request."""

    def __init__(self, model, *, name: str, categories: Sequence[str], classes: Sequence[str],
                 device: str = "cpu", precision: str = "float32", infer_size: int = 520,
                 batch_size: int = 1, channels_last: bool | None = None, source: str = ""):
        import torch

        self.name = name
        self.device = device
        self.precision = precision
        self.batch_size = batch_size
        self.infer_size = infer_size
        self.source = source
        self.indices = class_indices(categories, classes, name)
        self.classes = tuple(classes)
        self._dtype = getattr(torch, precision)
        self._channels_last = (device == "cuda") if channels_last is None else channels_last
        self._torch = torch
        memory_format = torch.channels_last if self._channels_last else torch.contiguous_format
        self.model = model.eval().to(device=device, dtype=self._dtype, memory_format=memory_format)
        shape = (1, 3, 1, 1)
        self._mean = torch.tensor(IMAGENET_MEAN, device=device).view(shape) * 255
        self._inv_std = 1 / (torch.tensor(IMAGENET_STD, device=device).view(shape) * 255)

    def describe(self) -> str:
        layout = ", channels_last" if self._channels_last else ""
        return (f"model {self.name} (torchvision, {self.source}) on {self.device}, {self.precision}{layout}, "
                f"inference {self.infer_size} px short side, batch {self.batch_size}, classes {','.join(self.classes)}")

    def prepare(self, frames: Sequence[np.ndarray]):
        """Resize on the CPU in uint8 and move to the device; 4x fewer bytes than float."""
        torch = self._torch
        h, w = short_side_size(*frames[0].shape[:2], self.infer_size)
        small = np.stack([downscale(f, (w, h)) for f in frames])
        batch = torch.from_numpy(small)
        if self.device == "cuda":
            batch = batch.pin_memory().to(self.device, non_blocking=True)
        return batch

    def predict(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        torch = self._torch
        if not frames:
            return []
        batch = self.prepare(frames)
        with torch.inference_mode():
            x = batch.permute(0, 3, 1, 2).float()
            x = ((x - self._mean) * self._inv_std).to(self._dtype)
            if self._channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            logits = self.model(x)["out"].float()  # softmax in float32 for every precision
            probs = logits.softmax(dim=1)[:, self.indices].sum(dim=1).clamp_(0, 1)
            probs = probs.cpu().numpy()
        return [p for p in probs]


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

    from .graph import dims

    try:
        inferred = shape_inference.infer_shapes(model)
    except Exception:  # inference gives up on some graphs; the layout check then says so
        return []
    return next((dims(o) for o in inferred.graph.output if o.name == name), [])


def _note_unrewritten(path, exc: Exception) -> None:
    print(f"livebg: {Path(path).name} runs without graph rewrites ({type(exc).__name__}: "
          f"{first_line(exc, 120)})", file=sys.stderr)


def _rewrite(model, path, input_name: str, scale: float, offset: float):
    """livebg.graph.optimize on ``model`` in place; None when it fails (the caller then runs the
    model as exported, from its own copy)."""
    from . import graph

    try:
        return graph.optimize(model, input_name=input_name, scale=scale, offset=offset)
    except Exception as exc:  # a model shape these rewrites did not foresee
        _note_unrewritten(path, exc)
        return None


def inference_threads(requested: int) -> int:
    """CPU threads for the model: ``requested`` up to the machine's cores (more only slows it:
    1000 ran at 0.4 fps here), or 0 for one per core less one, left to the pipeline."""
    cores = os.cpu_count() or 2
    if requested > cores:
        print(f"livebg: --threads {requested} is more than the {cores} cores here: using {cores}", file=sys.stderr)
        return cores
    return requested or max(1, cores - 1)


class OnnxSegmenter:
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
        self.reads_planes = True  # frames may be I420Image: only downscale() reads them
        model = _read_onnx(path)
        graph_input = model_input(model)
        if graph_input is None:
            raise ModelError(f"{path} has no image input (every input has a stored value): export the model with one")
        output = model.graph.output[0]
        from .graph import dims

        out_dims = dims(output) or _inferred_dims(model, output.name)
        self._read_layout(path, dims(graph_input), out_dims)
        self.input_name, self.output_name = graph_input.name, output.name
        options = ort.SessionOptions()
        options.intra_op_num_threads = inference_threads(threads)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        providers = ["CPUExecutionProvider"]
        if device == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        exported = model.SerializeToString()
        # uint8 pixels in, the scaling and ONNX Runtime's slow spots rewritten (livebg/graph.py);
        # a model the rewrites fail on, or break, runs as exported
        self.rewrites = _rewrite(model, path, self.input_name, self.scale, self.offset) if rewrite else None
        self.indices = class_indices(self.categories, classes, name)
        self.classes = tuple(classes)
        # Each session runs once on a blank input here: ONNX Runtime sets up its buffers on the
        # first run (2-3x a call's time), which belongs to startup, not to the first frame; and
        # a rewritten graph that loads but cannot run falls back to the file as exported.
        blank = np.zeros((self.height, self.width, 3), np.uint8)
        self.session = None
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
            self.layout, (self.height, self.width), channels = "NHWC", shape[1:3], out_shape[3]
            self.scale, self.offset = 1 / 255.0, 0.0
        elif shape[1] == 3:
            self.layout, (self.height, self.width), channels = "NCHW", shape[2:4], out_shape[1]
            self.scale, self.offset = 1 / 127.5, -1.0
        else:
            raise ModelError(f"{path}: input {shape} is neither NHWC nor NCHW RGB: "
                             "use a segmentation model with a 1xHxWx3 or 1x3xHxW image input")
        if self.height is None or self.width is None:
            raise ModelError(f"{path}: input {shape} has no fixed size; export the model with a fixed input size")
        self.fixed_batch = shape[0] == 1
        if channels == 1:
            self.categories, self.output_kind = ("background", "person"), "probability"
        elif channels == 2:
            self.categories, self.output_kind = ("background", "person"), "logits"
        elif channels == len(VOC_CATEGORIES):
            self.categories, self.output_kind = VOC_CATEGORIES, "logits"
        else:
            raise ModelError(f"{path}: output {out_shape} has {channels} channels; expected 1, 2 or 21 (VOC)")

    @property
    def infer_size(self) -> int:
        return min(self.height, self.width)

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

    def predict(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        if not frames:
            return []
        x = self._input(frames)
        if self.fixed_batch:
            outs = [self.session.run([self.output_name], {self.input_name: x[i:i + 1]})[0] for i in range(len(x))]
            out = np.concatenate(outs)
        else:
            out = self.session.run([self.output_name], {self.input_name: x})[0]
        probs = np.clip(self._probabilities(out), 0, 1).astype(np.float32, copy=False)
        return [p for p in probs]


class PersonCropSegmenter:
    """A second model pass on a crop around the person, pasted into the full-frame probability.

    A model with a small fixed input (256x256 for the selfie model) sees a person who fills a
    fifth of the frame with only a few dozen pixels and misses feet and hands. This wrapper runs
    the wrapped segmenter on the whole frame, takes the box of its ``prob > threshold`` pixels,
    pads it by ``margin`` (so limbs the full pass lost are inside), widens it (or heightens it)
    until its aspect is within ``max_stretch`` of the model's, and runs the model again on that
    crop, resized to the model's input. A standing person is about twice as tall as wide: a
    square crop would spend half the model's columns on the backdrop, a crop stretched up to 2x
    gives them to the person's outline.
    The output is a map at ``working_short_side`` px with the frame's aspect: the crop pass
    inside the box, the full pass outside, feathered across ``feather`` of the box at its edges.
    Frames with no person, or where the box covers most of the frame, skip the second pass.
    ``predict`` is stateless: each frame's box comes from that frame alone. For video, ``stream()``
    gives a CropFollower that skips the whole-frame pass on most frames.
    """

    def __init__(self, inner: Segmenter, *, working_short_side: int = 360, margin: float = 0.10,
                 threshold: float = 0.5, max_cover: float = 0.8, feather: float = 0.08,
                 full_pass_every: int = 1, max_stretch: float = 2.0):
        if max_stretch < 1:
            raise ValueError(f"max_stretch must be at least 1 (1 = the model's own aspect), got {max_stretch}")
        self.inner = inner
        self.max_stretch = max_stretch
        self.full_pass_every = full_pass_every
        self.working_short_side = working_short_side
        self.margin = margin
        self.threshold = threshold
        self.max_cover = max_cover
        self.feather = feather

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def device(self) -> str:
        return self.inner.device

    @property
    def precision(self) -> str:
        return self.inner.precision

    @property
    def batch_size(self) -> int:
        return self.inner.batch_size

    @property
    def reads_planes(self) -> bool:
        return getattr(self.inner, "reads_planes", False)

    def describe(self) -> str:
        return f"{self.inner.describe()}, + person crop pass (working map {self.working_short_side} px short side)"

    def _crop_input_size(self) -> tuple[int, int]:
        """(w, h) the crops are resized to, so that a batch of them shares one size."""
        width, height = getattr(self.inner, "width", None), getattr(self.inner, "height", None)
        if width and height:
            return int(width), int(height)
        side = int(getattr(self.inner, "infer_size", 256))
        return side, side

    def person_extent(self, prob: np.ndarray, region: tuple[int, int, int, int]) -> tuple[float, float, float, float] | None:
        """Bounding box in frame pixels of the ``prob > threshold`` pixels of a map that covers
        ``region`` (x0, y0, x1, y1) of the frame; None when there are none."""
        mask = prob > self.threshold
        ys = np.flatnonzero(mask.any(axis=1))  # rows and columns with a person pixel: ~10x
        if ys.size == 0:                       # cheaper than the coordinates of every one
            return None
        xs = np.flatnonzero(mask.any(axis=0))
        x0, y0, x1, y1 = region
        fx, fy = (x1 - x0) / prob.shape[1], (y1 - y0) / prob.shape[0]
        return x0 + xs[0] * fx, y0 + ys[0] * fy, x0 + (xs[-1] + 1) * fx, y0 + (ys[-1] + 1) * fy

    def box_around(self, extent: tuple[float, float, float, float],
                   frame_shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
        """The crop for a person whose bounding box in frame pixels is ``extent``: padded by the
        margin, brought within ``max_stretch`` of the model's aspect and kept inside the frame;
        None to skip."""
        h, w = frame_shape
        bx0, by0, bx1, by1 = extent
        pad = self.margin * max(bx1 - bx0, by1 - by0)
        bx0, by0, bx1, by1 = bx0 - pad, by0 - pad, bx1 + pad, by1 + pad
        cw, ch = self._crop_input_size()
        aspect = cw / ch
        bw, bh = bx1 - bx0, by1 - by0
        if bw / bh < aspect / self.max_stretch:  # too narrow for the model: widen
            bw = bh * aspect / self.max_stretch
        elif bw / bh > aspect * self.max_stretch:  # too wide: heighten
            bh = bw / (aspect * self.max_stretch)
        bw, bh = min(bw, w), min(bh, h)  # larger than the frame: clamp (the model sees it more squashed)
        cx = min(max((bx0 + bx1) / 2, bw / 2), w - bw / 2)
        cy = min(max((by0 + by1) / 2, bh / 2), h - bh / 2)
        x0, y0 = int(round(cx - bw / 2)), int(round(cy - bh / 2))
        x1, y1 = min(w, x0 + int(round(bw))), min(h, y0 + int(round(bh)))
        # a box within a pixel of the frame's border ends on it (a side on the border is not
        # checked or feathered as an inner edge)
        x0, y0 = (0 if x0 <= 1 else x0), (0 if y0 <= 1 else y0)
        x1, y1 = (w if x1 >= w - 1 else x1), (h if y1 >= h - 1 else y1)
        if (x1 - x0) * (y1 - y0) > self.max_cover * w * h or x1 - x0 < 8 or y1 - y0 < 8:
            return None
        return x0, y0, x1, y1

    def _feather_weights(self, size: tuple[int, int], box: tuple[int, int, int, int],
                         frame_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Weight of the crop pass over the box in working pixels, as the column and row factors
        (wx, wy) of the separable weight wy * wx: 1 inside, ramping to 0 at box edges that lie
        inside the frame (edges on the frame border have nothing to blend with)."""
        bw, bh = size
        x0, y0, x1, y1 = box
        h, w = frame_shape
        ramp = max(1.0, self.feather * max(bw, bh))

        def axis(n: int, at_start: bool, at_end: bool) -> np.ndarray:
            i = np.arange(n, dtype=np.float32) + 0.5
            r = np.ones(n, np.float32)
            if not at_start:
                r = np.minimum(r, i / ramp)
            if not at_end:
                r = np.minimum(r, (n - i) / ramp)
            return r

        return axis(bw, x0 <= 0, x1 >= w), axis(bh, y0 <= 0, y1 >= h)

    def working_size(self, frame_shape: tuple[int, int]) -> tuple[int, int]:
        """(w, h) of the output map for frames of this (h, w)."""
        h, w = frame_shape
        # Never coarser than the wrapped model's own output (torchvision models at 520 px).
        short = max(self.working_short_side, int(getattr(self.inner, "infer_size", 0)))
        wh, ww = short_side_size(h, w, min(short, h, w))
        return ww, wh

    def crop_input(self, frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        x0, y0, x1, y1 = box
        return downscale(frame[y0:y1, x0:x1], self._crop_input_size())

    def paste_crop(self, out: np.ndarray, crop_prob: np.ndarray, box: tuple[int, int, int, int],
                   frame_shape: tuple[int, int], *, feather: bool = True) -> None:
        """Put one crop's probability into the working map ``out``: blended across the feathered
        bands at the box's inner edges, or (``feather=False``) copied in as it is."""
        h, w = frame_shape
        sx, sy = out.shape[1] / w, out.shape[0] / h
        x0, y0, x1, y1 = box
        wx0, wy0 = int(round(x0 * sx)), int(round(y0 * sy))
        wx1, wy1 = max(wx0 + 1, int(round(x1 * sx))), max(wy0 + 1, int(round(y1 * sy)))
        size = (wx1 - wx0, wy1 - wy0)
        crop_prob = cv2.resize(crop_prob, size, interpolation=cv2.INTER_LINEAR)
        if feather:
            paste(out[wy0:wy1, wx0:wx1], crop_prob, *self._feather_weights(size, box, frame_shape))
        else:
            out[wy0:wy1, wx0:wx1] = crop_prob

    def predict(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [out for out, _ in self.predict_with_extents(frames)]

    def predict_with_extents(self, frames: Sequence[np.ndarray],
                             full: Sequence[np.ndarray] | None = None) -> list[tuple[np.ndarray, tuple | None]]:
        """Each frame's map with the person's bounding box in frame pixels (None: no one): the
        union of what the whole-frame pass and the crop pass found. ``full``: the whole-frame
        pass's maps, when they have been computed already."""
        if not frames:
            return []
        h, w = frames[0].shape[:2]
        size = self.working_size((h, w))
        if full is None:
            full = self.inner.predict(frames)
        extents = [self.person_extent(prob, (0, 0, w, h)) for prob in full]
        boxes = [self.box_around(e, (h, w)) if e is not None else None for e in extents]
        # The crops of the whole batch go through the model in one call.
        crops = [self.crop_input(frame, box) for frame, box in zip(frames, boxes) if box is not None]
        crop_probs = iter(self.inner.predict(crops)) if crops else iter(())
        results = []
        for prob, box, extent in zip(full, boxes, extents):
            out = cv2.resize(prob, size, interpolation=cv2.INTER_LINEAR)
            if box is not None:
                crop_prob = next(crop_probs)
                self.paste_crop(out, crop_prob, box, (h, w))
                extent = union(extent, self.person_extent(crop_prob, box))
            results.append((out, extent))
        return results

    def stream(self) -> "PersonCropSegmenter | CropFollower":
        """A predictor for consecutive frames of one video: a CropFollower when ``full_pass_every``
        is above 1, else this stateless segmenter."""
        return CropFollower(self, self.full_pass_every) if self.full_pass_every > 1 else self


class CropFollower:
    """The crop pass for consecutive frames of one stream, following the person's box.

    Most frames skip the whole-frame pass: the crop box is built round the person the previous
    frame's crop found (the sharper of the two estimates), so a frame costs one model call
    instead of two. The whole-frame pass runs again, on the same frame, whenever following
    could be wrong:

    - every ``full_pass_every`` frames (someone new may have walked in elsewhere);
    - when the crop finds no person (they left the box, or a scene cut);
    - when the person reaches the box's edge on a side inside the frame (they are moving out
      of it, or the box cut them).

    Outside the box a followed frame is background (0). State belongs to one stream: ``reset()``
    it between unrelated frames (the live camera does on effect toggles).
    """

    def __init__(self, crop: PersonCropSegmenter, full_pass_every: int = 8, edge: float = 0.02,
                 hold_area: float = 1.5, hold_shift: float = 0.05):
        self.crop = crop
        self.edge = edge
        self.hold_area = hold_area
        self.hold_shift = hold_shift
        self.full_pass_every = full_pass_every
        self.full_passes = 0
        self.reset()

    def reset(self) -> None:
        self._box: tuple[int, int, int, int] | None = None
        self._shape: tuple[int, int] | None = None
        self._since_full = 0

    def __getattr__(self, name):  # name, device, describe(), batch_size... of the crop segmenter
        if name == "crop":
            raise AttributeError(name)
        return getattr(self.crop, name)

    def predict(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [self._one(frame) for frame in frames]

    def _one(self, frame: np.ndarray) -> np.ndarray:
        shape = frame.shape[:2]
        h, w = shape
        box = self._box if shape == self._shape else None
        self._shape = shape
        full = result = None
        if box is not None:
            if self._since_full < self.full_pass_every - 1:
                result = self._follow(frame, box)
            else:
                # The periodic look at the whole frame: if no one is outside the box, this frame
                # is followed like the others (a different crop window only on these frames
                # would make the matte jump every full_pass_every frames).
                full = self.crop.inner.predict([frame])
                extent = self.crop.person_extent(full[0], (0, 0, w, h))
                if extent is not None and inside(extent, box):
                    result = self._follow(frame, box)
        whole_frame = full is not None or result is None
        if result is None:  # nothing to follow, or following failed: a crop round the whole frame's person
            result = self.crop.predict_with_extents([frame], full)[0]
        if whole_frame:
            self.full_passes += 1
            self._since_full = 0
        else:
            self._since_full += 1
        out, extent = result
        new_box = self.crop.box_around(extent, shape) if extent is not None else None
        self._box = self.held(box, new_box)
        return out

    def held(self, old: tuple | None, new: tuple | None) -> tuple | None:
        """The box for the next frame: the current one while the person's new box still fits
        it well, else the new one. A crop window that stays put gives the model the same view
        of a still person frame after frame (re-centring it on every frame's extent made a
        seated person's matte change 1.5x as much per frame) and stops a box that shrinks onto
        the person from clipping specks at its edge (which forced whole-frame passes)."""
        if old is None or new is None:
            return new
        area = (new[2] - new[0]) * (new[3] - new[1])
        if inside(new, old) and (old[2] - old[0]) * (old[3] - old[1]) <= self.hold_area * area:
            return old
        size = max(new[2] - new[0], new[3] - new[1])
        if max(abs(a - b) for a, b in zip(old, new)) <= self.hold_shift * size:
            return old
        return new

    def _follow(self, frame: np.ndarray, box: tuple[int, int, int, int]):
        """(map, person extent) from the crop pass alone, or None when the box no longer fits the person."""
        h, w = frame.shape[:2]
        crop_prob = self.crop.inner.predict([self.crop.crop_input(frame, box)])[0]
        extent = self.crop.person_extent(crop_prob, box)
        if extent is None:
            return None
        # Nothing of the person may reach the edge of the box (the outer ``edge`` of it) on a side
        # inside the frame: that part may be cut off. Closer than the margin is fine: the next
        # box is built round this frame's person, unless it still fits this one (see held).
        x0, y0, x1, y1 = box
        mx, my = self.edge * (x1 - x0), self.edge * (y1 - y0)
        ex0, ey0, ex1, ey1 = extent
        if ((x0 > 0 and ex0 < x0 + mx) or (x1 < w and ex1 > x1 - mx)
                or (y0 > 0 and ey0 < y0 + my) or (y1 < h and ey1 > y1 - my)):
            return None
        # Nothing outside the box to blend with: the crop is copied in as it is, and the rest is 0.
        ww, wh = self.crop.working_size((h, w))
        out = np.zeros((wh, ww), np.float32)
        self.crop.paste_crop(out, crop_prob, box, (h, w), feather=False)
        return out, extent


def inside(inner: tuple, outer: tuple) -> bool:
    """True when box ``inner`` (x0, y0, x1, y1) lies within box ``outer``."""
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


def union(a: tuple | None, b: tuple | None) -> tuple | None:
    """The bounding box of two (x0, y0, x1, y1) boxes, either of which may be None."""
    if a is None or b is None:
        return a if b is None else b
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def stream_predictor(segmenter: Segmenter) -> Segmenter:
    """The predictor for consecutive frames of one stream: the segmenter's own ``stream()`` when it
    keeps state between frames (the crop pass following the person), else the segmenter itself."""
    stream = getattr(segmenter, "stream", None)
    return stream() if stream is not None else segmenter


def stream_note(segmenter: Segmenter) -> str:
    """What a video's startup line adds to ``describe()``: how the crop pass follows the person
    ("" when it does not; photos never do, so their line leaves it out)."""
    every = getattr(segmenter, "full_pass_every", 1)
    return f"; on video the crop follows the person, whole frame every {every} frames" if every > 1 else ""


def paste(region: np.ndarray, crop: np.ndarray, wx: np.ndarray, wy: np.ndarray) -> None:
    """region += wy * wx * (crop - region), in place: a plain copy where the weight is 1 (the
    middle of the box, most of it) and the blend only on the feathered bands at its edges."""
    cols = np.flatnonzero(wx >= 1.0)
    rows = np.flatnonzero(wy >= 1.0)
    if cols.size == 0 or rows.size == 0:
        region += np.outer(wy, wx) * (crop - region)
        return
    (c0, c1), (r0, r1) = (cols[0], cols[-1] + 1), (rows[0], rows[-1] + 1)
    region[r0:r1, c0:c1] = crop[r0:r1, c0:c1]
    # bands: the rows above and below the middle (full width), then left and right of it
    for rs, cs in ((slice(0, r0), slice(None)), (slice(r1, None), slice(None)),
                   (slice(r0, r1), slice(0, c0)), (slice(r0, r1), slice(c1, None))):
        part = region[rs, cs]
        if part.size:
            part += np.outer(wy[rs], wx[cs]) * (crop[rs, cs] - part)


@dataclass(frozen=True)
class ModelChoice:
    spec: ModelSpec
    device: str
    reason: str


def choose_model(config: ModelConfig) -> ModelChoice:
    """Which model and device to use, and why (for the startup line)."""
    device = resolve_device(config.device)
    if config.name == "auto":
        if device == "cuda":
            return ModelChoice(resolve_model(CUDA_DEFAULT_MODEL), device, "default on CUDA")
        return ModelChoice(resolve_model(CPU_DEFAULT_MODEL), device,
                           "default on CPU: bundled, works offline" + ("" if config.device == "cpu" else "; no CUDA device found"))
    return ModelChoice(resolve_model(config.name), device, "chosen with --model or the preset")


def load_segmenter(config: ModelConfig) -> tuple[Segmenter, str]:
    """Build the segmenter a ModelConfig asks for; returns it and the reason it was chosen."""
    config.validate()
    choice = choose_model(config)
    spec, device = choice.spec, choice.device
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
        segmenter = OnnxSegmenter(spec.path, name=spec.name, classes=config.classes, device=device,
                                  threads=config.threads, source=spec.source.split(":")[0])
        if config.crop_pass:
            return PersonCropSegmenter(segmenter, full_pass_every=config.full_pass_every), choice.reason
        return segmenter, choice.reason
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
    segmenter = TorchSegmenter(model, name=spec.name, categories=weights.meta["categories"], classes=config.classes,
                               device=device, precision=precision, infer_size=infer_size, batch_size=batch, source=source)
    # No crop pass here: a torchvision model's resolution is set with infer_size instead.
    return segmenter, choice.reason
