"""RVM's loaded model: the ONNX file in an ONNX Runtime session, the graph rewrites chosen for
it, one model call through IO binding (``RvmSegmenter.run``), and photos (``predict``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from livebg.errors import ModelError
from livebg.segment.base import Prediction, Segmenter
from livebg.segment.onnx_model import inference_threads, session_setup
from livebg.segment.region import FULL_EVERY
from livebg.segment.reuse import STILL_THRESHOLD
from livebg.segment.rvm.photos import SETTLE_RUNS, photo_alpha
from livebg.segment.rvm.sizes import LIVE_SIZES, MODEL_SHORT_SIDE, RvmPlan, plan_for
from livebg.errors import first_line

if TYPE_CHECKING:
    from livebg.segment.rvm.stream import RvmStream

STATE_INPUTS = ("r1i", "r2i", "r3i", "r4i")
STATE_OUTPUTS = ("r1o", "r2o", "r3o", "r4o")
INPUTS = ("src", *STATE_INPUTS, "downsample_ratio")
OUTPUTS = ("fgr", "pha", *STATE_OUTPUTS)

# Metadata a file built from RVM's may carry (scripts/rvm_int8.py writes them): its refiner is
# cut (it then runs at ratio 1 only), and its precision (for the startup line).
REFINER_KEY, REFINER_CUT = "livebg.rvm.refiner", "cut"
PRECISION_KEY = "livebg.rvm.precision"


class RvmSegmenter(Segmenter):
    """The RVM ONNX file in an ONNX Runtime session; ``stream()`` gives the per-stream state."""

    name = "rvm"
    reads_planes = True  # frames may be I420Image: only downscale() reads them
    edge_threshold = 0.5  # a matting model's alpha: 0.5 is the edge

    def __init__(self, path: str | Path, *, device: str = "cpu", threads: int = 0, source: str = "",
                 model_short: int = MODEL_SHORT_SIDE, source_short: int | None = None,
                 settle_runs: int = SETTLE_RUNS, chosen: str = "auto",
                 rewrite: bool = True, still_reuse: int = 0, still_threshold: float = STILL_THRESHOLD,
                 people_region: bool = False, full_every: int = FULL_EVERY, portrait_short: int = 0,
                 photo_sizes: Sequence[int] = (), photo_fusion: str = "groups", zoom: bool = False):
        import onnxruntime as ort

        self.path = Path(path)
        self.source = source
        self.model_short = model_short
        self.source_short = model_short if source_short is None else source_short
        self.settle_runs = settle_runs
        self.photo_sizes = tuple(photo_sizes)  # photos: more working sizes, fused with the model's (predict)
        # "groups": the other sizes only where the model's size finds a group or small people
        # (is_group); "max": on every photo; "new": a larger size adds only people not found
        self.photo_fusion = photo_fusion
        self.still_reuse = still_reuse  # video: frames in a row that may reuse a model call (reuse.FlowReuse)
        self.still_threshold = still_threshold
        self.people_region = people_region  # video on a CPU: the model runs on the box around the people (region.py)
        self.full_every = full_every  # ... and on the whole frame at least every N frames
        # video (live on a CPU): the box is cut from the frame at model_short's detail and given to
        # the model at the working size's pixels (zoom.py); needs the box (uses_region)
        self.zoom = zoom
        self.chosen = chosen  # how model_short was set: "auto" or "--infer-size"
        # video: the size for portrait shots (is_portrait), chosen per shot; 0: model_short always.
        # Only where frames go straight to the model's size (ratio 1), and never above model_short.
        self.portrait_short = (portrait_short if 0 < portrait_short < model_short and self.source_short == model_short
                               else 0)
        # every core by default: RVM is the job's bottleneck by far (decoding, the matte and
        # encoding take a small share), unlike the selfie model, which leaves one to the pipeline.
        # No spinning: ORT's threads would busy-wait between operators on the cores the
        # pipeline's decoder, matte and encoder need (docs/speed.md)
        options, providers = session_setup(inference_threads(threads or os.cpu_count() or 2), device, spinning=False)
        # the ratio is 1 for every frame unless frames are scaled to more than the model's size
        ratio_one = 0 < self.source_short <= model_short
        model_bytes, self.rewrites = self._rewrites(rewrite, ratio_one, device)
        try:
            self.session: Any = ort.InferenceSession(model_bytes or str(self.path),
                                                     sess_options=options, providers=providers)
        except Exception as exc:  # ORT raises its own exception types for unreadable files
            raise ModelError(f"ONNX Runtime cannot load {self.path} ({first_line(exc, 160)}): "
                             "check the file, or delete it so that livebg downloads it again") from None
        metadata = self.session.get_modelmeta().custom_metadata_map
        # a graph without the refiner (cut here, or a built int8 file) runs at ratio 1 only
        self.refiner_cut = "refiner cut" in self.rewrites or metadata.get(REFINER_KEY) == REFINER_CUT
        inputs = {i.name for i in self.session.get_inputs()}
        outputs = [o.name for o in self.session.get_outputs()]
        if not set(INPUTS) <= inputs or not set(OUTPUTS) <= set(outputs):
            raise ModelError(f"{self.path} is not a Robust Video Matting export (inputs {sorted(inputs)}, outputs "
                             f"{outputs}): use rvm_mobilenetv3_fp32.onnx from RVM's v1.0.0 release")
        self.device = "cuda" if self.session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"
        types = {i.name: i.type for i in self.session.get_inputs()}
        self._dtype: Any = np.float16 if types["src"] == "tensor(float16)" else np.float32
        self._ratio_dtype: Any = np.float16 if types["downsample_ratio"] == "tensor(float16)" else np.float32
        self._device_type = "cuda" if self.device == "cuda" else "cpu"
        self.precision = metadata.get(PRECISION_KEY) or ("float16" if self._dtype == np.float16 else "float32")
        # the first run sets up ONNX Runtime's buffers: startup, not the first frame
        blank = np.zeros((64, 64, 3), np.uint8)
        self.run(blank, None, 1.0)

    def _rewrites(self, rewrite: bool, ratio_one: bool, device: str) -> tuple[bytes, str]:
        """The rewritten graph and what was done (b"", "": the file runs as it is). The refiner
        is cut only when every frame runs at ratio 1; the channel alignment only on the CPU (it
        is for ONNX Runtime's CPU kernels)."""
        if not rewrite or (not ratio_one and device == "cuda"):
            return b"", ""
        import onnx

        from livebg.segment import onnx_rewrites as graph

        try:
            model = onnx.load_model(str(self.path))
        except Exception:  # the session's own load then says what is wrong with the file
            return b"", ""
        if any(p.key == REFINER_KEY for p in model.metadata_props):
            return b"", ""  # a file made from livebg's rewritten graph (scripts/rvm_int8.py)
        done = []
        refiner_cut = ratio_one and graph.without_refiner(model)
        if refiner_cut:
            done.append("refiner cut (ratio 1)")
        split = graph.split_concat_convs(model) if device != "cuda" else 0
        if split:
            done.append(f"{split} convolutions of concatenations split")
        aligned = graph.aligned_conv_inputs(model) if device != "cuda" else 0
        if aligned:
            done.append(f"{aligned} convolution inputs aligned")
        if refiner_cut and device != "cuda":
            # sizes by pyramid level, so that ONNX Runtime sums the split convolutions' parts
            # (and the skip connections) inside the convolutions; found at ratio 1 only
            zero = np.zeros((1, 1, 1, 1), np.float32)

            def feeds(h: int, w: int, n: int) -> dict[str, np.ndarray]:
                return {"src": np.full((n, 3, h, w), 0.5, np.float32), **{name: zero for name in STATE_INPUTS},
                        "downsample_ratio": np.ones(1, np.float32)}

            if graph.level_shapes(model, "src", feeds):
                done.append("sizes by level")
        return (model.SerializeToString() if done else b""), ", ".join(done)

    @property
    def infer_size(self) -> int:  # type: ignore[override]
        return self.model_short

    def plan(self, height: int, width: int, short: int = 0) -> RvmPlan:
        """How frames of this size go through the model, at ``short`` px (model_short, or
        portrait_short for a portrait shot; frames go straight to that size)."""
        if short and short != self.model_short:
            return plan_for(height, width, short, short)
        return plan_for(height, width, self.model_short, self.source_short)

    def describe(self) -> str:
        size = (f"model at {LIVE_SIZES[-1]}-{self.model_short} px short side" if self.chosen == "live sizing"
                else f"model at {self.model_short} px short side")
        return (f"model rvm (Robust Video Matting, ONNX Runtime, {self.source}) on {self.device}, {self.precision}, "
                f"{size} ({self.chosen}), recurrent")

    @property
    def photo_note(self) -> str:
        """What photos add: the passes at more sizes on groups and small people."""
        if not self.photo_sizes:
            return ""
        return (f"; photos of groups or small people also at {'/'.join(map(str, self.photo_sizes))} px, fused "
                "(about 4x the time on those)")

    @property
    def uses_region(self) -> bool:
        """Whether video runs the model on the box around the people: asked for, on a CPU (on
        CUDA the state stays on the device, and the model is not the job's cost), and at ratio 1
        (the model's picture is the source's)."""
        return self.people_region and self.device == "cpu" and 0 < self.source_short <= self.model_short

    @property
    def stream_note(self) -> str:
        """What video adds (photos run the whole picture, every time): the portrait size, the
        box, the reuse."""
        return ((f"; on video {self.portrait_short} px while one person fills a quarter of the frame (RVM's advice "
                 "for portraits)" if self.portrait_short else "")
                + (f"; on video on the box around the people (whole frame every {self.full_every} frames while the "
                 "rest changes)" + (f", cut at {self.model_short} px detail and given the working size's pixels"
                                    if self.zoom else "") if self.uses_region else "")
                + (f"; still frames reuse a call (up to {self.still_reuse} in a row)" if self.still_reuse else ""))

    def run(self, small: np.ndarray, state: list[Any] | None, ratio: float
            ) -> tuple[np.ndarray, np.ndarray, list[Any]]:
        """One model call on an RGB uint8 picture at the source size: (alpha HxW float32,
        foreground RGB HxWx3 float32 in [0, 1], the next state).

        Through ONNX Runtime's IO binding: the recurrent state stays where the model runs (on
        CUDA, in GPU memory between frames) as OrtValues, and only the picture goes in and the
        alpha and foreground come out. The same path runs on the CPU, where the tests see it."""
        from onnxruntime import OrtValue

        if ratio != 1.0 and self.refiner_cut:
            raise ValueError(f"ratio {ratio}: this session runs without RVM's refiner, which only ratio 1 can do "
                             "without (build the segmenter with source_short=0 or above model_short)")
        x = np.ascontiguousarray(small.transpose(2, 0, 1)[None], dtype=self._dtype)
        x *= self._dtype(1 / 255)
        binding = self.session.io_binding()
        binding.bind_cpu_input("src", x)
        binding.bind_cpu_input("downsample_ratio", np.array([ratio], self._ratio_dtype))
        for name, value in zip(STATE_INPUTS, state or [None] * 4):
            if value is None:
                value = OrtValue.ortvalue_from_numpy(np.zeros((1, 1, 1, 1), self._dtype), self._device_type, 0)
            elif isinstance(value, np.ndarray):  # a state moved to another region (region.carry_state)
                value = OrtValue.ortvalue_from_numpy(value, self._device_type, 0)
            binding.bind_ortvalue_input(name, value)
        binding.bind_output("fgr", "cpu")
        binding.bind_output("pha", "cpu")
        for name in STATE_OUTPUTS:
            binding.bind_output(name, self._device_type)
        self.session.run_with_iobinding(binding)
        fgr, pha, *next_state = binding.get_outputs()
        return (np.asarray(pha.numpy()[0, 0], np.float32), np.asarray(fgr.numpy()[0], np.float32).transpose(1, 2, 0),
                next_state)

    def predict(self, frames: Sequence[Any], *, cuts: Sequence[bool] | None = None) -> list[Prediction]:
        """Unrelated pictures (photos), each as ``photos.photo_alpha`` makes it; ``cuts`` does not
        apply (every picture starts from zeros)."""
        return [Prediction(photo_alpha(self, frame)) for frame in frames]

    def stream(self) -> "RvmStream":
        from livebg.segment.rvm.stream import RvmStream  # the stream holds its model

        return RvmStream(self)

    def close(self) -> None:
        self.session = None
