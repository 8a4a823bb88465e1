"""Robust Video Matting (RVM, MobileNetV3) through ONNX Runtime: a recurrent video matting model
for groups, whole bodies and motion.

Written against the ONNX file's contract, not RVM's code: inputs ``src`` (RGB in [0, 1],
NCHW), ``r1i``..``r4i`` (the recurrent state, zeros of shape [1, 1, 1, 1] to start) and
``downsample_ratio`` (float32 [1]); outputs ``fgr`` (foreground colour), ``pha`` (alpha) and
``r1o``..``r4o`` (the next state).

The state belongs to one stream (``RvmStream``, from ``stream()``): it is dropped at scene
cuts, when the frame size or the ratio changes, on ``reset()``, and when video on a CPU moves
between the model's size and the portrait size (``is_portrait``: one person filling a quarter
of the frame; chosen on a shot's first call, changed later only when the people stay the other
kind for SIZE_HOLD frames). ``predict`` treats frames as unrelated photos: each starts from
zeros and runs ``settle_runs`` times, so the state settles on the picture.

Frames are shrunk to ``src_size`` before the model (the decoder's planes are read as they
are), by default straight to the model's working size, so the ratio is 1 and livebg's guided
refinement brings the alpha to the frame's full size. RVM's own refiner (a learned guided
filter from the model's size up to the source's) then has no size to bridge, and is cut out of
the graph (``without_refiner``): about a fifth of the model's time (docs/speed.md). On a CPU the
decoder's convolutions of concatenations become sums of one convolution per part
(``graph.split_concat_convs``), and any left with unaligned channel counts are padded
(``graph.aligned_conv_inputs``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np

from livebg.errors import ModelError, first_line
from livebg.frames.cuts import CUT_THRESHOLD, CutDetector
from livebg.frames.yuv import downscale
from livebg.matte.foreground import EXTENT_PAD
from livebg.segment.base import Segmenter
from livebg.segment.onnx_model import inference_threads, session_setup
from livebg.segment.region import FULL_EVERY, MAX_GROWS, Box, PeopleRegion, carry_state, paste, whole
from livebg.segment.reuse import STILL_THRESHOLD, FlowReuse

STATE_INPUTS = ("r1i", "r2i", "r3i", "r4i")
STATE_OUTPUTS = ("r1o", "r2o", "r3o", "r4o")
INPUTS = ("src", *STATE_INPUTS, "downsample_ratio")
OUTPUTS = ("fgr", "pha", *STATE_OUTPUTS)

# The model's working size (the short side after the downsample ratio). RVM's authors advise
# 256..512 px, more for full bodies than for portraits; see docs/quality.md for the choice.
MODEL_SHORT_SIDE = 384
# On CUDA, where the model is not the job's cost: 512 px scores higher on every labelled sample
# (docs/quality.md); on a CPU it costs 1.8x a call.
MODEL_SHORT_SIDE_CUDA = 512
# Video on a CPU: while the people are one person filling a large part of the frame (a
# portrait: a call, a talk) the model runs at this size instead; RVM's authors advise a lower
# ratio for portraits than for full bodies. Measured on the labelled clips zoomed in
# (docs/quality.md): level or better for one large person, worse for a group, a third faster.
MODEL_SHORT_SIDE_PORTRAIT = 320
# Live on a CPU: the working sizes the live path moves between to hold the camera's rate
# (live/sizing.py), largest first: the file jobs' size for whole bodies and groups (384) down
# to where small people are still found on the labelled clips (192)
LIVE_SIZES = (384, 320, 288, 256, 224, 192, 160)
PORTRAIT_SHARE = 0.25  # the largest person covers at least this share of the frame...
PORTRAIT_DOMINANCE = 2 / 3  # ... and this share of all the people found (not a group)
PORTRAIT_KEEP_SHARE = 0.2  # at the portrait size, it stays while the largest person covers this
SIZE_HOLD = 12  # frames in a row whose people want the other size before a shot changes size
SWITCH_SETTLE_RUNS = 3  # runs on the frame where a shot changes size, from zeros (a fresh state)
SETTLE_RUNS = 4  # photos: runs on the same picture before its alpha is taken (docs/quality.md)
# Metadata a file built from RVM's may carry (scripts/rvm_int8.py writes them): its refiner is
# cut (it then runs at ratio 1 only), and its precision (for the startup line).
REFINER_KEY, REFINER_CUT = "livebg.rvm.refiner", "cut"
PRECISION_KEY = "livebg.rvm.precision"


def working_size(device: str) -> int:
    """The model's default working short side on a device ("cpu" or "cuda")."""
    return MODEL_SHORT_SIDE_CUDA if device == "cuda" else MODEL_SHORT_SIDE


