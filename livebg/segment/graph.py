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
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference


@dataclass
class Rewrites:
    hard_swish: int = 0
    static_resize: int = 0
    gates: int = 0
    uint8_input: bool = False

    def __str__(self) -> str:
        return (f"{self.hard_swish} hard-swish, {self.static_resize} resize, {self.gates} gate rewrites"
                + (", uint8 input" if self.uint8_input else ""))


def dims(value_info) -> list[int | None]:
    """A value's static dims (None where a dim is symbolic or unknown)."""
    return [d.dim_value if d.HasField("dim_value") else None for d in value_info.type.tensor_type.shape.dim]


class _Graph:
    """Look-ups over one graph: constants, producers, consumers, static shapes."""

    def __init__(self, model: onnx.ModelProto):
        self.model = model
        self.graph = model.graph
        self.consts = {t.name: numpy_helper.to_array(t) for t in self.graph.initializer}
        self.producer = {out: node for node in self.graph.node for out in node.output}
        self.consumers: dict[str, list] = {}
        for node in self.graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.outputs = {o.name for o in self.graph.output}
        self.names = (set(self.consts) | {i.name for i in self.graph.input} | self.outputs
                      | {out for node in self.graph.node for out in node.output})

    def fresh(self, name: str) -> str:
        """``name``, or ``name`` with underscores added, unused by any value of the graph."""
        while name in self.names:
            name += "_"
        self.names.add(name)
        return name

    def scalar(self, name: str) -> float | None:
        value = self.consts.get(name)
        return float(value.reshape(-1)[0]) if value is not None and value.size == 1 else None

    def only_consumer(self, name: str, op_type: str):
        """The single node reading ``name`` if it is an ``op_type`` and ``name`` is internal."""
        users = self.consumers.get(name, [])
        if len(users) == 1 and users[0].op_type == op_type and name not in self.outputs:
            return users[0]
        return None

    def shapes(self) -> dict[str, list[int | None]]:
        inferred = shape_inference.infer_shapes(self.model)
        shapes = {}
        for info in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
            shapes[info.name] = dims(info)
        return shapes

    def add_const(self, name: str, value: np.ndarray) -> str:
        name = self.fresh(name)
        self.graph.initializer.append(numpy_helper.from_array(value, name))
        self.consts[name] = value
        return name


def _attrs(node: Any) -> dict[str, Any]:
    """A node's attributes by name."""
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _is_close(value: float | None, target: float) -> bool:
    return value is not None and abs(value - target) <= 1e-6 * max(1.0, abs(target))


def _other(node, name: str) -> str | None:
    rest = [i for i in node.input if i != name]
    return rest[0] if len(rest) == 1 else None


def _clip_bounds(g: _Graph, clip) -> tuple[float | None, float | None]:
    if len(clip.input) >= 3:  # opset 11+: min and max are inputs
        return g.scalar(clip.input[1]), g.scalar(clip.input[2])
    attrs = _attrs(clip)
    return attrs.get("min"), attrs.get("max")


def hard_swish(model: onnx.ModelProto) -> int:
    """x * clip(x + 3, 0, 6) * (1/6)  ->  x * HardSigmoid(x; 1/6, 0.5). Returns the count."""
    g = _Graph(model)
    shapes = g.shapes()
    drop: set[int] = set()
    replace: dict[int, Any] = {}

    def broadcasts_into(const: str | None, x: str) -> bool:  # a 1-element constant that cannot add dims to x
        rank = len(shapes[x]) if shapes.get(x) is not None else 0
        return const is not None and g.consts[const].ndim <= rank

    for add in g.graph.node:
        if add.op_type != "Add" or len(add.input) != 2:
            continue
        x = next((i for i in add.input if _is_close(g.scalar(_other(add, i) or ""), 3.0)
                  and broadcasts_into(_other(add, i), i)), None)
        clip = g.only_consumer(add.output[0], "Clip")
        if x is None or clip is None or clip.input[0] != add.output[0]:
            continue
        low, high = _clip_bounds(g, clip)
        scale = g.only_consumer(clip.output[0], "Mul")
        if not (_is_close(low, 0.0) and _is_close(high, 6.0)) or scale is None \
                or not _is_close(g.scalar(_other(scale, clip.output[0]) or ""), 1 / 6):
            continue
        product = g.only_consumer(scale.output[0], "Mul")
        if product is None or _other(product, scale.output[0]) != x \
                or not broadcasts_into(_other(scale, clip.output[0]), x):
            continue
        replace[id(scale)] = helper.make_node("HardSigmoid", [x], [scale.output[0]], alpha=1 / 6, beta=0.5,
                                              name=f"{scale.output[0]}/hard_sigmoid")
        drop.update((id(add), id(clip)))
    if replace:
        _swap_nodes(g, drop, replace)
    return len(replace)


