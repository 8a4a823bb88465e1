"""Speed of livebg's file mode against the decode + encode floor and the seeds' method.

    python scripts/benchmark.py ../shared/media/videos/doctor_960x540.mp4 \
        --bg ../shared/media/background_videos/big_buck_bunny_320x176.mp4 --repeat 3
    python scripts/benchmark.py INPUT --device cuda          # DeepLabV3-ResNet101 fp16, batch 1/4/8/16
    python scripts/benchmark.py INPUT --device cpu --quick   # the same on tiny inputs, so it cannot rot
    python scripts/benchmark.py INPUT --rvm-weights ../shared/models/rvm_mobilenetv3_fp32.onnx  # + RVM rows

With RVM's weights (``--rvm-weights``, or in livebg's cache), more rows: livebg with RVM (its
default, which runs the model on the box around the people and lets still frames reuse a
model call), with the model on the whole frame (``--no-crop-pass``), on every frame
(``--still-reuse 0``), with ``--infer-size 384`` (every shot at the model's size, none at the
portrait size), with RVM in int8 when ``--rvm-int8 FILE`` names one made by
``scripts/rvm_int8.py`` (a measurement, not a livebg option), and RVM's reference loop (what RVM's own converter does: ONNX Runtime one frame at a time on
the whole frame at the documented ratio, 256 px inside the model, PyAV decode and libx264
encode on this one thread, no overlap; composited over green as its converter does).

Every row runs in this one process, side by side, on the same input clip, and writes H.264
(crf 20, preset veryfast) like livebg does. The floor clears each decoded frame's picture type
before encoding, so that x264 chooses frame types itself, as it does for livebg's new frames
(and as ffmpeg's command line does); the floor and livebg rows are timed from the first frame
to the closed file. torchvision checkpoints are not downloaded: unless ``--weights`` names a real one, a
randomly initialised model is saved under torchvision's file name in a temporary TORCH_HOME
(random weights run exactly as fast as trained ones). With
``--repeat N`` each row runs N times, interleaved, and the best run is shown (other work on
the machine only ever slows a run down).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import av  # noqa: E402
from av.video.frame import PictureType  # noqa: E402
from seeds_method import supported_background  # noqa: E402

TORCH_MODEL = "deeplabv3_mobilenet_v3_large"
CUDA_MODEL = "deeplabv3_resnet101"
CRF, PRESET = 20, "veryfast"
OUTPUT_FLOOR = "decode + encode of livebg's output"
DEFAULT_ROW = "livebg --fast (selfie model)"
RVM_REFERENCE = "RVM reference loop (its converter's way)"
RVM_ROW = "livebg, rvm"
# livebg with RVM, other settings (docs/speed.md and docs/quality.md weigh them)
RVM_VARIANTS = {"livebg, rvm, the model on the whole frame (--no-crop-pass)": {"crop_pass": False},
                "livebg, rvm, the model on every frame (--still-reuse 0)": {"still_reuse": 0},
                "livebg, rvm --infer-size 384 (no portrait size)": {"infer_size": 384}}
RVM_INT8 = "livebg, rvm int8 (scripts/rvm_int8.py)"


def make_clip(input_path: str, frames: int, directory: Path) -> str:
    """The first ``frames`` frames of the input as a near-lossless H.264 clip (every row reads it).
    Its frames keep the input's picture types (I where the input has them, no B-frames at
    ultrafast); the floor clears them before re-encoding."""
    out_path = directory / "clip.mp4"
    with av.open(input_path) as src, av.open(str(out_path), "w") as dst:
        stream = src.streams.video[0]
        stream.thread_type = "AUTO"
        out = dst.add_stream("libx264", rate=stream.average_rate, options={"crf": "12", "preset": "ultrafast"})
        out.width, out.height, out.pix_fmt = stream.codec_context.width, stream.codec_context.height, "yuv420p"
        out.time_base = stream.time_base
        for i, frame in enumerate(src.decode(stream)):
            if i >= frames:
                break
            for packet in out.encode(frame):
                dst.mux(packet)
        for packet in out.encode():
            dst.mux(packet)
    return str(out_path)


def floor_run(input_path: str, output: str) -> tuple[int, float, float, None]:
    """Decode and re-encode with livebg's encoder settings, nothing else (frames stay YUV).
    Timed as livebg's jobs are: from the first frame (files already open) to the closed file."""
    with av.open(input_path) as src, av.open(output, "w") as dst:
        stream = src.streams.video[0]
        stream.thread_type = "AUTO"
        out = dst.add_stream("libx264", rate=stream.average_rate, options={"crf": str(CRF), "preset": PRESET})
        out.width, out.height, out.pix_fmt = stream.codec_context.width, stream.codec_context.height, "yuv420p"
        out.time_base = stream.time_base
        started = time.perf_counter()
        cpu_started = time.process_time()
        frames = 0
        for frame in src.decode(stream):
            # A decoded frame carries its type in the input (I/P/B), and FFmpeg's libx264 wrapper
            # forces it on x264: the floor would copy the input's GOP (all P for a B-frame-less
            # input) instead of encoding with veryfast's own B-frame decisions, as livebg's new
            # frames are. ffmpeg's command line clears it too.
            frame.pict_type = PictureType.NONE
            for packet in out.encode(frame):
                dst.mux(packet)
            frames += 1
        for packet in out.encode():
            dst.mux(packet)
    return frames, time.perf_counter() - started, time.process_time() - cpu_started, None