def portrait_size(device: str) -> int:
    """The working short side for portrait shots on a device, 0: the same as the others (on
    CUDA the model is not the job's cost)."""
    return 0 if device == "cuda" else MODEL_SHORT_SIDE_PORTRAIT


def is_portrait(alpha: np.ndarray, share: float = PORTRAIT_SHARE) -> bool:
    """Whether an alpha shows a portrait: one person (a connected region at alpha >= 0.5)
    covering at least ``share`` of the picture and PORTRAIT_DOMINANCE of all its people. A
    group is not one, however much of the frame its people fill together; one person this
    large is, whether the frame shows their face or their whole body."""
    mask = (alpha[::2, ::2] >= 0.5).astype(np.uint8)  # every other pixel: shares are the same, 4x cheaper
    people = int(np.count_nonzero(mask))
    if people < share * mask.size:
        return False
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    largest = int(stats[1:, cv2.CC_STAT_AREA].max())
    return largest >= share * mask.size and largest >= PORTRAIT_DOMINANCE * people


@dataclass(frozen=True)
class RvmPlan:
    """How a frame of one size goes through the model."""
    src_size: tuple[int, int]  # (w, h) the frame is shrunk to
    ratio: float  # downsample_ratio

    @property
    def model_short_side(self) -> int:
        return round(min(self.src_size) * self.ratio)


def plan_for(height: int, width: int, model_short: int = MODEL_SHORT_SIDE,
             source_short: int | None = None) -> RvmPlan:
    """The source size and ratio for frames of (height, width): the frame scaled so that its
    short side is ``source_short`` (default: ``model_short``; small frames are enlarged: the
    model sees small people better at its working size), and the ratio that brings that to
    ``model_short`` (at most 1). ``source_short`` 0: the frame as it is (RVM's own way, its
    refiner bringing the alpha up)."""
    if source_short is None:
        source_short = model_short
    scale = max(source_short, model_short) / min(height, width) if source_short > 0 else 1.0
    w, h = max(2, round(width * scale)), max(2, round(height * scale))
    ratio = min(1.0, model_short / min(w, h))
    return RvmPlan((w, h), float(ratio))


class RvmSegmenter(Segmenter):
    """The RVM ONNX file in an ONNX Runtime session; ``stream()`` gives the per-stream state."""

    name = "rvm"
    reads_planes = True  # frames may be I420Image: only downscale() reads them
    edge_threshold = 0.5  # a matting model's alpha: 0.5 is the edge

    def __init__(self, path: str | Path, *, device: str = "cpu", threads: int = 0, source: str = "",
                 model_short: int = MODEL_SHORT_SIDE, source_short: int | None = None,
                 settle_runs: int = SETTLE_RUNS, cut_threshold: float = CUT_THRESHOLD, chosen: str = "auto",
                 rewrite: bool = True, still_reuse: int = 0, still_threshold: float = STILL_THRESHOLD,
                 people_region: bool = False, full_every: int = FULL_EVERY, portrait_short: int = 0,
                 photo_sizes: Sequence[int] = (), photo_fusion: str = "groups"):
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
        self.cut_threshold = cut_threshold
        self.still_reuse = still_reuse  # video: frames in a row that may reuse a model call (reuse.FlowReuse)
        self.still_threshold = still_threshold
        self.people_region = people_region  # video on a CPU: the model runs on the box around the people (region.py)
        self.full_every = full_every  # ... and on the whole frame at least every N frames
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

        from livebg.segment import graph

        try:
            model = onnx.load_model(str(self.path))
        except Exception:  # the session's own load then says what is wrong with the file
            return b"", ""
        if any(p.key == REFINER_KEY for p in model.metadata_props):
            return b"", ""  # a file made from livebg's rewritten graph (scripts/rvm_int8.py)
        done = []
        refiner_cut = ratio_one and without_refiner(model)
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
                 "rest changes)" if self.uses_region else "")
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

    def predict(self, frames: Sequence[Any]) -> list[np.ndarray]:
        """Unrelated pictures (photos): each from a fresh state, settled over ``settle_runs`` runs;
        with ``photo_sizes``, also at each of those working sizes, the alphas fused by their
        pixel-wise maximum at the model's size (a larger size finds the small people at the back,
        a smaller one the large people cut by the frame's edge)."""
        out = []
        for frame in frames:
            height, width = frame.shape[:2]
            plan = self.plan(height, width)
            alpha = self._settled(frame, plan)
            base = alpha >= 0.5
            sizes = self.photo_sizes if self.photo_fusion != "groups" or is_group(alpha) else ()
            for short in sizes:
                if short == plan.model_short_side:
                    continue
                other = cv2.resize(self._settled(frame, self.plan(height, width, short)), plan.src_size,
                                   interpolation=cv2.INTER_LINEAR)
                if self.photo_fusion == "new" and short > plan.model_short_side:
                    other = other * new_people(other, base)
                alpha = np.maximum(alpha, other)
            out.append(np.clip(alpha, 0, 1))
        return out

    def _settled(self, frame: Any, plan: RvmPlan) -> np.ndarray:
        small = downscale(frame, plan.src_size)
        state = None
        for _ in range(self.settle_runs):
            alpha, _fgr, state = self.run(small, state, plan.ratio)
        return alpha

    def stream(self) -> "RvmStream":
        return RvmStream(self)

    def close(self) -> None:
        self.session = None


