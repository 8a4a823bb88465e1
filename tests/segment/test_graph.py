"""livebg.segment.onnx_rewrites: the ONNX rewrites keep every model's output, match only their exact
patterns, and take away the layout conversions ONNX Runtime put around the selfie model's nodes."""
from __future__ import annotations

import collections

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from livebg.errors import ModelError
from livebg.segment import onnx_rewrites as graph
from livebg.segment.onnx_model import OnnxSegmenter

MODELS = {  # file: (counts of hard-swish, resize, gate rewrites), input layout, scale, offset
    "mediapipe_selfie_256x256.onnx": ((11, 3, 10), "NHWC", 1 / 255, 0.0),
    "mediapipe_selfie_landscape_144x256.onnx": ((11, 0, 4), "NHWC", 1 / 255, 0.0),
    "deeplabv3_mobilenetv2_voc_257x257.onnx": ((0, 0, 0), "NCHW", 1 / 127.5, -1.0),
}


def session(model, path: str = "") -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if path:
        options.optimized_model_filepath = path
    data = model if isinstance(model, bytes) else model.SerializeToString()
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def real_inputs(shared, shape, layout) -> list[np.ndarray]:
    """Two lucia frames and a portrait, resized to the model's input, uint8, in its layout."""
    h, w = (shape[1], shape[2]) if layout == "NHWC" else (shape[2], shape[3])
    paths = [shared / "media/labeled/davis_lucia/JPEGImages/00000.jpg",
             shared / "media/labeled/davis_lucia/JPEGImages/00040.jpg",
             shared / "media/portraits/girl-919048_1280.jpg"]
    out = []
    for path in paths:
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        x = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)[None]
        out.append(x if layout == "NHWC" else np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    return out


@pytest.mark.parametrize("name", MODELS)
def test_rewritten_models_give_the_same_output_on_real_frames(shared, name):
    counts, layout, scale, offset = MODELS[name]
    original = onnx.load(str(shared / "models" / name))
    model = onnx.load(str(shared / "models" / name))
    done = graph.optimize(model, input_name=original.graph.input[0].name, scale=scale, offset=offset)
    assert (done.hard_swish, done.static_resize, done.gates) == counts and done.uint8_input
    onnx.checker.check_model(model, full_check=True)
    before, after = session(original), session(model)
    assert after.get_inputs()[0].type == "tensor(uint8)"
    shape = [d if isinstance(d, int) else 1 for d in before.get_inputs()[0].shape]
    for x in real_inputs(shared, shape, layout):
        expected = before.run(None, {before.get_inputs()[0].name: x.astype(np.float32) * np.float32(scale) + np.float32(offset)})[0]
        got = after.run(None, {after.get_inputs()[0].name: x})[0]
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() < 1e-4, name


def test_onnx_runtime_keeps_the_rewritten_selfie_model_in_its_blocked_layout(shared, tmp_path):
    """What the rewrites are for: ONNX Runtime's optimised graph of the selfie model loses
    almost all of its NCHW <-> NCHWc conversions (54 before, 4 after, with ONNX Runtime 1.31)."""
    def conversions(model, name):
        session(model, str(tmp_path / name))
        ops = collections.Counter(n.op_type for n in onnx.load(str(tmp_path / name)).graph.node)
        return ops["ReorderInput"] + ops["ReorderOutput"]

    path = shared / "models/mediapipe_selfie_256x256.onnx"
    model = onnx.load(str(path))
    graph.optimize(model, input_name=model.graph.input[0].name, scale=1 / 255, offset=0.0)
    before, after = conversions(onnx.load(str(path)), "before.onnx"), conversions(model, "after.onnx")
    if before == 0:
        pytest.skip("this ONNX Runtime build has no blocked-layout (NCHWc) transformer")
    assert after <= 8 < 30 <= before, (before, after)


def test_segmenter_gives_the_same_maps_with_and_without_rewrites(shared):
    frame = cv2.cvtColor(cv2.imread(str(shared / "media/labeled/davis_lucia/JPEGImages/00030.jpg")), cv2.COLOR_BGR2RGB)
    for name in ("mediapipe_selfie_256x256.onnx", "deeplabv3_mobilenetv2_voc_257x257.onnx"):
        plain = OnnxSegmenter(shared / "models" / name, name=name, rewrite=False)
        fast = OnnxSegmenter(shared / "models" / name, name=name)
        assert plain.rewrites is None and fast.rewrites is not None
        assert plain._input([frame]).dtype == np.float32 and fast._input([frame]).dtype == np.uint8
        assert np.abs(plain.predict([frame])[0].alpha - fast.predict([frame])[0].alpha).max() < 1e-4, name


# -- the patterns are matched exactly ----------------------------------------------------------

def tiny_model(nodes, inits, *, x_shape=(1, 4, 8, 8), out_shape=None, opset=11):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, list(out_shape or x_shape))
    g = helper.make_graph(nodes, "t", [x], [y], [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def hard_swish_nodes(three=3.0, six=6.0, sixth=1 / 6):
    nodes = [helper.make_node("Add", ["x", "three"], ["a"]),
             helper.make_node("Clip", ["a", "zero", "six"], ["c"]),
             helper.make_node("Mul", ["sixth", "c"], ["s"]),
             helper.make_node("Mul", ["x", "s"], ["y"])]
    return nodes, {"three": three, "zero": 0.0, "six": six, "sixth": sixth}


def run(model, x):
    return session(model).run(None, {"x": x})[0]


def test_hard_swish_becomes_hard_sigmoid_only_with_its_constants():
    x = np.random.default_rng(0).normal(0, 4, (1, 4, 8, 8)).astype(np.float32)
    model = tiny_model(*hard_swish_nodes())
    expected = run(model, x)
    assert graph.hard_swish(model) == 1
    assert [n.op_type for n in model.graph.node] == ["HardSigmoid", "Mul"]
    assert {t.name for t in model.graph.initializer} == set()  # the pattern's constants went too
    assert np.abs(run(model, x) - expected).max() < 1e-5
    for wrong in ({"three": 2.0}, {"six": 5.0}, {"sixth": 0.2}):
        model = tiny_model(*hard_swish_nodes(**wrong))
        assert graph.hard_swish(model) == 0 and len(model.graph.node) == 4, wrong


def resize_model(target, size=8):
    nodes = [helper.make_node("Shape", ["x"], ["shape"]),
             helper.make_node("Slice", ["shape", "start", "end"], ["nc"]),
             helper.make_node("Concat", ["nc", "hw"], ["sizes"], axis=0),
             helper.make_node("Resize", ["x", "roi", "roi", "sizes"], ["y"], mode="linear",
                              coordinate_transformation_mode="half_pixel")]
    inits = [numpy_helper.from_array(np.array([0], np.int64), "start"),
             numpy_helper.from_array(np.array([2], np.int64), "end"),
             numpy_helper.from_array(np.array(target, np.int64), "hw"),
             numpy_helper.from_array(np.array([], np.float32), "roi")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, size, size])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, None, None])
    return helper.make_model(helper.make_graph(nodes, "t", [x], [y], inits), opset_imports=[helper.make_opsetid("", 11)], ir_version=8)


