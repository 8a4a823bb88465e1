"""RVM in int8 for the CPU, as measured in docs/speed.md and docs/quality.md: not a livebg option
(it scored below RVM's own reference on 3 of the 4 labelled samples, and fp32 at a smaller
working size was as fast and better), kept so that the measurement can be repeated.

    python scripts/rvm_int8.py ../shared/media/videos/doctor_960x540.mp4 \
        --weights ../shared/models/rvm_mobilenetv3_fp32.onnx -o /tmp/rvm_int8.onnx
    livebg video IN -o OUT --model rvm --weights /tmp/rvm_int8.onnx
    python scripts/evaluate.py ../shared/media/labeled/*/ --model rvm --weights /tmp/rvm_int8.onnx

The int8 file is made from the float graph livebg runs (RVM's refiner cut, the decoder's
convolution inputs aligned; ``float_graph``), at opset 13, in ONNX's QDQ form (static: weights
int8 per channel, activations uint8 with ranges measured by ONNX Runtime's MinMax calibrator).
Calibration frames come from the clip given, run in order as a video job runs them (model's
working size, ratio 1, the recurrent state carried); every ``--every``-th frame with the state it
arrived with is a sample. Calibrate on a clip that is not one of the labelled samples, so the
check on those stays honest. ``--ops conv`` quantises the convolutions only. The output keeps
RVM's contract (``src``, ``r1i..r4i``, ``downsample_ratio`` in; ``fgr``, ``pha``, ``r1o..r4o``
out) and its metadata tell livebg that the refiner is cut (ratio 1 only) and the precision.
Never commit the output: the weights' licence is not stated by their authors.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import av  # noqa: E402
import numpy as np  # noqa: E402

OPSET = 13  # per-channel QuantizeLinear / DequantizeLinear need it; RVM's export is opset 12


def float_graph(path: str | Path) -> Any:
    """The float32 graph the int8 file is made from: RVM's file as livebg rewrites it, at opset 13."""
    import onnx
    from onnx import version_converter

    from livebg.segment import onnx_rewrites
    from livebg.segment.rvm import without_refiner

    model = onnx.load_model(str(path))
    if not without_refiner(model):
        raise SystemExit(f"{path}: RVM's refiner is not where livebg expects it (use rvm_mobilenetv3_fp32.onnx "
                         "of RVM's v1.0.0 release)")
    onnx_rewrites.aligned_conv_inputs(model)
    return version_converter.convert_version(model, OPSET)


def calibration_feeds(video: str, model: bytes, frames: int, every: int) -> list[dict]:
    """The samples (see the module docstring): model inputs, state included."""
    import onnxruntime as ort

    from livebg.frames.yuv import downscale
    from livebg.segment.rvm import INPUTS, plan_for

    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    state = [np.zeros((1, 1, 1, 1), np.float32)] * 4
    feeds = []
    with av.open(video) as src:
        for i, frame in enumerate(src.decode(video=0)):
            if i >= frames:
                break
            image = frame.to_ndarray(format="rgb24")
            plan = plan_for(*image.shape[:2])
            x = np.ascontiguousarray(downscale(image, plan.src_size).transpose(2, 0, 1)[None], np.float32) / 255
            feed = dict(zip(INPUTS, [x, *state, np.array([plan.ratio], np.float32)]))
            if i % every == 0:
                feeds.append(feed)
            _fgr, _pha, *state = session.run(None, feed)
    return feeds


def build_int8(weights: str | Path, video: str, output: str | Path, *, frames: int = 400, every: int = 10,
               ops: str = "all") -> int:
    """Calibrate on ``video`` and write the int8 file to ``output`` (whole, then renamed).
    Returns the number of calibration samples."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    from livebg.segment.rvm import PRECISION_KEY, REFINER_CUT, REFINER_KEY

    model = float_graph(weights)
    feeds = calibration_feeds(video, model.SerializeToString(), frames, every)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter(feeds)

        def get_next(self):
            return next(self.items, None)

    output = Path(output)
    level = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # the quantiser's advice to pre-process, every run
    with tempfile.TemporaryDirectory(dir=output.parent) as tmp:
        partial = Path(tmp) / output.name
        try:
            quantize_static(model, str(partial), Reader(), quant_format=QuantFormat.QDQ,
                            op_types_to_quantize=["Conv"] if ops == "conv" else None, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.MinMax)
        finally:
            logging.getLogger().setLevel(level)
        built = onnx.load_model(str(partial))
        for key, value in ((REFINER_KEY, REFINER_CUT), (PRECISION_KEY, "int8")):
            entry = built.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save_model(built, str(partial))
        os.replace(partial, output)
    return len(feeds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="RVM in int8 for a measurement (see the module docstring).")
    parser.add_argument("video", help="calibration clip (not one of the labelled samples)")
    parser.add_argument("--weights", required=True, help="rvm_mobilenetv3_fp32.onnx (RVM's v1.0.0 release)")
    parser.add_argument("-o", "--output", required=True, help="the int8 .onnx file to write (outside the repository)")
    parser.add_argument("--frames", type=int, default=400, help="frames the model runs over (default: 400)")
    parser.add_argument("--every", type=int, default=10, help="every N-th frame is a sample (default: 10)")
    parser.add_argument("--ops", choices=("all", "conv"), default="all", help="operators quantised (default: all)")
    args = parser.parse_args(argv)
    n = build_int8(args.weights, args.video, args.output, frames=args.frames, every=args.every, ops=args.ops)
    print(f"{args.output}: int8 RVM, {args.ops} operators, calibrated on {n} frames of {args.video}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
