"""Robust Video Matting (RVM, MobileNetV3) through ONNX Runtime: a recurrent video matting model
for groups, whole bodies and motion.

Written against the ONNX file's contract, not RVM's code: inputs ``src`` (RGB in [0, 1],
NCHW), ``r1i``..``r4i`` (the recurrent state, zeros of shape [1, 1, 1, 1] to start) and
``downsample_ratio`` (float32 [1]); outputs ``fgr`` (foreground colour), ``pha`` (alpha) and
``r1o``..``r4o`` (the next state).

The state belongs to one stream (``RvmStream``, from ``stream()``): it is dropped at scene
cuts (detected once upstream, ``frames.cuts``, and passed to ``predict``), when the frame size or the ratio changes, on ``reset()``, and when video on a CPU moves
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
(``onnx_rewrites.split_concat_convs``), and any left with unaligned channel counts are padded
(``onnx_rewrites.aligned_conv_inputs``).

The package, one concept a file: ``sizes`` (the size policy and plans), ``session`` (the loaded
model: session, graph rewrites, one call), ``stream`` (the per-stream state), ``colour`` (the
foreground colour round a box), ``photos`` (settled passes and the fusion of sizes).
"""
from __future__ import annotations

from livebg.segment.onnx_rewrites import without_refiner
from livebg.segment.rvm.colour import COLOUR_RING, colour_around
from livebg.segment.rvm.photos import (
    GROUP_MIN_SHARE,
    PHOTO_SIZES,
    SETTLE_RUNS,
    SMALL_PEOPLE_SHARE,
    is_group,
    new_people,
)
from livebg.segment.rvm.session import (
    INPUTS,
    OUTPUTS,
    PRECISION_KEY,
    REFINER_CUT,
    REFINER_KEY,
    STATE_INPUTS,
    STATE_OUTPUTS,
    RvmSegmenter,
)
from livebg.segment.rvm.sizes import (
    LIVE_SIZES,
    MODEL_SHORT_SIDE,
    MODEL_SHORT_SIDE_CUDA,
    MODEL_SHORT_SIDE_PORTRAIT,
    PORTRAIT_DOMINANCE,
    PORTRAIT_KEEP_SHARE,
    PORTRAIT_SHARE,
    SIZE_HOLD,
    SWITCH_SETTLE_RUNS,
    RvmPlan,
    is_portrait,
    plan_for,
    portrait_size,
    working_size,
)
from livebg.segment.rvm.stream import RvmStream

__all__ = [
    "COLOUR_RING", "GROUP_MIN_SHARE", "INPUTS", "LIVE_SIZES", "MODEL_SHORT_SIDE", "MODEL_SHORT_SIDE_CUDA",
    "MODEL_SHORT_SIDE_PORTRAIT", "OUTPUTS", "PHOTO_SIZES", "PORTRAIT_DOMINANCE", "PORTRAIT_KEEP_SHARE",
    "PORTRAIT_SHARE", "PRECISION_KEY", "REFINER_CUT", "REFINER_KEY", "SETTLE_RUNS", "SIZE_HOLD",
    "SMALL_PEOPLE_SHARE", "STATE_INPUTS", "STATE_OUTPUTS", "SWITCH_SETTLE_RUNS", "RvmPlan", "RvmSegmenter",
    "RvmStream", "colour_around", "is_group", "is_portrait", "new_people", "plan_for", "portrait_size",
    "without_refiner", "working_size",
]