def livebg_run(input_path: str, bg: str, output: str, model: str, weights: str = "",
               fast: bool = False, **model_settings) -> tuple[int, float, float, dict]:
    from livebg.config import Config
    from livebg.jobs import run_video

    config = Config().override("model", name=model, device="cpu", weights=weights, download=False, fast=fast,
                               **model_settings)
    config = config.override("background", bg=bg).override("output", crf=CRF, preset=PRESET)
    result = run_video(input_path, output, config, progress=False)
    return result.frames, result.seconds, result.cpu_seconds, result.stage_cpu


def rvm_reference_run(input_path: str, output: str, weights: str) -> tuple[int, float, float, None]:
    """RVM's reference loop (see the module docstring): decode, model, composite, encode, in turn."""
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(weights, providers=["CPUExecutionProvider"])
    green = np.array([120, 255, 155], np.float32).reshape(3, 1, 1) / 255  # the converter's default
    with av.open(input_path) as src, av.open(output, "w") as dst:
        stream = src.streams.video[0]
        out = dst.add_stream("libx264", rate=stream.average_rate, options={"crf": str(CRF), "preset": PRESET})
        out.width, out.height, out.pix_fmt = stream.codec_context.width, stream.codec_context.height, "yuv420p"
        out.time_base = stream.time_base
        ratio = np.array([min(1.0, 256 / min(out.width, out.height))], np.float32)
        state = [np.zeros((1, 1, 1, 1), np.float32)] * 4
        started = time.perf_counter()
        cpu_started = time.process_time()
        frames = 0
        for frame in src.decode(stream):
            src_t = frame.to_ndarray(format="rgb24").transpose(2, 0, 1)[None].astype(np.float32) / 255
            fgr, pha, *state = session.run(None, {"src": src_t, "r1i": state[0], "r2i": state[1], "r3i": state[2],
                                                 "r4i": state[3], "downsample_ratio": ratio})
            com = fgr[0] * pha[0] + green * (1 - pha[0])
            image = (com.transpose(1, 2, 0) * 255).clip(0, 255).astype(np.uint8)
            new = av.VideoFrame.from_ndarray(image, format="rgb24")
            new.pts, new.time_base = frame.pts, frame.time_base
            for packet in out.encode(new):
                dst.mux(packet)
            frames += 1
        for packet in out.encode():
            dst.mux(packet)
    return frames, time.perf_counter() - started, time.process_time() - cpu_started, None


def rvm_weights(args) -> str:
    """RVM's file for the RVM rows: --rvm-weights, else livebg's cache; "" when neither has it."""
    if args.rvm_weights:
        return args.rvm_weights
    from livebg.segment.weights import rvm_file

    return str(rvm_file()) if rvm_file().is_file() else ""


def seeds_run(input_path: str, bg: str, output: str, model: str, weights: str, frames: int) -> tuple[int, float, float, None]:
    from seeds_method import load_seeds_model, run_seeds_video

    method = load_seeds_model(model, weights)
    cpu_started = time.process_time()
    n, seconds = run_seeds_video(method, input_path, bg, output, max_frames=frames, crf=CRF, preset=PRESET)
    return n, seconds, time.process_time() - cpu_started, None