def test_run_time_resize_sizes_become_constant_scales_only_when_exact():
    x = np.random.default_rng(1).random((1, 4, 8, 8), np.float32)
    model = resize_model([16, 16])
    expected = run(model, x)
    assert graph.static_resize(model) == 1
    assert [n.op_type for n in model.graph.node] == ["Resize"]
    assert np.array_equal(run(model, x), expected)
    model = resize_model([12, 12], size=6)  # 2x again, from a size that is not a power of two
    assert graph.static_resize(model) == 1
    model = resize_model([10, 10], size=6)  # 6 * float32(10 / 6) is not 10: left alone
    assert graph.static_resize(model) == 0 and len(model.graph.node) == 4


def gate_model(gate_shape):
    nodes = [helper.make_node("ReduceMean", ["x"], ["m"], axes=[2, 3], keepdims=1),
             helper.make_node("Sigmoid", ["m"], ["g"])]
    if gate_shape != (1, 4, 1, 1):
        nodes.append(helper.make_node("Expand", ["g", "gshape"], ["g2"]))
        nodes.append(helper.make_node("Mul", ["x", "g2"], ["y"]))
        inits = [numpy_helper.from_array(np.array(gate_shape, np.int64), "gshape")]
    else:
        nodes.append(helper.make_node("Mul", ["x", "g"], ["y"]))
        inits = []
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])
    return helper.make_model(helper.make_graph(nodes, "t", [x], [y], inits), opset_imports=[helper.make_opsetid("", 11)], ir_version=8)


