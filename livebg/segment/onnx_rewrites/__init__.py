"""Rewrites of an ONNX graph that let ONNX Runtime's CPU kernels run it faster, same outputs.

ONNX Runtime runs convolutions on x86 in a blocked channel layout (NCHWc) and converts to and
from plain NCHW around any node it cannot run blocked. The MediaPipe selfie model, as exported,
has three kinds of such nodes, and each rewrite here replaces one with what ONNX Runtime keeps
blocked, which makes each call faster (``scripts/benchmark.py``'s model table measures it):

- hard-swish written out as ``x * clip(x + 3, 0, 6) * (1/6)`` becomes ``x * HardSigmoid(x)``,
  which ONNX Runtime fuses into the convolution before it;
- a 2x ``Resize`` whose output size is computed at run time (``Shape -> Slice -> Concat``) gets
  constant scales, from the static input shape;
- squeeze-and-excitation gates, ``x[N,C,H,W] * g[N,C,1,1]`` (a broadcast ``Mul``, never run
  blocked), get ``g`` expanded to HxW by a nearest ``Resize`` first.

Robust Video Matting's decoder convolves concatenations (upsampled features, an encoder
skip, the frame itself) of 35, 59, 107 and 171 channels; ONNX Runtime runs those convolutions
unblocked, by im2col. ``split_concat_convs`` turns each into one convolution per concatenated
input, summed (no concatenation copied, each part's channels as they come), and
``aligned_conv_inputs`` pads any other input of such counts with zero channels (and the weights
with zero filters) up to a multiple of 4, which it runs blocked.

With a dynamic input size ONNX Runtime cannot tell that two convolution outputs it adds (a
split convolution's parts, a skip connection) have the same shape, and runs each sum as its own
``Add`` behind reshapes; ``level_shapes`` writes each value's size by pyramid level into the
graph (found by running it at a few sizes), and the sums go inside the convolutions.

``uint8_input`` moves the input's scaling into the graph so the caller can hand over uint8
pixels (a quarter of the bytes, no float image made in numpy).

Every rewrite matches its pattern exactly (constants included) and leaves anything else alone,
so any model can be passed through; ``tests/segment/test_graph.py`` checks the outputs are unchanged.

The package: ``plumbing`` (look-ups and node surgery shared by every rewrite), ``selfie`` (the
selfie models' rewrites and ``optimize``), ``rvm`` (RVM's decoder, and its refiner's cut),
``probing`` (``level_shapes``).
"""
from __future__ import annotations

from livebg.segment.onnx_rewrites.plumbing import dims, has_subgraphs, opset, prune
from livebg.segment.onnx_rewrites.probing import MAX_LEVEL, PROBES, level_shapes
from livebg.segment.onnx_rewrites.rvm import (
    aligned_conv_inputs,
    split_concat_convs,
    without_refiner,
)
from livebg.segment.onnx_rewrites.selfie import (
    Rewrites,
    channel_gates,
    hard_swish,
    optimize,
    static_resize,
    uint8_input,
)

__all__ = [
    "MAX_LEVEL", "PROBES", "Rewrites", "aligned_conv_inputs", "channel_gates", "dims", "hard_swish",
    "has_subgraphs", "level_shapes", "opset", "optimize", "prune", "split_concat_convs", "static_resize",
    "uint8_input", "without_refiner",
]