def prepare_random_checkpoint(name: str, torch_home: Path) -> None:
    """Save a randomly initialised ``name`` under torchvision's checkpoint file name in
    ``torch_home``/hub/checkpoints and point TORCH_HOME there, unless the real file is cached."""
    import torch
    from torchvision.models import get_model_builder

    from livebg.segment.weights import checkpoint_file_name, torchvision_weights

    weights = torchvision_weights(name)
    os.environ["TORCH_HOME"] = str(torch_home)
    path = torch_home / "hub" / "checkpoints" / checkpoint_file_name(weights)
    if path.is_file():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    kwargs = {"weights": None, "weights_backbone": None, "num_classes": len(weights.meta["categories"])}
    if not name.startswith("lraspp"):
        kwargs["aux_loss"] = True  # torchvision's checkpoints carry the auxiliary head
    model = get_model_builder(name)(**kwargs)
    torch.save(model.state_dict(), path)


def file_mode(args, workdir: Path) -> list[dict]:
    clip = make_clip(args.input, args.frames, workdir) if args.frames else args.input
    weights = args.weights
    if not weights:
        prepare_random_checkpoint(TORCH_MODEL, Path(args.torch_home or workdir / "torch"))
    runs = {
        "decode + encode floor": lambda: floor_run(clip, str(workdir / "floor.mp4")),
        "livebg --fast (selfie model)": lambda: livebg_run(clip, args.bg, str(workdir / "default.mp4"), "auto", fast=True),
        # not a goal: what decoding + encoding cost on livebg's own output (its new background is
        # harder to encode than the input), i.e. the most livebg / floor could be if its own work
        # were free
        OUTPUT_FLOOR: lambda: floor_run(str(workdir / "default.mp4"), str(workdir / "refloor.mp4")),
        f"livebg, {TORCH_MODEL}": lambda: livebg_run(clip, args.bg, str(workdir / "torch.mp4"), TORCH_MODEL, weights),
        f"seeds' method, {TORCH_MODEL}": lambda: seeds_run(clip, args.bg, str(workdir / "seeds.mp4"), TORCH_MODEL,
                                                          weights, args.seeds_frames),
    }
    rvm = rvm_weights(args)
    if rvm:
        runs[RVM_ROW] = lambda: livebg_run(clip, args.bg, str(workdir / "rvm.mp4"), "rvm", rvm)
        for name, settings in RVM_VARIANTS.items():
            runs[name] = lambda settings=settings: livebg_run(clip, args.bg, str(workdir / "rvm_variant.mp4"), "rvm",
                                                              rvm, **settings)
        if args.rvm_int8:
            runs[RVM_INT8] = lambda: livebg_run(clip, args.bg, str(workdir / "rvm_int8.mp4"), "rvm", args.rvm_int8)
        runs[RVM_REFERENCE] = lambda: rvm_reference_run(clip, str(workdir / "rvm_reference.mp4"), rvm)
    fps: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    stages: dict[str, dict] = {}
    frames: dict[str, int] = {}
    for _ in range(args.repeat):
        for name, run in runs.items():
            n, seconds, cpu_seconds, stage_cpu = run()
            frames[name] = n
            fps[name].append(n / seconds)
            cpu[name].append(1000 * cpu_seconds / n)
            if stage_cpu and (name not in stages or cpu[name][-1] == min(cpu[name])):
                stages[name] = {k: 1000 * v / n for k, v in stage_cpu.items()}
            print(f"  {name}: {n} frames, {n / seconds:.2f} fps, {1000 * cpu_seconds / n:.2f} CPU ms/frame",
                  file=sys.stderr, flush=True)
    rows = [{"name": name, "frames": frames[name], "fps": max(v), "median": statistics.median(v), "runs": v,
             "cpu": min(cpu[name]), "stages": stages.get(name)}
            for name, v in fps.items()]
    return rows


def model_rows(input_path: str, calls: int, repeat: int) -> list[dict]:
    """The default ONNX model alone, one call at a time on one real frame, on this thread: as
    exported (float input) against livebg's rewritten graph (uint8 input, livebg/graph.py)."""
    from livebg.segment.onnx_model import OnnxSegmenter
    from livebg.segment.weights import CPU_DEFAULT_MODEL, resolve_model

    spec = resolve_model(CPU_DEFAULT_MODEL)
    with av.open(input_path) as src:
        frame = next(src.decode(video=0)).to_ndarray(format="rgb24")
    variants = {"as exported (float32 input)": OnnxSegmenter(spec.path, name=spec.name, threads=1, rewrite=False),
                "rewritten by livebg/graph.py (uint8 input)": OnnxSegmenter(spec.path, name=spec.name, threads=1)}
    ms: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeat):
        for name, segmenter in variants.items():
            segmenter.predict([frame])  # warm-up
            started = time.thread_time()
            for _ in range(calls):
                segmenter.predict([frame])
            ms[name].append(1000 * (time.thread_time() - started) / calls)
    rewrites = variants["rewritten by livebg/graph.py (uint8 input)"].rewrites
    size = f"{frame.shape[1]}x{frame.shape[0]}"
    return [{"name": name, "model": spec.name, "ms": min(v), "rewrites": rewrites, "frame": size} for name, v in ms.items()]


