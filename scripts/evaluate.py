"""Score livebg's matte on labelled sequences, one row per configuration, one table per
sequence and a table of the means over all of them.

    python scripts/evaluate.py ../shared/media/labeled/*/
    python scripts/evaluate.py ../shared/media/labeled/davis_lucia --lag
    python scripts/evaluate.py ../shared/media/labeled/*/ --model rvm   # RVM's weights cached, or --weights FILE
    python scripts/evaluate.py ../shared/media/labeled/*/ --live       # what the live user sees
    python scripts/evaluate.py ../shared/media/labeled/*/ --live --model selfie --cam-arg=--infer-size=256

--live replays each clip as a camera at its own frame rate (DAVIS: 24 fps) through the real
live loop, in a `livebg cam` process of its own (capture thread, mask thread, main loop), and
scores the matte each output frame was composited with (`--alpha-out`), mask age included.
Frames the camera dropped are counted, not scored; every frame shown is scored (no warm-up is
left out). Flicker is over the frames shown, in order.

The model runs once per frame for each model setting (with and without the crop pass); rows
reuse those probabilities, so rows with one model setting differ only in smoothing and
refinement. The stage rows use the plain model (no crop pass) so each stage is seen on its own.
fps counts the model and the row's matte stages (not decoding).
Columns: IoU and DAVIS boundary F of the alpha thresholded at 0.5, flicker (see
livebg.evaluation.flicker; lower is better).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from seeds_method import seeds_alpha_from_probability  # noqa: E402

from livebg.config import Config, load_config  # noqa: E402
from livebg.evaluation import FlickerMeter, boundary_f, iou, lag_frames, load_labeled  # noqa: E402
from livebg.matte.matter import Matter  # noqa: E402
from livebg.segment.factory import load_segmenter

SEEDS = "seeds' method (hard mask + 7x7 blur)"
PLAIN = {"crop_pass": False}
# row name -> {section: settings}; the defaults come from config.py (or --config).
# The seeds' row (None) uses the plain model's probabilities.
ROWS = {
    "raw model": {"model": PLAIN, "smoothing": {"method": "none"}, "refine": {"method": "bilinear"}},
    SEEDS: None,
    "ema smoothing only": {"model": PLAIN, "smoothing": {"method": "ema", "look_ahead": False}, "refine": {"method": "bilinear"}},
    "adaptive smoothing only": {"model": PLAIN, "smoothing": {"method": "adaptive", "look_ahead": False},
                                "refine": {"method": "bilinear"}},
    # strength 0: the smoother passes each map through (and has no pass back), so only the
    # look-ahead's neighbour average acts
    "look-ahead only": {"model": PLAIN, "smoothing": {"strength": 0.0, "look_ahead": True}, "refine": {"method": "bilinear"}},
    "guided refinement only": {"model": PLAIN, "smoothing": {"method": "none"}, "refine": {"method": "guided"}},
    "crop pass only": {"model": {"crop_pass": True}, "smoothing": {"method": "none"}, "refine": {"method": "bilinear"}},
    "default without look-ahead (as live)": {"smoothing": {"look_ahead": False}},
    "default without crop pass": {"model": PLAIN},
    "default with a 180 px guide": {"refine": {"guide_size": 180}},
    "default": {},
}
# With --model rvm, the model as RVM's own tools run it: the whole frame in, the ratio that
# brings it to 256 px (RVM's documented choice at this size), RVM's refiner to full size, no
# livebg stage after it (the "RVM raw" of the model issue).
RVM_REFERENCE = "RVM reference (256 px; its own refiner; nothing after)"
RVM_ROWS = {
    RVM_REFERENCE: "reference",
    "raw model": {"smoothing": {"method": "none"}, "refine": {"method": "bilinear"}},
    "adaptive smoothing only": {"smoothing": {"method": "adaptive", "look_ahead": False}, "refine": {"method": "bilinear"}},
    "look-ahead only": {"smoothing": {"strength": 0.0, "look_ahead": True}, "refine": {"method": "bilinear"}},
    "guided refinement only": {"smoothing": {"method": "none"}, "refine": {"method": "guided"}},
    "default without look-ahead (as live)": {"smoothing": {"look_ahead": False}},
    "default": {},
}
LAG_ROWS = {
    "none": {"method": "none"},
    "ema": {"method": "ema", "look_ahead": False},
    "adaptive": {"method": "adaptive", "look_ahead": False},
    "ema + look-ahead": {"method": "ema", "look_ahead": True},
    "adaptive + look-ahead (default)": {"method": "adaptive", "look_ahead": True},
}


def row_config(base: Config, overrides: dict) -> Config:
    config = base
    for section, values in overrides.items():
        config = config.override(section, **values)
    return config.validate()


def parse_settings(pairs: list[str]) -> dict[str, dict]:
    """section.key=value strings (from --set) -> overrides; values parsed as numbers or true/false
    when they are."""
    out: dict[str, dict] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        section, _, name = key.partition(".")
        if not name or not _:
            raise SystemExit(f"--set {pair!r}: use section.key=value, e.g. smoothing.strength=0.8")
        if value.lower() in ("true", "false"):
            value = value.lower() == "true"
        else:
            for cast in (int, float):
                try:
                    value = cast(value)
                    break
                except ValueError:
                    continue
        out.setdefault(section, {})[name] = value
    return out


def evaluate(labeled: str, base: Config, rows: dict[str, dict | str | None], limit: int = 0) -> list[dict]:
    pairs = load_labeled(labeled, limit)
    runs: dict = {}  # ModelConfig -> (probabilities, model seconds): each model setting runs once

    def model_run(model, reference: bool = False):
        key = (model, reference)
        if key not in runs:
            if reference:
                from livebg.segment.rvm import RvmSegmenter
                from livebg.segment.weights import fetch_rvm

                segmenter = RvmSegmenter(fetch_rvm(weights_file=model.weights), model_short=256,
                                         source_short=0, threads=model.threads).stream()
            else:
                segmenter = load_segmenter(model)[0].stream()  # as a video job runs it
            started = time.perf_counter()
            probs = [segmenter.predict([image])[0].alpha for image, _ in pairs]
            runs[key] = probs, time.perf_counter() - started
        return runs[key]

    results = []
    # load the smoother's compiled kernel before any row is timed
    Matter(base).warm_up(pairs[0][0], np.zeros(pairs[0][0].shape[:2], np.float32))
    for name, overrides in rows.items():
        reference = overrides == "reference"
        if reference or overrides is None:
            config = row_config(base, {"model": PLAIN})
        else:
            assert isinstance(overrides, dict)
            config = row_config(base, overrides)
        edge = 0.5 if config.model.name == "rvm" else 0.6  # the models' own (Segmenter.edge_threshold)
        matter = Matter(config, edge_threshold=edge) if isinstance(overrides, dict) else None
        probs, model_seconds = model_run(config.model, reference)
        started = time.perf_counter()
        if reference:  # RVM's own alpha, at the frame's size already
            alphas = [np.asarray(p, np.float32) for p in probs]
        else:
            alphas = mattes(matter, probs, [image for image, _ in pairs])
        seconds = model_seconds + time.perf_counter() - started
        flick = FlickerMeter()
        for alpha, (_, truth) in zip(alphas, pairs):
            flick.add(alpha, truth)
        results.append({
            "name": name,
            "iou": sum(iou(a, t) for a, (_, t) in zip(alphas, pairs)) / len(pairs),
            "boundary_f": sum(boundary_f(a, t) for a, (_, t) in zip(alphas, pairs)) / len(pairs),
            "flicker": flick.value, "fps": len(pairs) / seconds, "frames": len(pairs)})
    return results


def mattes(matter: Matter | None, probs, images) -> list:
    """The row's alphas, as a video job makes them (``Matter.stream``, looking ahead when the
    row's settings do); ``None`` is the seeds' rule."""
    if matter is None:
        return [seeds_alpha_from_probability(prob, image.shape[1::-1]).astype("float32")
                for prob, image in zip(probs, images)]
    return [alpha for _, alpha in matter.stream((None, prob, image, None) for prob, image in zip(probs, images))]


def lag_table(base: Config) -> list[dict]:
    """The smoother alone (as the smoothing rows: bilinear, no refinement) for each setting,
    run as a video job runs it."""
    rows = []
    for name, settings in LAG_ROWS.items():
        config = row_config(base, {"smoothing": settings, "refine": {"method": "bilinear"}})
        rows.append({"name": name, "lag": lag_frames(stream=lambda pairs: mattes(Matter(config), *zip(*pairs)))})
    return rows


DAVIS_FPS = 24.0  # the DAVIS sequences' frame rate


def replay_clip(pairs, path: Path, fps: float) -> Path:
    """The clip's frames as a lossless video (raw RGB in NUT) at ``fps``: what `livebg cam --source` replays.
    Raw, as a webcam gives its frames: decoding PNG took 5-8 ms of the 2 cores a frame, which a
    camera does not cost."""
    import av

    from livebg.sources.images import exact_rate

    rate = exact_rate(fps)
    h, w = pairs[0][0].shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("rawvideo", rate=rate)
        stream.width, stream.height, stream.pix_fmt = w, h, "rgb24"
        for j, (image, _) in enumerate(pairs):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts, frame.time_base = j, 1 / rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def evaluate_live(labeled: str, cam_args: list[str], fps: float, limit: int = 0, keep: Path | None = None) -> dict:
    """One clip through `livebg cam --source CLIP --no-vcam --alpha-out DIR`: the scores of the
    mattes it composited, and its own statistics."""
    import json
    import subprocess
    import tempfile

    import cv2

    pairs = load_labeled(labeled, limit)
    with tempfile.TemporaryDirectory(prefix="livebg-live-") as tmp:
        clip = replay_clip(pairs, Path(tmp) / "clip.nut", fps)
        alpha_dir = (keep / Path(labeled).name) if keep else Path(tmp) / "alpha"
        stats = Path(tmp) / "stats.json"
        command = [sys.executable, "-m", "livebg", "cam", "--source", str(clip), "--no-vcam", "--alpha-out",
                   str(alpha_dir), "--stats-json", str(stats), "--bg", "white", *cam_args]
        run = subprocess.run(command, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            raise SystemExit(f"livebg cam failed on {labeled}:\n{run.stderr[-2000:]}")
        summary = json.loads(stats.read_text())
        startup = [line for line in run.stderr.splitlines() if line.startswith("livebg: cam: model")]
        alphas, truths = [], []
        for index, (_, truth) in enumerate(pairs):
            png = alpha_dir / f"{index:05d}.png"
            if png.is_file():
                alphas.append(cv2.imread(str(png), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255)
                truths.append(truth)
    if not alphas:
        raise SystemExit(f"livebg cam showed no frame of {labeled}")
    flick = FlickerMeter()
    for alpha, truth in zip(alphas, truths):
        flick.add(alpha, truth)
    return {"name": Path(labeled).name, "frames": len(pairs), "shown": len(alphas),
            "iou": float(np.mean([iou(a, t) for a, t in zip(alphas, truths)])),
            "boundary_f": float(np.mean([boundary_f(a, t) for a, t in zip(alphas, truths)])),
            "flicker": flick.value, "age_p50": summary["mask_age_p50_ms"], "age_p95": summary["mask_age_p95_ms"],
            "latency_p95": summary["latency_p95_ms"], "fps": summary["fps"],
            "dropped": len(pairs) - len(alphas), "model": summary["model"],
            "segment_ms": summary["segment_p50_ms"], "startup": startup[0] if startup else "",
            "sizes": [summary.get("live_size_start"), *summary.get("sizes", [])], "cores": summary.get("cpu_cores", 0.0),
            "changes": [line for line in run.stderr.splitlines() if "RVM now at" in line or "takes over" in line]}


def print_live_table(results: list[dict], title: str) -> None:
    print(title)
    print()
    print("| clip | IoU | boundary F | flicker | mask age p50 / p95 ms | latency p95 ms | fps | dropped "
          "| model call p50 ms | CPU cores | sizes (px; 0: selfie) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        sizes = " > ".join(str(s) for s in r.get("sizes", []) if s is not None)
        print(f"| {r['name']} | {r['iou']:.3f} | {r['boundary_f']:.3f} | {r['flicker']:.2f} | "
              f"{r['age_p50']:.0f} / {r['age_p95']:.0f} | {r['latency_p95']:.0f} | {r['fps']:.1f} | {r['dropped']} of {r['frames']} | "
              f"{r['segment_ms']:.0f} | {r['cores']:.2f} | {sizes} |")


def print_table(results: list[dict], model: str, title: str) -> None:
    print(f"{title}, model {model}")
    print()
    print("| configuration | IoU | boundary F | flicker | fps |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['name']} | {r['iou']:.3f} | {r['boundary_f']:.3f} | {r['flicker']:.3f} | {r['fps']:.0f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score livebg's matte on a labelled sequence.")
    parser.add_argument("labeled", nargs="+", help="directories with JPEGImages/ and Annotations/ (DAVIS layout)")
    parser.add_argument("--config", help="a TOML preset to start from (default: livebg's defaults)")
    parser.add_argument("--model", help="model name or .onnx path (default: selfie; rvm adds its reference row)")
    parser.add_argument("--weights", help="RVM's .onnx file, when it is not in livebg's cache")
    parser.add_argument("--limit", type=int, default=0, help="only the first N frames")
    parser.add_argument("--rows", help=f"comma-separated subset of: {', '.join(ROWS)}")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="add a row 'custom' with these settings over the base (repeatable)")
    parser.add_argument("--lag", action="store_true", help="also print the lag of each smoothing setting")
    parser.add_argument("--live", action="store_true",
                        help="replay each clip as a camera through `livebg cam` and score what it composited")
    parser.add_argument("--cam-arg", action="append", default=[], metavar="ARG",
                        help="with --live: an argument for `livebg cam` (repeatable), e.g. --cam-arg=--fast")
    parser.add_argument("--fps", type=float, default=DAVIS_FPS, help=f"with --live: the replay rate (default {DAVIS_FPS:g})")
    parser.add_argument("--keep-alpha", metavar="DIR", help="with --live: keep each clip's PNG mattes under DIR/CLIP/")
    args = parser.parse_args(argv)
    if args.live:
        cam_args = [*(["--model", args.model] if args.model else []), *(["--weights", args.weights] if args.weights else []),
                    *(["--config", args.config] if args.config else []), *args.cam_arg]
        keep = Path(args.keep_alpha) if args.keep_alpha else None
        if keep:
            keep.mkdir(parents=True, exist_ok=True)
        results = [evaluate_live(labeled, cam_args, args.fps, args.limit, keep) for labeled in args.labeled]
        print(f"live, `livebg cam {' '.join(cam_args)}`: {results[0]['startup'][len('livebg: cam: '):][:160]}")
        print()
        if len(results) > 1:
            mean = {"name": "**mean**", "frames": sum(r["frames"] for r in results),
                    "dropped": sum(r["dropped"] for r in results),
                    **{k: float(np.mean([r[k] for r in results])) for k in
                       ("iou", "boundary_f", "flicker", "age_p50", "age_p95", "latency_p95", "fps", "segment_ms", "cores")}}
            results.append(mean)
        print_live_table(results, f"replayed at {args.fps:g} fps as a camera; the matte shown, mask age included")
        return 0
    base = load_config(args.config)
    base = base.override("model", name=args.model or "selfie", device="cpu", weights=args.weights)
    known: dict = RVM_ROWS if base.model.name == "rvm" else ROWS
    rows = dict(known)
    if args.rows:
        wanted = [r.strip() for r in args.rows.split(",")]
        unknown = [r for r in wanted if r not in known]
        if unknown:
            parser.error(f"unknown rows {unknown}: use {', '.join(known)}")
        rows = {r: known[r] for r in wanted}
    if args.set:
        rows["custom"] = parse_settings(args.set)
    tables = []
    for labeled in args.labeled:
        results = evaluate(labeled, base, rows, args.limit)
        tables.append(results)
        print_table(results, base.model.name, f"{Path(labeled).name}, {results[0]['frames']} frames")
        print(flush=True)
    if len(tables) > 1:
        mean = [{"name": r["name"], "frames": sum(t[i]["frames"] for t in tables),
                 **{k: sum(t[i][k] for t in tables) / len(tables) for k in ("iou", "boundary_f", "flicker", "fps")}}
                for i, r in enumerate(tables[0])]
        print_table(mean, base.model.name, f"mean over {len(tables)} samples (each sample weighs the same)")
    if args.lag:
        print()
        print("lag on a synthetic disk that starts moving at 3 px/frame (frames the matte trails; 0 = none)")
        print()
        print("| smoothing | lag (frames) |")
        print("|---|---:|")
        for r in lag_table(base):
            print(f"| {r['name']} | {r['lag']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
