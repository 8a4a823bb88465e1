"""The rewrites for the MediaPipe selfie models' slow spots on ONNX Runtime's CPU kernels
(hard-swish, run-time Resize sizes, squeeze-and-excitation gates) and the uint8 input;
``optimize`` runs them all (``segment.onnx_model``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from livebg.segment.onnx_rewrites.plumbing import (
    Graph,
    has_subgraphs,
    insert_before,
    is_close,
    node_attrs,
    opset,
    other_input,
    prune,
    swap_nodes,
)


@dataclass
class Rewrites:
    hard_swish: int = 0
    static_resize: int = 0
    gates: int = 0
    uint8_input: bool = False

    def __str__(self) -> str:
        return (f"{self.hard_swish} hard-swish, {self.static_resize} resize, {self.gates} gate rewrites"
                + (", uint8 input" if self.uint8_input else ""))


def _clip_bounds(g: Graph, clip) -> tuple[float | None, float | None]:
    if len(clip.input) >= 3:  # opset 11+: min and max are inputs
        return g.scalar(clip.input[1]), g.scalar(clip.input[2])
    attrs = node_attrs(clip)
    return attrs.get("min"), attrs.get("max")


def hard_swish(model: onnx.ModelProto) -> int:
    """x * clip(x + 3, 0, 6) * (1/6)  ->  x * HardSigmoid(x; 1/6, 0.5). Returns the count."""
    g = Graph(model)
    shapes = g.shapes()
    drop: set[int] = set()
    replace: dict[int, Any] = {}

    def broadcasts_into(const: str | None, x: str) -> bool:  # a 1-element constant that cannot add dims to x
        rank = len(shapes[x]) if shapes.get(x) is not None else 0
        return const is not None and g.consts[const].ndim <= rank

    for add in g.graph.node:
        if add.op_type != "Add" or len(add.input) != 2:
            continue
        x = next((i for i in add.input if is_close(g.scalar(other_input(add, i) or ""), 3.0)
                  and broadcasts_into(other_input(add, i), i)), None)
        clip = g.only_consumer(add.output[0], "Clip")
        if x is None or clip is None or clip.input[0] != add.output[0]:
            continue
        low, high = _clip_bounds(g, clip)
        scale = g.only_consumer(clip.output[0], "Mul")
        if not (is_close(low, 0.0) and is_close(high, 6.0)) or scale is None \
                or not is_close(g.scalar(other_input(scale, clip.output[0]) or ""), 1 / 6):
            continue
        product = g.only_consumer(scale.output[0], "Mul")
        if product is None or other_input(product, scale.output[0]) != x \
                or not broadcasts_into(other_input(scale, clip.output[0]), x):
            continue
        replace[id(scale)] = helper.make_node("HardSigmoid", [x], [scale.output[0]], alpha=1 / 6, beta=0.5,
                                              name=f"{scale.output[0]}/hard_sigmoid")
        drop.update((id(add), id(clip)))
    if replace:
        swap_nodes(g, drop, replace)
    return len(replace)


def static_resize(model: onnx.ModelProto) -> int:
    """Resize to sizes = Concat(Slice(Shape(x), 0, 2), [h, w]) on a statically shaped x ->
    Resize by constant scales [1, 1, h / H, w / W]. Returns the count."""
    count = 0
    while True:  # each fix lets shape inference see one Resize further
        g = Graph(model)
        shapes = g.shapes()
        fixed = False
        for node in g.graph.node:
            if node.op_type != "Resize" or len(node.input) < 4 or not node.input[3] or node.input[3] in g.consts:
                continue
            attrs = node_attrs(node)
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
    g = Graph(model)
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
    insert_before(g, inserted)
    return len(inserted)


def uint8_input(model: onnx.ModelProto, name: str, scale: float, offset: float) -> None:
    """Input ``name`` becomes uint8; Cast (to its old type), * scale (and + offset) inside the
    graph give what it was fed before (pixels * scale + offset)."""
    g = Graph(model)
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