def print_model_table(rows: list[dict]) -> None:
    base = rows[0]["ms"]
    print()
    print(f"{rows[0]['model']} alone, one thread, CPU ms per call incl. the {rows[0]['frame']} -> input resize "
          f"(best of the runs; rewrites: {rows[-1]['rewrites']}):")
    print()
    print("| graph | CPU ms/call | / as exported |")
    print("|---|---:|---:|")
    for r in rows:
        print(f"| {r['name']} | {r['ms']:.2f} | {r['ms'] / base:.2f} |")


def print_file_table(rows: list[dict], args) -> None:
    by_name = {r["name"]: r for r in rows}
    floor = by_name["decode + encode floor"]["fps"]
    seeds = by_name[f"seeds' method, {TORCH_MODEL}"]["fps"]
    print(f"input {args.input}" + (f" (first {args.frames} frames)" if args.frames else "")
          + f", bg {args.bg}, H.264 crf {CRF} {PRESET}, {os.cpu_count()} CPU cores, best of {args.repeat}")
    print()
    print("| run | frames | fps (best) | fps (median) | CPU ms/frame | / floor | / seeds' method |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['name']} | {r['frames']} | {r['fps']:.1f} | {r['median']:.1f} | {r['cpu']:.1f} | "
              f"{r['fps'] / floor:.2f} | {r['fps'] / seeds:.1f}x |")
    default, torch_row = by_name[DEFAULT_ROW], by_name[f"livebg, {TORCH_MODEL}"]
    floor_row, seeds_row = by_name["decode + encode floor"], by_name[f"seeds' method, {TORCH_MODEL}"]
    print()
    print(f"livebg --fast / floor = {default['fps'] / floor:.2f} best, "
          f"{default['median'] / floor_row['median']:.2f} median (goal >= 0.70)")
    if RVM_REFERENCE in by_name:
        rvm_row, ref = by_name[RVM_ROW], by_name[RVM_REFERENCE]
        print(f"livebg with rvm / RVM's reference loop = {rvm_row['fps'] / ref['fps']:.2f}x best, "
              f"{rvm_row['median'] / ref['median']:.2f}x median (goal >= 2x); "
              f"--fast / livebg with rvm = {default['fps'] / rvm_row['fps']:.1f}x")
        for name in [*RVM_VARIANTS, RVM_INT8]:
            if name not in by_name:
                continue
            row = by_name[name]
            print(f"{name[len('livebg, '):]} / RVM's reference loop = {row['fps'] / ref['fps']:.2f}x best, "
                  f"{row['median'] / ref['median']:.2f}x median")
    print(f"livebg ({TORCH_MODEL}) / seeds' method = {torch_row['fps'] / seeds:.1f}x best, "
          f"{torch_row['median'] / seeds_row['median']:.1f}x median (goal >= 5x)")
    out_floor = by_name[OUTPUT_FLOOR]
    print(f"decoding + encoding livebg's output takes {out_floor['cpu']:.1f} CPU ms/frame against the input's "
          f"{floor_row['cpu']:.1f}: with livebg's own work free, livebg / floor would be about "
          f"{floor_row['cpu'] / out_floor['cpu']:.2f} at most")
    if default.get("stages"):
        # where the default run's CPU goes: the pipeline's own threads; the rest of the process
        # total is FFmpeg's decoder and x264's threads, the background decoder and the like
        stage_total = sum(default["stages"].values())
        print()
        print("CPU ms/frame by thread, livebg --fast (process total "
              f"{default['cpu']:.1f}; floor {floor_row['cpu']:.1f}):")
        print()
        print("| thread | CPU ms/frame |")
        print("|---|---:|")
        for name, ms in default["stages"].items():
            print(f"| {name} | {ms:.2f} |")
        print(f"| other threads (codec threads, background decoder) | {default['cpu'] - stage_total:.2f} |")


