"""The ONNX graph plumbing every rewrite here shares: look-ups over a graph (constants,
producers, consumers, static shapes), node surgery (insert, swap, prune) and a few questions a
rewrite asks of a model (its opset, whether it holds subgraphs, a value's channel count).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference


def dims(value_info) -> list[int | None]:
    """A value's static dims (None where a dim is symbolic or unknown)."""
    return [d.dim_value if d.HasField("dim_value") else None for d in value_info.type.tensor_type.shape.dim]


class Graph:
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


def node_attrs(node: Any) -> dict[str, Any]:
    """A node's attributes by name."""
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def is_close(value: float | None, target: float) -> bool:
    return value is not None and abs(value - target) <= 1e-6 * max(1.0, abs(target))


def other_input(node, name: str) -> str | None:
    rest = [i for i in node.input if i != name]
    return rest[0] if len(rest) == 1 else None


def insert_before(g: Graph, inserted: dict[int, onnx.NodeProto]) -> None:
    """Put each new node just before the node (by id) that reads its output, keeping the order."""
    nodes = []
    for node in g.graph.node:
        if id(node) in inserted:
            nodes.append(inserted[id(node)])
        nodes.append(node)
    del g.graph.node[:]
    g.graph.node.extend(nodes)


# Operators whose output has its first input's channels (followed back to find a count that
# shape inference leaves unknown, e.g. after a Resize whose size is computed at run time)
SAME_CHANNELS = {"Slice", "Resize", "AveragePool", "MaxPool", "Relu", "Clip", "Sigmoid", "Tanh",
                  "HardSigmoid", "Add", "Mul", "Sub", "Div"}


def channel_count(g: Graph, shapes: dict[str, list[int | None]], name: str, depth: int = 0) -> int | None:
    """The channel count (NCHW dim 1) of ``name``: from shape inference, else followed back
    through channel-keeping operators and channel concatenations."""
    known = shapes.get(name)
    if known and len(known) > 1 and known[1]:
        return known[1]
    node = g.producer.get(name)
    if node is None or depth > 32:
        return None
    if node.op_type in SAME_CHANNELS:
        return channel_count(g, shapes, node.input[0], depth + 1)
    if node.op_type == "Concat" and node_attrs(node).get("axis") == 1:
        parts = [channel_count(g, shapes, i, depth + 1) for i in node.input]
        return None if None in parts else sum(p for p in parts if p is not None)
    return None


def opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def has_subgraphs(model: onnx.ModelProto) -> bool:
    """True when a node holds a graph (If, Loop, Scan): its body may read any outer value, which
    the look-ups here do not follow."""
    kinds = (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
    return any(a.type in kinds for node in model.graph.node for a in node.attribute)


def swap_nodes(g: Graph, drop: set[int], replace: dict[int, Any]) -> None:
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