def test_channel_gates_are_expanded_and_nothing_else():
    x = np.random.default_rng(2).random((1, 4, 8, 8), np.float32)
    model = gate_model((1, 4, 1, 1))
    expected = run(model, x)
    assert graph.channel_gates(model) == 1
    assert [n.op_type for n in model.graph.node] == ["ReduceMean", "Sigmoid", "Resize", "Mul"]
    assert np.array_equal(run(model, x), expected)
    model = gate_model((1, 4, 8, 8))  # already full size: nothing to do
    assert graph.channel_gates(model) == 0


def test_uint8_input_scales_inside_the_graph():
    model = tiny_model([helper.make_node("Identity", ["x"], ["y"])], {})
    graph.uint8_input(model, "x", 1 / 127.5, -1.0)
    x = np.arange(256, dtype=np.uint8).reshape(1, 4, 8, 8)
    assert session(model).get_inputs()[0].type == "tensor(uint8)"
    assert np.allclose(run(model, x), x / 127.5 - 1, atol=1e-6)


def test_constants_that_would_add_dimensions_are_not_scalars():
    """A 1-element [1, 1, 1] constant broadcast into a 2-D x makes the output 3-D: replacing the
    pattern by HardSigmoid(x) would drop that dimension, so it is left alone."""
    nodes, inits = hard_swish_nodes()
    model = tiny_model(nodes, {}, x_shape=(4, 8), out_shape=(1, 4, 8))
    for name, value in inits.items():
        model.graph.initializer.append(numpy_helper.from_array(np.full((1, 1, 1), value, np.float32), name))
    assert graph.hard_swish(model) == 0 and len(model.graph.node) == 4


def test_resize_with_an_aspect_policy_keeps_its_sizes():
    model = resize_model([16, 16])
    model.graph.node[-1].attribute.append(helper.make_attribute("keep_aspect_ratio_policy", "not_larger"))
    model.opset_import[0].version = 18
    assert graph.static_resize(model) == 0 and len(model.graph.node) == 4


def test_stored_values_listed_as_inputs_stay_and_the_image_input_is_found(shared):
    """Older exports list their weights among the graph's inputs, sometimes first: the rewrites
    keep every listed input fed, and the uint8 input is the image, not a weight."""
    model = onnx.load(str(shared / "models/mediapipe_selfie_256x256.onnx"))
    image = model.graph.input[0]
    stored = [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in model.graph.initializer]
    del model.graph.input[:]
    model.graph.input.extend(stored[:3] + [image] + stored[3:])
    model.ir_version = 3
    from livebg.segment.onnx_model import model_input

    assert model_input(model).name == image.name
    expected = session(model).run(None, {image.name: np.full((1, 256, 256, 3), 0.5, np.float32)})[0]
    done = graph.optimize(model, input_name=image.name, scale=1 / 255, offset=0.0)
    assert done.hard_swish == 11
    fed = session(model)
    assert [i.name for i in fed.get_inputs()] == [image.name]  # the weights keep their values
    got = fed.run(None, {image.name: np.full((1, 256, 256, 3), 127, np.uint8)})[0]
    assert np.abs(got - expected).max() < 1e-2  # 127/255 against 0.5


def test_graphs_with_subgraphs_are_left_as_exported():
    then = helper.make_graph([helper.make_node("Identity", ["t"], ["r"])], "then", [],
                             [helper.make_tensor_value_info("r", TensorProto.FLOAT, [1, 4, 8, 8])])
    other = helper.make_graph([helper.make_node("Identity", ["x"], ["r2"])], "else", [],
                              [helper.make_tensor_value_info("r2", TensorProto.FLOAT, [1, 4, 8, 8])])
    nodes = [helper.make_node("Relu", ["x"], ["t"]),  # read only inside the If
             helper.make_node("If", ["cond"], ["y"], then_branch=then, else_branch=other)]
    model = tiny_model(nodes, {})
    model.graph.initializer.append(numpy_helper.from_array(np.array(True), "cond"))
    before = model.SerializeToString()
    assert graph.optimize(model, input_name="x", scale=1.0, offset=0.0) is None
    assert model.SerializeToString() == before


def test_a_model_the_rewrites_break_runs_as_exported(shared, monkeypatch, capsys):
    """If ONNX Runtime refuses the rewritten graph, the segmenter says so and loads the file as
    exported (the file is fine: no 'check the file' error)."""
    def break_it(model, **kwargs):
        del model.graph.node[1:]
        return graph.Rewrites(uint8_input=True)

    monkeypatch.setattr(graph, "optimize", break_it)
    segmenter = OnnxSegmenter(shared / "models/mediapipe_selfie_256x256.onnx", name="selfie")
    assert segmenter.rewrites is None
    assert "runs without graph rewrites" in capsys.readouterr().err
    frame = np.full((270, 480, 3), 128, np.uint8)
    assert segmenter.predict([frame])[0].alpha.shape == (256, 256)