def batch_mode(args, workdir: Path) -> list[dict]:
    """DeepLabV3-ResNet101 throughput per batch size: float16 on CUDA, float32 on CPU."""
    import cv2
    import torch

    from livebg.segment.torch_model import TorchSegmenter
    from livebg.segment.weights import load_torchvision_model

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available; use --device cpu --quick")
    if not args.weights:
        prepare_random_checkpoint(CUDA_MODEL, Path(args.torch_home or workdir / "torch"))
    model, weights = load_torchvision_model(CUDA_MODEL, args.weights, download=False)
    precision = "float16" if args.device == "cuda" else "float32"
    infer_size = 64 if args.quick else int(weights.transforms().resize_size[0])
    count = args.frames or (8 if args.quick else 160)
    frames = []
    with av.open(args.input) as src:
        for frame in src.decode(video=0):
            image = frame.to_ndarray(format="rgb24")
            if args.quick:
                image = cv2.resize(image, (96, 64), interpolation=cv2.INTER_AREA)
            frames.append(image)
            if len(frames) >= count:
                break
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    rows = []
    for batch in sizes:
        segmenter = TorchSegmenter(model, name=CUDA_MODEL, categories=weights.meta["categories"], classes=("person",),
                                   device=args.device, precision=precision, infer_size=infer_size, batch_size=batch)
        segmenter.predict(frames[:batch])  # warm-up: cuDNN autotuning, allocator
        sync()
        started = time.perf_counter()
        done = 0
        while done < len(frames):
            chunk = frames[done:done + batch]
            segmenter.predict(chunk)
            done += len(chunk)
        sync()
        seconds = time.perf_counter() - started
        rows.append({"batch": batch, "frames": done, "fps": done / seconds})
        print(f"  batch {batch}: {done / seconds:.1f} fps", file=sys.stderr, flush=True)
    rvm = rvm_weights(args)
    if rvm:
        from livebg.segment.rvm import RvmSegmenter

        stream = RvmSegmenter(rvm, device=args.device, model_short=64 if args.quick else 384).stream()
        stream.predict(frames[:1])  # warm-up
        sync()
        started = time.perf_counter()
        for image in frames:
            stream.predict([image])  # recurrent: one frame at a time, state kept on the device
        sync()
        seconds = time.perf_counter() - started
        rows.append({"batch": "rvm (1, recurrent)", "frames": len(frames), "fps": len(frames) / seconds})
    print(f"{CUDA_MODEL}, {precision} on {args.device}, inference {infer_size} px short side, "
          f"{len(frames)} frames of {frames[0].shape[1]}x{frames[0].shape[0]} (segmentation only)")
    print()
    print("| batch size | fps |")
    print("|---:|---:|")
    for r in rows:
        print(f"| {r['batch']} | {r['fps']:.1f} |")
    return rows


def sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()  # read the clock only after the GPU has finished


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="livebg speed benchmark (see the module docstring).")
    parser.add_argument("input", help="input video")
    parser.add_argument("--bg", default="blur", help="background for the livebg and seeds' rows: a colour, blur[:N], "
                                                     "an image or a video (default: blur, livebg's own default)")
    parser.add_argument("--frames", type=int, default=0, help="only the first N frames (default: all)")
    parser.add_argument("--seeds-frames", type=int, default=60,
                        help="frames for the seeds' method, which is slow (default: 60; 0 = all)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each row, interleaved; best shown")
    parser.add_argument("--model-calls", type=int, default=200, help="calls per run in the ONNX graph table (default: 200)")
    parser.add_argument("--weights", default="", help=f"a real checkpoint of {TORCH_MODEL} (or {CUDA_MODEL} with --device)")
    parser.add_argument("--torch-home", default="", help="where to keep the random checkpoints (default: a temp dir)")
    parser.add_argument("--device", choices=("cpu", "cuda"), help=f"batch mode: {CUDA_MODEL} per batch size on this device")
    parser.add_argument("--batch-sizes", default="1,4,8,16")
    parser.add_argument("--quick", action="store_true", help="batch mode on tiny frames (for tests and CPU-only machines)")
    parser.add_argument("--rvm-weights", default="", help="RVM's .onnx file: adds livebg with rvm and RVM's reference loop "
                                                          "(default: livebg's cache, if it holds the file)")
    parser.add_argument("--rvm-int8", default="", help="an int8 RVM file made by scripts/rvm_int8.py: adds its row")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be 1 or more")
    if not args.device and not supported_background(args.bg):
        parser.error(f"--bg {args.bg}: the seeds' method takes a colour, blur[:N], or an image or video file that exists")
    with tempfile.TemporaryDirectory(prefix="livebg-bench-") as tmp:
        workdir = Path(tmp)
        if args.device:
            batch_mode(args, workdir)
        else:
            rows = file_mode(args, workdir)
            models = model_rows(args.input, args.model_calls, args.repeat)
            print_file_table(rows, args)
            print_model_table(models)
    return 0


if __name__ == "__main__":
    sys.exit(main())
