"""The rewrites for Robust Video Matting's decoder on ONNX Runtime's CPU kernels (convolutions
of concatenations split, unaligned channel counts padded) and the cut of its refiner.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from livebg.segment.onnx_rewrites.plumbing import (
    Graph,
    channel_count,
    insert_before,
    node_attrs,
    opset,
    prune,
)


def aligned_conv_inputs(model: onnx.ModelProto, multiple: int = 4) -> int:
    """Zero channels padded onto the input of every plain convolution (one group, stored
    weights of its own) with at least 16 input channels that are not a multiple of
    ``multiple``, and zero filters onto its weights: the same output, from a layout ONNX
    Runtime's blocked kernels accept. Returns the count."""
    g = Graph(model)
    new_opset = opset(model) >= 11  # Pad takes its pads as an input from opset 11
    inserted = {}
    for node in g.graph.node:
        if node.op_type != "Conv" or len(node.input) < 2 or node.input[1] not in g.consts:
            continue
        attrs = node_attrs(node)
        weight = g.consts[node.input[1]]
        channels = weight.shape[1] if weight.ndim == 4 else 0
        if attrs.get("group", 1) != 1 or channels < 16 or channels % multiple == 0:
            continue
        if len(g.consumers.get(node.input[1], [])) != 1:
            continue  # a weight shared with another node keeps its shape
        extra = -channels % multiple
        padded_weight = np.concatenate([weight, np.zeros((weight.shape[0], extra, *weight.shape[2:]), weight.dtype)], 1)
        init = next(t for t in g.graph.initializer if t.name == node.input[1])
        init.CopyFrom(numpy_helper.from_array(padded_weight, node.input[1]))
        g.consts[node.input[1]] = padded_weight
        pads = [0, 0, 0, 0, 0, extra, 0, 0]  # NCHW begins, then ends: `extra` channels at the end
        padded = g.fresh(f"{node.input[0]}/aligned_{node.output[0]}")
        if new_opset:
            pad = helper.make_node("Pad", [node.input[0], g.add_const(f"{padded}/pads", np.array(pads, np.int64))],
                                   [padded], mode="constant", name=padded)
        else:
            pad = helper.make_node("Pad", [node.input[0]], [padded], mode="constant", pads=pads, name=padded)
        inserted[id(node)] = pad
        node.input[0] = padded
    insert_before(g, inserted)
    return len(inserted)


def split_concat_convs(model: onnx.ModelProto) -> int:
    """Every plain convolution (one group, stored weights of its own) that reads a channel
    concatenation read by nothing else becomes one convolution per concatenated input, summed:
    ``Conv(Concat(a, b), W) = Conv(a, W_a) + Conv(b, W_b)`` (the bias on the first). The same
    output, without the concatenation's copy, the padding ``aligned_conv_inputs`` would add and
    the layout reorder of the whole concatenation; ONNX Runtime fuses each sum into the
    convolution after it. A concatenation with a part of unknown channels (RVM's recurrent
    state, broadcast by an ``Expand``) is left whole: splitting those measured slower. RVM's
    decoder has eight to split (docs/speed.md). Returns the count."""
    g = Graph(model)
    shapes = g.shapes()
    replace: dict[int, list] = {}
    for node in g.graph.node:
        if node.op_type != "Conv" or len(node.input) < 2 or node.input[1] not in g.consts:
            continue
        concat = g.producer.get(node.input[0])
        if (concat is None or concat.op_type != "Concat" or node_attrs(concat).get("axis") != 1
                or g.only_consumer(concat.output[0], "Conv") is not node):
            continue
        weight = g.consts[node.input[1]]
        if node_attrs(node).get("group", 1) != 1 or weight.ndim != 4 or len(g.consumers.get(node.input[1], [])) != 1:
            continue
        counts = [channel_count(g, shapes, name) for name in concat.input]
        if None in counts or sum(c for c in counts if c is not None) != weight.shape[1]:
            continue
        nodes, total, start = [], None, 0
        for k, (name, count) in enumerate(zip(concat.input, counts)):
            assert count is not None
            part_weight = g.add_const(f"{node.input[1]}/part{k}", np.ascontiguousarray(weight[:, start:start + count]))
            start += count
            part = g.fresh(f"{node.output[0]}/part{k}")
            inputs = [name, part_weight] + ([node.input[2]] if k == 0 and len(node.input) > 2 else [])
            conv = helper.make_node("Conv", inputs, [part], name=part)
            conv.attribute.extend(node.attribute)
            nodes.append(conv)
            if total is not None:
                summed = node.output[0] if k == len(counts) - 1 else g.fresh(f"{node.output[0]}/sum{k}")
                nodes.append(helper.make_node("Add", [total, part], [summed], name=summed))
                part = summed
            total = part
        replace[id(node)] = nodes
    if replace:
        nodes = [m for n in g.graph.node for m in replace.get(id(n), [n])]
        del g.graph.node[:]
        g.graph.node.extend(nodes)
        prune(model)
    return len(replace)


def without_refiner(model: Any) -> bool:
    """Cut RVM's refiner out of the graph, in place: ``fgr`` and ``pha`` come from the decoder's
    projection (its 3 + 1 channels, split as the refiner's output was) instead of the refined
    ones. At ratio 1 the refiner filters the model's alpha at its own size, which livebg's guided
    refinement does again from the full frame. Found by shape, not by node names (the pattern:
    ``pha`` <- Clip <- Split [3, 1], and the other Split [3, 1] reading a 4-filter Conv);
    False, and the graph untouched, when it is not there."""
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