_REAL_SESSION = ort.InferenceSession


class _FailingRuns:
    """Stands in for onnxruntime.InferenceSession: loads as the real one does, but ``run`` raises
    on the sessions ``fails`` picks (by creation order)."""

    made: list = []
    fails = staticmethod(lambda index: False)

    def __init__(self, *args, **kwargs):
        self._session = _REAL_SESSION(*args, **kwargs)
        self._fails = self.fails(len(self.made))
        self.made.append(self)

    def run(self, *args, **kwargs):
        if self._fails:
            raise RuntimeError("a kernel failed at run time")
        return self._session.run(*args, **kwargs)

    def get_providers(self):
        return self._session.get_providers()


def _failing_runs(monkeypatch, fails):
    monkeypatch.setattr(_FailingRuns, "made", [])
    monkeypatch.setattr(_FailingRuns, "fails", staticmethod(fails))
    monkeypatch.setattr(ort, "InferenceSession", _FailingRuns)


def test_a_rewritten_graph_that_loads_but_cannot_run_falls_back_at_load(shared, monkeypatch, capsys):
    """The blank run at load catches a rewritten graph ONNX Runtime accepts but fails to run: the
    model then runs as exported, instead of failing on the first frame."""
    _failing_runs(monkeypatch, fails=lambda index: index == 0)  # the first session is the rewritten one
    segmenter = OnnxSegmenter(shared / "models/mediapipe_selfie_256x256.onnx", name="selfie")
    assert segmenter.rewrites is None and len(_FailingRuns.made) == 2
    assert "runs without graph rewrites (RuntimeError: a kernel failed at run time)" in capsys.readouterr().err
    assert segmenter.predict([np.full((270, 480, 3), 128, np.uint8)])[0].alpha.shape == (256, 256)


def test_a_model_that_cannot_run_is_a_model_error_at_load(shared, monkeypatch):
    _failing_runs(monkeypatch, fails=lambda index: True)
    with pytest.raises(ModelError, match=r"ONNX Runtime cannot run .*mediapipe_selfie_256x256.onnx .*a kernel failed"):
        OnnxSegmenter(shared / "models/mediapipe_selfie_256x256.onnx", name="selfie")


def test_output_shape_is_inferred_when_the_file_leaves_it_out(shared, tmp_path):
    model = onnx.load(str(shared / "models/mediapipe_selfie_256x256.onnx"))
    model.graph.output[0].type.tensor_type.ClearField("shape")
    onnx.save(model, str(tmp_path / "no_output_shape.onnx"))
    segmenter = OnnxSegmenter(tmp_path / "no_output_shape.onnx", name="selfie")
    assert segmenter.output_kind == "probability" and segmenter.rewrites is not None
    assert segmenter.predict([np.full((270, 480, 3), 128, np.uint8)])[0].alpha.shape == (256, 256)


def test_aligned_conv_inputs_keep_rvms_output_and_leave_aligned_convolutions_alone(shared):
    """RVM's decoder convolves concatenations of 35, 59, 107 and 171 channels: those four get
    zero channels up to a multiple of 4, and the outputs stay the same on a real frame."""
    model = onnx.load(str(shared / "models/rvm_mobilenetv3_fp32.onnx"))
    before = session(model)
    assert graph.aligned_conv_inputs(model) == 4
    assert graph.aligned_conv_inputs(model) == 0  # aligned now; the frame's own 3 channels are left alone
    image = cv2.imread(str(shared / "media/labeled/davis_lucia/JPEGImages/00000.jpg"))[::2, ::2, ::-1]
    feed = {"src": np.ascontiguousarray(image.transpose(2, 0, 1)[None], np.float32) / 255,
            "downsample_ratio": np.array([1.0], np.float32),
            **{f"r{i}i": np.zeros((1, 1, 1, 1), np.float32) for i in range(1, 5)}}
    for a, b in zip(before.run(None, feed), session(model).run(None, feed)):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_convolutions_of_concatenations_are_split_with_rvms_output_kept(shared):
    """RVM convolves 9 channel concatenations of known channels (8 in its decoder, 4 of them
    with the frame's 3 channels; 1 in its refiner); each becomes a sum of one convolution per part, and RVM's
    outputs stay the same over consecutive real frames (the state carried), at ratio 1 and
    below (where the refiner works)."""
    model = onnx.load(str(shared / "models/rvm_mobilenetv3_fp32.onnx"))
    before = session(model)
    assert graph.split_concat_convs(model) == 9
    assert graph.split_concat_convs(model) == 0  # nothing left to split
    assert graph.aligned_conv_inputs(model) == 0  # no concatenation of 35..171 channels is read any more
    after = session(model)
    frames = [cv2.imread(str(shared / f"media/labeled/davis_parkour/JPEGImages/{i:05d}.jpg"))[::2, ::2, ::-1] for i in range(3)]
    for ratio in (1.0, 0.5):
        states = [[np.zeros((1, 1, 1, 1), np.float32)] * 4 for _ in range(2)]
        for image in frames:
            outs = []
            for k, s in enumerate((before, after)):
                feed = {"src": np.ascontiguousarray(image.transpose(2, 0, 1)[None], np.float32) / 255,
                        "downsample_ratio": np.array([ratio], np.float32),
                        **{f"r{i + 1}i": states[k][i] for i in range(4)}}
                out = s.run(None, feed)
                states[k] = out[2:]
                outs.append(out)
            for a, b in zip(*outs):
                np.testing.assert_allclose(a, b, atol=1e-4)


