"""How `livebg batch` compares with one `livebg video` after another, and what its seams cost.

    python scripts/bench_batch.py                    # throughput: sequential video, batch --workers 1, batch --ray local
    python scripts/bench_batch.py --seams            # pre-roll sweep: |delta alpha| near the seams vs a single run

Throughput: the same videos through `livebg video` one after another (each its own process,
as a user would run them), `livebg batch --workers 1` and `livebg batch --ray local --workers 2`
(two actors); wall time of each whole command, frames/s, the ratio to the sequential time, and
the pre-roll (frames through the model that are not written, over the frames written).

Seams: a video cut into chunks at its key frames, each chunk run as `livebg batch` runs it
(`run_video` over a frame range) with its matte written as PNGs, for several pre-roll lengths;
the mean |delta alpha| (0..1) against a single run over the frames within 2 s of each seam, the
worst frame and its distance from the nearest seam.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
VIDEOS = [SHARED / "media/videos/thoughtful.mp4", SHARED / "media/videos/doctor_960x540.mp4"]
RVM = SHARED / "models/rvm_mobilenetv3_fp32.onnx"


def livebg(*args: str) -> float:
    """Run the CLI in a process of its own; its wall time."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "livebg", *args, "-q"], check=True)
    return time.perf_counter() - started


def frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for p in container.demux(container.streams.video[0]) if p.size)


def throughput(videos: list[Path], model: list[str], chunk_seconds: float, work: Path) -> None:
    frames = sum(frame_count(v) for v in videos)
    rows = []
    out = work / "sequential"
    out.mkdir()
    seconds = sum(livebg("video", str(v), "-o", str(out / f"{v.stem}.mp4"), *model) for v in videos)
    rows.append(("livebg video, one after another", seconds, 0.0))
    from livebg.batch.plan import plan_chunks, probe

    preroll = 0
    for v in videos:
        preroll += sum(c.preroll for c in plan_chunks(probe(v), chunk_seconds))
    for label, extra in (("livebg batch --workers 1", ["--workers", "1"]),
                         ("livebg batch --ray local --workers 2", ["--ray", "local", "--workers", "2"])):
        out = work / label.split()[-1].replace("-", "")
        shutil.rmtree(out, ignore_errors=True)
        seconds = livebg("batch", *map(str, videos), "-o", str(out), "--chunk-seconds", str(chunk_seconds), *extra, *model)
        rows.append((label, seconds, preroll / frames))
    base = rows[0][1]
    print(f"\n{len(videos)} videos, {frames} frames, chunks of about {chunk_seconds:g} s, model args {' '.join(model) or '(default)'}\n")
    print("| run | wall s | frames/s | time vs sequential | pre-roll frames / written |")
    print("|---|---:|---:|---:|---:|")
    for label, seconds, roll in rows:
        print(f"| {label} | {seconds:.1f} | {frames / seconds:.1f} | {seconds / base:.2f} | {roll:.1%} |")


def read_alphas(folder: Path) -> list[np.ndarray]:
    return [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255 for p in sorted(folder.glob("*.png"))]


def seams(video: Path, prerolls: list[float], chunk_seconds: float, model: dict, work: Path) -> None:
    os.environ.setdefault("LIVEBG_OFFLINE", "1")
    from livebg.batch.plan import plan_chunks, probe
    from livebg.config import Config, apply_settings
    from livebg.errors import set_quiet
    from livebg.jobs.video import run_video
    from livebg.segment.factory import load_segmenter

    set_quiet(True)
    config = apply_settings(Config(), **model)
    segmenter, _ = load_segmenter(config.model)
    single = work / "single"
    run_video(str(video), work / "single.mp4", apply_settings(config, alpha_out=str(single) + "/"),
              segmenter=segmenter, progress=False)
    reference = read_alphas(single)
    index = probe(video)
    window = round(2 * index.rate)
    print(f"\n{video.name}: {index.frames} frames at {float(index.rate):.2f} fps, {model}; "
          f"chunks of about {chunk_seconds:g} s\n")
    print("| pre-roll | frames | seams | mean abs d-alpha within 2 s of a seam | worst frame (mean abs d-alpha) | its distance from a seam |")
    print("|---:|---:|---:|---:|---:|---:|")
    for seconds in prerolls:
        chunks = plan_chunks(index, chunk_seconds, seconds)
        alphas: list[np.ndarray] = []
        for number, frames in enumerate(chunks):
            folder = work / f"p{seconds}-{number}"
            run_video(str(video), work / f"p{seconds}-{number}.mp4",
                      apply_settings(config, alpha_out=str(folder) + "/", audio=False),
                      segmenter=segmenter, progress=False, frames=frames)
            alphas += read_alphas(folder)
        if len(alphas) != len(reference):
            raise SystemExit(f"chunked run gave {len(alphas)} mattes, the single run {len(reference)}")
        diffs = np.array([np.abs(a - b).mean() for a, b in zip(alphas, reference)])
        starts = [c.start for c in chunks[1:]]
        near = sorted({i for s in starts for i in range(max(0, s - window), min(len(diffs), s + window))})
        worst = int(np.argmax(diffs))
        distance = min((worst - s for s in starts), key=abs) if starts else 0
        roll = chunks[1].preroll if len(chunks) > 1 else 0
        print(f"| {seconds:g} s ({roll} frames) | {len(diffs)} | {len(starts)} | {diffs[near].mean():.5f} | "
              f"{diffs[worst]:.5f} (frame {worst}) | {distance:+d} frames |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", nargs="*", type=Path, help=f"default: {', '.join(v.name for v in VIDEOS)}")
    parser.add_argument("--seams", action="store_true", help="the pre-roll sweep instead of the throughput table")
    parser.add_argument("--prerolls", default="0,0.25,0.5,1,2", help="seconds of pre-roll to try (--seams)")
    parser.add_argument("--chunk-seconds", type=float, default=3.0,
                        help="chunk length (default 3: the test videos have a key frame every 3 s)")
    parser.add_argument("--fast", action="store_true", help="the selfie model instead of RVM")
    args = parser.parse_args()
    videos = args.videos or VIDEOS
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        if args.seams:
            model = {"fast": True} if args.fast else {"model": "rvm", "weights": str(RVM), "download": False}
            seams(videos[0], [float(s) for s in args.prerolls.split(",")], args.chunk_seconds, model, Path(tmp))
        else:
            flags = ["--fast"] if args.fast else ["--model", "rvm", "--weights", str(RVM), "--no-download"]
            throughput(videos, flags, args.chunk_seconds, Path(tmp))


if __name__ == "__main__":
    main()