GROUP_MIN_SHARE = 0.002  # a connected region this share of the picture counts as a person for is_group
# nobody found, or the largest person under this share of the picture: the larger sizes look for
# more (0.05 took lucia's and parkour's single walkers too, and lowered them by .003-.004)
SMALL_PEOPLE_SHARE = 0.015
# Photos: passes at these working sizes too, on photos of groups or of small people only
# (is_group), fused by their maximum (docs/quality.md, "Photos of groups")
PHOTO_SIZES = (256, 512, 768)


def is_group(alpha: np.ndarray) -> bool:
    """Whether an alpha shows several people, or people too small for the model's size: two or
    more regions at alpha >= 0.5 of at least GROUP_MIN_SHARE of the picture, the largest under
    PORTRAIT_DOMINANCE of all of them (one person whose arm makes a second blob is not a group);
    or nobody, or nobody larger than SMALL_PEOPLE_SHARE."""
    mask = (alpha >= 0.5).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    if not len(areas) or areas.max() < SMALL_PEOPLE_SHARE * mask.size:
        return True  # nobody found, or only small people: the larger sizes look for more
    people = areas[areas >= GROUP_MIN_SHARE * mask.size]
    return len(people) >= 2 and people.max() < PORTRAIT_DOMINANCE * people.sum()