def test_a_concatenation_read_by_more_than_the_convolution_is_not_split():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 8, 8])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 8, 8, 8])
    weight = numpy_helper.from_array(np.ones((2, 8, 3, 3), np.float32), "w")
    nodes = [helper.make_node("Concat", ["x", "x"], ["c"], axis=1),
             helper.make_node("Conv", ["c", "w"], ["y"], pads=[1, 1, 1, 1]),
             helper.make_node("Identity", ["c"], ["z"])]
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y, z], [weight]))
    assert graph.split_concat_convs(model) == 0
    model.graph.node.pop()  # the other reader gone: split, with the same output
    model.graph.output.pop()
    feed = {"x": np.random.default_rng(1).random((1, 4, 8, 8), np.float32)}
    expected = session(model).run(None, feed)[0]
    assert graph.split_concat_convs(model) == 1
    np.testing.assert_allclose(session(model).run(None, feed)[0], expected, rtol=1e-5)


def _rvm_feeds(h: int, w: int, n: int) -> dict[str, np.ndarray]:
    zero = np.zeros((1, 1, 1, 1), np.float32)
    return {"src": np.full((n, 3, h, w), 0.5, np.float32), "downsample_ratio": np.array([1.0], np.float32),
            **{f"r{i}i": zero for i in range(1, 5)}}


def _optimized_ops(model, path) -> collections.Counter:
    session(model, str(path))
    return collections.Counter(node.op_type for node in onnx.load(str(path)).graph.node)


def test_sizes_by_level_let_onnx_runtime_sum_inside_rvms_convolutions(shared, tmp_path):
    """RVM at ratio 1 with its concatenations split: the sums of the parts (and the encoder's
    skip connections) ran as separate Adds behind Reshapes, because ONNX Runtime could not tell
    their shapes equal. With the sizes by pyramid level written in, it sums inside the
    convolutions, and RVM's outputs stay the same over consecutive real frames at an even and an
    odd size (the state carried)."""
    from livebg.segment.rvm import without_refiner

    model = onnx.load(str(shared / "models/rvm_mobilenetv3_fp32.onnx"))
    assert without_refiner(model) and graph.split_concat_convs(model) == 8
    before = session(model)
    ops_before = _optimized_ops(model, tmp_path / "before.onnx")
    written = graph.level_shapes(model, "src", _rvm_feeds)
    assert written > 200
    levels = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in [*model.graph.value_info, *model.graph.input, *model.graph.output]}
    assert levels["src"] == ["n", 3, "h0", "w0"] and levels["pha"] == ["n", 1, "h0", "w0"]
    assert levels["r1i"] != ["n", 16, "h1", "w1"]  # the state comes in as [1, 1, 1, 1] zeros at first: not written
    assert levels["r1o"] == ["n", 16, "h1", "w1"] and levels["r4o"] == ["n", 64, "h4", "w4"]
    # the decoder's 2x Resizes' outputs are cropped to their skips by a Slice after each: not at
    # a level, left unknown (the frame's own Resize by the ratio, 1 here, is level 0)
    resized = [node.output[0] for node in model.graph.node if node.op_type == "Resize" and node.input[0] != "src"]
    assert len(resized) == 4 and not any(name in levels for name in resized)
    ops_after = _optimized_ops(model, tmp_path / "after.onnx")
    print(f"\nRVM as ONNX Runtime runs it: Add {ops_before['Add']} -> {ops_after['Add']}, "
          f"Reshape {ops_before['Reshape']} -> {ops_after['Reshape']}")
    assert ops_before["Reshape"] > 20 and ops_after["Reshape"] == 0 and ops_after["Add"] < ops_before["Add"] - 10
    after = session(model)
    for size in ((192, 256), (163, 299)):
        frames = [cv2.resize(cv2.imread(str(shared / f"media/labeled/davis_parkour/JPEGImages/{i:05d}.jpg")),
                             size[::-1], interpolation=cv2.INTER_AREA)[..., ::-1] for i in range(3)]
        states = [[np.zeros((1, 1, 1, 1), np.float32)] * 4 for _ in range(2)]
        for image in frames:
            outs = []
            for k, s in enumerate((before, after)):
                feed = {"src": np.ascontiguousarray(image.transpose(2, 0, 1)[None], np.float32) / 255,
                        "downsample_ratio": np.array([1.0], np.float32),
                        **{f"r{i + 1}i": states[k][i] for i in range(4)}}
                out = s.run(None, feed)
                states[k] = out[2:]
                outs.append(out)
            for a, b in zip(*outs):
                assert a.shape == b.shape
                np.testing.assert_allclose(a, b, atol=1e-4)


