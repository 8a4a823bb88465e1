#!/usr/bin/env python3
"""Soak test of `livebg cam`: a video replayed as a 30 fps camera for a long time (an hour by
default) into a recording virtual camera, with resident memory, latency and dropped frames
sampled every minute (`livebg cam --stats-log`). Prints a table and the memory growth after
warm-up (goal: under 5 %).

    python scripts/soak_live.py                    # 60 minutes, 960x540, selfie
    python scripts/soak_live.py --minutes 20 --every 60

The camera video is made at run time in a temporary directory by looping
../shared/media/videos/doctor_960x540.mp4 (nothing is written into the repository).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO))

from bench_live import DEFAULT_VIDEO, make_camera_video  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--every", type=float, default=60.0, help="seconds between samples (default 60)")
    parser.add_argument("--size", default="960x540")
    parser.add_argument("--model", default="selfie")
    parser.add_argument("--warm-up", type=int, default=2, help="samples before the memory baseline (default 2)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    import pyvirtualcam
    from pyvirtualcam.util import encode_fourcc

    from livebg.cli import main as livebg

    received = [0]

    class CountingBackend:
        """A virtual camera that takes I420 and only counts the frames: the tests' recording
        backend keeps a small record per frame, which a soak would count as livebg's growth."""

        def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kwargs):
            self.width, self.height, self.fps = width, height, fps

        def device(self) -> str:
            return "/dev/soak"

        def native_fourcc(self) -> int:
            return encode_fourcc(pyvirtualcam.PixelFormat["I420"].value)

        def send(self, frame) -> None:
            received[0] += 1

        def close(self) -> None:
            pass

    pyvirtualcam.register_backend("livebg-soak", CountingBackend)

    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="livebg-soak-") as tmp:
        video = make_camera_video(DEFAULT_VIDEO, Path(tmp) / "camera.mp4", width=width, height=height, fps=30,
                                  seconds=seconds + 5)
        log = Path(tmp) / "stats.jsonl"
        code = livebg(["cam", "--source", str(video), "--vcam-backend", "livebg-soak", "--duration", str(seconds),
                       "--model", args.model, "--stats-log", str(log), "--stats-every", str(args.every), "-q"])
        samples = [json.loads(line) for line in log.read_text().splitlines()]
    print(f"`livebg cam` soak: {args.size} at 30 fps, model {args.model}, {args.minutes:g} min, a sample every "
          f"{args.every:g} s; exit {code}; frames received by the virtual camera {received[0]}")
    print()
    print("| minute | frames out | dropped at capture (total) | latency p95 ms (interval) | RSS MB |")
    print("|---:|---:|---:|---:|---:|")
    for s in samples:
        print(f"| {s['seconds'] / 60:.1f} | {s['frames_out']} | {s['dropped']} | {s['latency_p95_ms']} | {s['rss_mb']} |")
    if len(samples) > args.warm_up:
        base = samples[args.warm_up - 1]["rss_mb"] if args.warm_up else samples[0]["rss_mb"]
        last = samples[-1]["rss_mb"]
        if base and last:
            print()
            print(f"memory after warm-up: {base:.1f} MB -> {last:.1f} MB ({100 * (last - base) / base:+.1f} %, goal < 5 %)")
    return code


if __name__ == "__main__":
    sys.exit(main())