def new_people(alpha: np.ndarray, found: np.ndarray) -> np.ndarray:
    """1 over the people (connected regions at alpha >= 0.5) of ``alpha`` that touch none of
    ``found``, 0 elsewhere (float32, widened by a few px for their soft edge)."""
    count, labels = cv2.connectedComponents((alpha >= 0.5).astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros(alpha.shape, np.float32)
    touching = np.unique(labels[found & (labels > 0)])
    keep = np.ones(count, bool)
    keep[0] = False
    keep[touching] = False
    mask = keep[labels].astype(np.uint8)
    return cv2.dilate(mask, np.ones((7, 7), np.uint8)).astype(np.float32)


def without_refiner(model: Any) -> bool:
    """Cut RVM's refiner out of the graph, in place: ``fgr`` and ``pha`` come from the decoder's
    projection (its 3 + 1 channels, split as the refiner's output was) instead of the refined
    ones. At ratio 1 the refiner filters the model's alpha at its own size, which livebg's guided
    refinement does again from the full frame. Found by shape, not by node names (the pattern:
    ``pha`` <- Clip <- Split [3, 1], and the other Split [3, 1] reading a 4-filter Conv);
    False, and the graph untouched, when it is not there."""
    from onnx import numpy_helper

    from livebg.segment.graph import prune

    producer = {out: node for node in model.graph.node for out in node.output}
    weights = {t.name: t for t in model.graph.initializer}
    clip = producer.get("pha")
    out_split = producer.get(clip.input[0]) if clip is not None and clip.op_type == "Clip" else None
    if out_split is None or out_split.op_type != "Split" or len(out_split.output) != 2:
        return False
    for node in model.graph.node:
        conv = producer.get(node.input[0]) if node.input else None
        if (node is out_split or node.op_type != "Split" or len(node.output) != 2 or conv is None
                or conv.op_type != "Conv" or conv.input[1] not in weights):
            continue
        if numpy_helper.to_array(weights[conv.input[1]]).shape[0] == 4:
            out_split.input[0] = conv.output[0]
            prune(model)
            return True
    return False


# The frame's own colour (float in [0, 1]) is written this far around a box, and zeros beyond: the
# edge colour is only blended around alpha above foreground.EXTENT_LEVEL, up to EXTENT_PAD model
# px further, and near a box's side that can reach a little past it.
COLOUR_RING = EXTENT_PAD + 2


def _colour_around(small: np.ndarray, box: Box) -> np.ndarray:
    """The foreground colour outside ``box``: the frame's own within COLOUR_RING px of the box,
    zeros further out (nobody is there; converting the whole frame would cost a pass a call)."""
    h, w = small.shape[:2]
    out = np.zeros((h, w, 3), np.float32)
    y0, y1 = max(0, box.y0 - COLOUR_RING), min(h, box.y1 + COLOUR_RING)
    x0, x1 = max(0, box.x0 - COLOUR_RING), min(w, box.x1 + COLOUR_RING)
    for rows, cols in (((y0, box.y0), (x0, x1)), ((box.y1, y1), (x0, x1)),
                       ((box.y0, box.y1), (x0, box.x0)), ((box.y0, box.y1), (box.x1, x1))):
        part = (slice(*rows), slice(*cols))
        out[part] = small[part] * np.float32(1 / 255)
    return out


class RvmStream(Segmenter):
    """RVM on consecutive frames of one stream, carrying the recurrent state between them."""

    def __init__(self, model: RvmSegmenter):
        self.model = model
        self.name = model.name
        self.device = model.device
        self.precision = model.precision
        self.reads_planes = True
        self.edge_threshold = model.edge_threshold
        self.cuts = CutDetector(model.cut_threshold)
        self.resets = 0  # times the state was dropped (cuts, size changes, reset())
        # model calls (a frame where the size changes has more than one), frames that reused a call
        self.calls = self.reused = 0
        self.still = FlowReuse(model.still_reuse, model.still_threshold) if model.still_reuse else None
        self.region = PeopleRegion(model.full_every) if model.uses_region else None
        self._state_box: Box | None = None  # the box the state was made on
        self.last_foreground: np.ndarray | None = None  # fgr of the last frame, at the source size
        self._state: list[Any] | None = None  # OrtValues (on the model's device), or arrays moved by carry_state
        self._key: tuple | None = None  # (frame size, plan) the state was made for
        self.short = model.model_short  # the working size now (model.portrait_short for a portrait)
        self.portrait_shots = 0  # times a shot took the portrait size (at its start or later)
        self._against = 0  # frames in a row whose people want the other size (a reused frame: as its call)
        self._sized = False  # the size was set from outside (set_short): kept for new frame sizes too

    @property
    def infer_size(self) -> int:  # type: ignore[override]
        return self.short

    def describe(self) -> str:
        return self.model.describe()

    @property
    def stream_note(self) -> str:
        return self.model.stream_note

    def reset(self) -> None:
        self._drop_state()
        self.cuts.reset()

    def set_short(self, short: int) -> None:
        """Run the next calls at working size ``short`` (live: the size that holds the camera's
        rate, ``live.sizing``); the state, made at the old size, starts again on the next frame.
        Only for a model without a portrait size (that policy sets the size itself)."""
        if self.model.portrait_short:
            raise ValueError("set_short() is for a model without a portrait size")
        if short != self.short:
            self.short = short
            self._sized = True
            self._drop_state(reset=False)

    def _drop_state(self, reset: bool = True) -> None:
        """Forget the recurrent state, the people's box and the key frame a still frame would
        reuse; ``reset`` False: the same shot goes on at another size, not a reset of the stream."""
        if self._state is not None and reset:
            self.resets += 1
        self._state = None
        self._state_box = None
        if self.still is not None:
            self.still.reset()
        if self.region is not None:
            self.region.reset()

    def predict(self, frames: Sequence[Any]) -> list[np.ndarray]:
        out = []
        for frame in frames:
            height, width = frame.shape[:2]
            if (self._key is None or (height, width) != self._key[0]) and not self._sized:
                self.short = self.model.model_short  # a new size of frame: sized again from its first call
            plan = self.model.plan(height, width, self.short)
            small = downscale(frame, plan.src_size)
            cut = self.cuts(small)
            key = (frame.shape[:2], plan)
            if key != self._key or cut:
                self._drop_state()
                self._key = key
            first = self._state is None  # a shot's first call: its size is chosen at once
            grey = self._grey(small)
            reused = self.still.reuse(grey) if self.still is not None and grey is not None else None
            if reused is not None:
                alpha, self.last_foreground = reused
                self.reused += 1
                if self._against:
                    self._against += 1
                if self.region is not None:
                    self.region.skipped()
            else:
                alpha, self.last_foreground = self._call(small, plan.ratio, grey)
                self.calls += 1
                short = self._wanted_size(alpha, first) if self.model.portrait_short else self.short
                if short == self.model.portrait_short and (first or short != self.short):
                    self.portrait_shots += 1
                if short != self.short:
                    small, plan = self._resize(frame, short, 1 if first else SWITCH_SETTLE_RUNS)
                    grey = self._grey(small)
                    alpha, self.last_foreground = self._call(small, plan.ratio, grey)
                    self.calls += 1
                if self.still is not None and grey is not None:
                    self.still.remember(grey, alpha, self.last_foreground)
            out.append(np.clip(alpha, 0, 1))
        return out

    def _grey(self, small: np.ndarray) -> np.ndarray | None:
        return FlowReuse.grey(small) if self.still is not None or self.region is not None else None

    def _wanted_size(self, alpha: np.ndarray, first: bool) -> int:
        """The working size for the next call, from this call's alpha: the portrait size while
        one person fills the frame (``is_portrait``), else the model's. A shot's first call
        chooses at once; later, the other size must be wanted for SIZE_HOLD frames in a row
        (someone walking in, the camera moving closer), and a portrait stays one down to
        PORTRAIT_KEEP_SHARE, so a person near the threshold does not switch back and forth."""
        at_portrait = self.short == self.model.portrait_short
        share = PORTRAIT_KEEP_SHARE if at_portrait and not first else PORTRAIT_SHARE
        wanted = self.model.portrait_short if is_portrait(alpha, share) else self.model.model_short
        if first or wanted == self.short:
            self._against = 0
            return wanted
        self._against += 1
        return wanted if self._against >= SIZE_HOLD else self.short

    def _resize(self, frame: Any, short: int, settle_runs: int) -> tuple[np.ndarray, RvmPlan]:
        """Move the stream to working size ``short`` on ``frame``: the state (made at the other
        size), the people's box and the still frame's key are dropped, and the frame is shrunk
        for the new size; (the picture, its plan) for the call that follows. Within a shot the
        new state is first settled on this frame (``settle_runs`` - 1 runs, as for a photo),
        so the size change does not start the shot's memory over from a blank."""
        self.short = short
        self._against = 0
        height, width = frame.shape[:2]
        plan = self.model.plan(height, width, short)
        self._drop_state(reset=False)
        self._key = (frame.shape[:2], plan)
        small = downscale(frame, plan.src_size)
        for _ in range(settle_runs - 1):
            _, _, self._state = self.model.run(small, self._state, plan.ratio)
            self.calls += 1
        return small, plan

    def _call(self, small: np.ndarray, ratio: float, grey: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The model on ``small`` (or on the box around its people), carrying the state: the
        whole picture's alpha and foreground colour."""
        if self.region is None or grey is None:
            alpha, foreground, self._state = self.model.run(small, self._state, ratio)
            return alpha, foreground
        h, w = small.shape[:2]
        full = whole(h, w)
        box = self.region.next_box(h, w, grey)
        grows = 0
        while True:
            state = self._state
            if state is not None and self._state_box is not None and box != self._state_box:
                state = carry_state([v if isinstance(v, np.ndarray) else v.numpy() for v in state], self._state_box, box)
            alpha, foreground, next_state = self.model.run(small[box.slices()], state, ratio)
            self.region.ran(box)
            if box == full:
                break
            wider = self.region.wider(box, alpha, h, w)
            if wider is None and not self.region.lost(alpha):
                break
            grows += 1
            box = wider if wider is not None and grows <= MAX_GROWS else full
        self._state, self._state_box = next_state, box
        if box != full:  # outside the box: nobody
            alpha = paste(alpha, box, np.zeros((h, w), np.float32))
            foreground = paste(foreground, box, _colour_around(small, box))
        self.region.done(box, alpha, grows, grey)
        return alpha, foreground