def static_resize(model: onnx.ModelProto) -> int:
    """Resize to sizes = Concat(Slice(Shape(x), 0, 2), [h, w]) on a statically shaped x ->
    Resize by constant scales [1, 1, h / H, w / W]. Returns the count."""
    count = 0
    while True:  # each fix lets shape inference see one Resize further
        g = _Graph(model)
        shapes = g.shapes()
        fixed = False
        for node in g.graph.node:
            if node.op_type != "Resize" or len(node.input) < 4 or not node.input[3] or node.input[3] in g.consts:
                continue
            attrs = _attrs(node)
            if "axes" in attrs or attrs.get("keep_aspect_ratio_policy", b"stretch") != b"stretch":
                continue  # scales cannot express these (opset 18)
            concat = g.producer.get(node.input[3])
            if concat is None or concat.op_type != "Concat" or len(concat.input) != 2:
                continue
            sliced, hw = g.producer.get(concat.input[0]), g.consts.get(concat.input[1])
            if sliced is None or sliced.op_type != "Slice" or hw is None or hw.size != 2:
                continue
            shape_of = g.producer.get(sliced.input[0])
            if shape_of is None or shape_of.op_type != "Shape" or shape_of.attribute or shape_of.input[0] != node.input[0] \
                    or [g.consts.get(i, np.array([])).tolist() for i in sliced.input[1:3]] != [[0], [2]]:
                continue
            dims = shapes.get(node.input[0])
            if not dims or len(dims) != 4 or any(d is None for d in dims):
                continue
            scales = np.array([1, 1, hw[0] / dims[2], hw[1] / dims[3]], np.float32)
            if not np.array_equal(np.array(dims[2:]) * scales[2:], hw.astype(np.float32)):
                continue  # only sizes the scales reproduce exactly
            x, roi = node.input[0], node.input[1]
            del node.input[:]
            node.input.extend([x, roi, g.add_const(f"{node.output[0]}/scales", scales)])
            count += 1
            fixed = True
            break
        if not fixed:
            if count:
                prune(model)
            return count


def channel_gates(model: onnx.ModelProto) -> int:
    """x[N,C,H,W] * g[N,C,1,1] -> x * Resize(g, nearest, to HxW). Returns the count."""
    g = _Graph(model)
    shapes = g.shapes()
    inserted = {}
    for node in g.graph.node:
        if node.op_type != "Mul" or len(node.input) != 2:
            continue
        for k in (0, 1):
            x, gate = shapes.get(node.input[k]), shapes.get(node.input[1 - k])
            if not x or not gate or len(x) != 4 or len(gate) != 4 or None in x or None in gate:
                continue
            if gate[2:] != [1, 1] or int(x[2] or 0) * int(x[3] or 0) <= 1 or gate[:2] != x[:2] or node.input[1 - k] in g.consts:
                continue
            scales = g.add_const(f"{node.output[0]}/gate_scales", np.array([1, 1, x[2], x[3]], np.float32))
            roi = g.add_const(f"{node.output[0]}/gate_roi", np.array([], np.float32))
            full = g.fresh(f"{node.input[1 - k]}/full_{node.output[0]}")
            inserted[id(node)] = helper.make_node(
                "Resize", [node.input[1 - k], roi, scales], [full], mode="nearest",
                coordinate_transformation_mode="asymmetric", nearest_mode="floor", name=full)
            node.input[1 - k] = full
            break
    _insert_before(g, inserted)
    return len(inserted)


def _insert_before(g: _Graph, inserted: dict[int, onnx.NodeProto]) -> None:
    """Put each new node just before the node (by id) that reads its output, keeping the order."""
    nodes = []
    for node in g.graph.node:
        if id(node) in inserted:
            nodes.append(inserted[id(node)])
        nodes.append(node)
    del g.graph.node[:]
    g.graph.node.extend(nodes)


def uint8_input(model: onnx.ModelProto, name: str, scale: float, offset: float) -> None:
    """Input ``name`` becomes uint8; Cast (to its old type), * scale (and + offset) inside the
    graph give what it was fed before (pixels * scale + offset)."""
    g = _Graph(model)
    inp = next(i for i in model.graph.input if i.name == name)
    kind = inp.type.tensor_type.elem_type
    inner, cast = g.fresh(f"{name}/float"), g.fresh(f"{name}/cast")
    for node in model.graph.node:
        for i, value in enumerate(node.input):
            if value == name:
                node.input[i] = inner
    dtype = onnx.helper.tensor_dtype_to_np_dtype(kind)
    nodes = [helper.make_node("Cast", [name], [cast], to=kind, name=cast)]
    scaled = g.fresh(f"{name}/scaled") if offset else inner
    nodes.append(helper.make_node("Mul", [cast, g.add_const(f"{name}/scale", np.array(scale, dtype))],
                                  [scaled], name=g.fresh(f"{name}/scale_node")))
    if offset:
        nodes.append(helper.make_node("Add", [scaled, g.add_const(f"{name}/offset", np.array(offset, dtype))],
                                      [inner], name=g.fresh(f"{name}/offset_node")))
    rest = list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(nodes + rest)
    inp.type.tensor_type.elem_type = TensorProto.UINT8


