"""Shapes found by running a graph: ``level_shapes`` writes each value's size by pyramid level
into a graph with a dynamic input size, so that ONNX Runtime fuses the sums of equal shapes.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

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