def test_a_value_whose_size_is_not_a_level_gets_no_shape():
    """A 2x nearest upsampling of a stride-2 convolution's output is the input's size only for
    even sides: not written. The convolution's own output (ceil(H / 2)) is level 1."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 2, "h", "w"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    weight = numpy_helper.from_array(np.ones((4, 2, 3, 3), np.float32), "w")
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "s")
    roi = numpy_helper.from_array(np.array([], np.float32), "roi")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Resize", ["c", "roi", "s"], ["y"], mode="nearest")]
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y], [weight, scales, roi]),
                              opset_imports=[helper.make_opsetid("", 13)])
    assert graph.level_shapes(model, "x", lambda h, w, n: {"x": np.zeros((n, 2, h, w), np.float32)}) == 2
    shapes = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in [*model.graph.value_info, *model.graph.input, *model.graph.output]}
    assert shapes["x"] == ["n", 2, "h0", "w0"] and shapes["c"] == ["n", 4, "h1", "w1"]
    assert not model.graph.output[0].type.tensor_type.HasField("shape")
    # a graph the probes cannot run is left as it was
    broken = onnx.ModelProto()
    broken.CopyFrom(model)
    del broken.graph.value_info[:]
    assert graph.level_shapes(broken, "x", lambda h, w, n: {"x": np.zeros((n, 3, h, w), np.float32)}) == 0
    assert not broken.graph.value_info


def test_a_fixed_size_or_a_broadcast_input_is_not_taken_for_a_level():
    """A value whose width is fixed (a row mean tiled to 2 columns, which 1/64 of the width of
    most probe pictures also is) and a second input fed as [1, 1, 1, 1] at the probes (as RVM's
    state at its first frame) get no level; the picture's own stride-2 convolution does."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 2, "h", "w"])
    s = helper.make_tensor_value_info("s", TensorProto.FLOAT, None)
    outs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in ("c", "t", "si")]
    weight = numpy_helper.from_array(np.ones((4, 2, 3, 3), np.float32), "w")
    reps = numpy_helper.from_array(np.array([1, 1, 1, 2], np.int64), "reps")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("ReduceMean", ["c"], ["g"], axes=[3], keepdims=1),
             helper.make_node("Tile", ["g", "reps"], ["t"]),
             helper.make_node("Identity", ["s"], ["si"])]
    model = helper.make_model(helper.make_graph(nodes, "g", [x, s], outs, [weight, reps]),
                              opset_imports=[helper.make_opsetid("", 13)])

    def feeds(h, w, n):
        return {"x": np.zeros((n, 2, h, w), np.float32), "s": np.zeros((1, 1, 1, 1), np.float32)}

    assert graph.level_shapes(model, "x", feeds) == 3  # x, c and g (one column: written as 1)
    shapes = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in [*model.graph.value_info, *model.graph.input, *model.graph.output]
              if v.type.tensor_type.HasField("shape")}
    assert shapes["c"] == ["n", 4, "h1", "w1"] and shapes["g"] == ["n", 4, "h1", 1]
    assert "t" not in shapes and "si" not in shapes and "s" not in shapes