def aligned_conv_inputs(model: onnx.ModelProto, multiple: int = 4) -> int:
    """Zero channels padded onto the input of every plain convolution (one group, stored
    weights of its own) with at least 16 input channels that are not a multiple of
    ``multiple``, and zero filters onto its weights: the same output, from a layout ONNX
    Runtime's blocked kernels accept. Returns the count."""
    g = _Graph(model)
    new_opset = opset(model) >= 11  # Pad takes its pads as an input from opset 11
    inserted = {}
    for node in g.graph.node:
        if node.op_type != "Conv" or len(node.input) < 2 or node.input[1] not in g.consts:
            continue
        attrs = _attrs(node)
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
    _insert_before(g, inserted)
    return len(inserted)


# Operators whose output has its first input's channels (followed back to find a count that
# shape inference leaves unknown, e.g. after a Resize whose size is computed at run time)
_SAME_CHANNELS = {"Slice", "Resize", "AveragePool", "MaxPool", "Relu", "Clip", "Sigmoid", "Tanh",
                  "HardSigmoid", "Add", "Mul", "Sub", "Div"}


def _channels(g: _Graph, shapes: dict[str, list[int | None]], name: str, depth: int = 0) -> int | None:
    """The channel count (NCHW dim 1) of ``name``: from shape inference, else followed back
    through channel-keeping operators and channel concatenations."""
    known = shapes.get(name)
    if known and len(known) > 1 and known[1]:
        return known[1]
    node = g.producer.get(name)
    if node is None or depth > 32:
        return None
    if node.op_type in _SAME_CHANNELS:
        return _channels(g, shapes, node.input[0], depth + 1)
    if node.op_type == "Concat" and _attrs(node).get("axis") == 1:
        parts = [_channels(g, shapes, i, depth + 1) for i in node.input]
        return None if None in parts else sum(p for p in parts if p is not None)
    return None


def split_concat_convs(model: onnx.ModelProto) -> int:
    """Every plain convolution (one group, stored weights of its own) that reads a channel
    concatenation read by nothing else becomes one convolution per concatenated input, summed:
    ``Conv(Concat(a, b), W) = Conv(a, W_a) + Conv(b, W_b)`` (the bias on the first). The same
    output, without the concatenation's copy, the padding ``aligned_conv_inputs`` would add and
    the layout reorder of the whole concatenation; ONNX Runtime fuses each sum into the
    convolution after it. A concatenation with a part of unknown channels (RVM's recurrent
    state, broadcast by an ``Expand``) is left whole: splitting those measured slower. RVM's
    decoder has eight to split (docs/speed.md). Returns the count."""
    g = _Graph(model)
    shapes = g.shapes()
    replace: dict[int, list] = {}
    for node in g.graph.node:
        if node.op_type != "Conv" or len(node.input) < 2 or node.input[1] not in g.consts:
            continue
        concat = g.producer.get(node.input[0])
        if (concat is None or concat.op_type != "Concat" or _attrs(concat).get("axis") != 1
                or g.only_consumer(concat.output[0], "Conv") is not node):
            continue
        weight = g.consts[node.input[1]]
        if _attrs(node).get("group", 1) != 1 or weight.ndim != 4 or len(g.consumers.get(node.input[1], [])) != 1:
            continue
        counts = [_channels(g, shapes, name) for name in concat.input]
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


def opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def has_subgraphs(model: onnx.ModelProto) -> bool:
    """True when a node holds a graph (If, Loop, Scan): its body may read any outer value, which
    the look-ups here do not follow."""
    kinds = (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
    return any(a.type in kinds for node in model.graph.node for a in node.attribute)


def optimize(model: onnx.ModelProto, *, input_name: str, scale: float, offset: float) -> Rewrites | None:
    """All of the above, in place (the Resize rewrites need opset 11's Resize). None, and the
    model untouched, for graphs with subgraphs."""
    if has_subgraphs(model):
        return None
    done = Rewrites(hard_swish=hard_swish(model))
    if opset(model) >= 11:
        done.static_resize = static_resize(model)
        done.gates = channel_gates(model)
    uint8_input(model, input_name, scale, offset)
    done.uint8_input = True
    return done


def _swap_nodes(g: _Graph, drop: set[int], replace: dict[int, Any]) -> None:
    nodes = [replace.get(id(n), n) for n in g.graph.node if id(n) not in drop]
    del g.graph.node[:]
    g.graph.node.extend(nodes)
    prune(g.model)


def prune(model: onnx.ModelProto) -> None:
    """Drop nodes and constants nothing reads any more (the replaced patterns' leftovers)."""
    graph = model.graph
    needed = {o.name for o in graph.output} | {i.name for i in graph.input}  # stored inputs stay
    keep = []
    for node in reversed(list(graph.node)):
        if any(out in needed for out in node.output):
            keep.append(node)
            needed.update(node.input)
    keep.reverse()
    del graph.node[:]
    graph.node.extend(keep)
    initializers = [t for t in graph.initializer if t.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(initializers)


# Picture sizes (height, width) and batch sizes ``level_shapes`` runs a graph at: odd and even
# sides with different remainders by 2, 4, 8 and 16, and sides from 40 to 117, so that a size
# that only matches a level at some of them (or a fixed size that matches a deep level at all
# of them) is found out.
PROBES = ((80, 112, 1), (83, 117, 1), (90, 106, 2), (100, 75, 1), (61, 97, 1), (40, 56, 1))
MAX_LEVEL = 5  # 1/32 of the picture


def level_shapes(model: onnx.ModelProto, input_name: str, feeds) -> int:
    """Write the shape of every value of the graph that is a picture at a fixed level of a
    pyramid over the input (side ceil(H / 2^k), ceil(W / 2^k), as strided convolutions and
    pools make them) into the graph, with symbolic dims shared by level: ``n, C, h<k>, w<k>``.
    Returns how many values got one (0: the graph is left as it was).

    Why: ONNX Runtime adds two blocked (NCHWc) convolution outputs inside the convolution (a
    fused sum, no pass of its own) only when it can tell from the graph that their shapes are
    equal. In a graph with a dynamic input size, shape inference cannot follow sizes through
    ``Shape -> Slice`` and ``Resize``, so the sum runs as a separate ``Add`` behind reshapes
    (RVM's decoder: every convolution of a concatenation, split by ``split_concat_convs``, and
    every skip connection). Found, not assumed: the graph runs at each of ``PROBES`` (``feeds(h,
    w, n)`` gives the inputs, ``input_name`` the picture) with every value as an output, and a
    value is written only if its shape is the same level's at every probe. A value that is not
    (a 2x ``Resize`` before the ``Slice`` that crops it to its skip) is left unknown."""
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    del probe.graph.value_info[:]
    outputs = {o.name for o in probe.graph.output}
    names = [out for node in probe.graph.node for out in node.output if out and out not in outputs]
    probe.graph.output.extend(helper.ValueInfoProto(name=name) for name in names)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
        order = [o.name for o in session.get_outputs()]
        inputs = [feeds(h, w, n) for h, w, n in PROBES]
        results = [{**dict(zip(order, session.run(None, feed))), input_name: feed[input_name]} for feed in inputs]
    except Exception:  # a graph these probes cannot run: nothing learnt, nothing written
        return 0

    def level(sides: list[int], axis: int) -> str | int | None:
        """The level of a picture's sides along ``axis`` (0: height, 1: width) at the probes."""
        if all(s == 1 for s in sides):
            return 1
        for k in range(MAX_LEVEL + 1):
            if all(s == -(-probe[axis] // 2 ** k) for s, probe in zip(sides, PROBES)):
                return f"{'hw'[axis]}{k}"
        return None

    found: dict[str, tuple] = {}
    for name in [input_name, *names, *outputs]:
        values = [result.get(name) for result in results]
        arrays = [v for v in values if isinstance(v, np.ndarray) and v.ndim == 4]
        if len(arrays) != len(PROBES):
            continue
        if any(v.shape[0] != probe[2] for v, probe in zip(arrays, PROBES)) or len({v.shape[1] for v in arrays}) != 1:
            continue
        dims_h, dims_w = level([v.shape[2] for v in arrays], 0), level([v.shape[3] for v in arrays], 1)
        if dims_h is None or dims_w is None:
            continue
        found[name] = (helper.np_dtype_to_tensor_dtype(arrays[0].dtype), ["n", arrays[0].shape[1], dims_h, dims_w])
    if not found:
        return 0
    written = len(found)
    kept = [v for v in model.graph.value_info if v.name not in found]
    del model.graph.value_info[:]
    model.graph.value_info.extend(kept)
    for value in list(model.graph.input) + list(model.graph.output):
        if value.name in found:
            value.type.tensor_type.shape.CopyFrom(helper.make_tensor_type_proto(*found.pop(value.name)).tensor_type.shape)
    model.graph.value_info.extend(helper.make_tensor_value_info(name, dtype, shape) for name, (dtype, shape) in found.items())
    return written
