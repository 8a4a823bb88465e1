"""Time --harmonize at 960x540: the blend alone and the blend with harmonisation, in the same run.

    python scripts/bench_harmonize.py [--frames 300] [--size 960x540]

A labelled DAVIS frame and its mask, scaled to the size, over a background photo; each row is
the median of ``--frames`` calls, the rows taking turns frame by frame (one thread of OpenCV, as the live loop's main thread leaves
the others to the model: pass --threads 0 for OpenCV's own choice).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from livebg.composite.blend import Compositor  # noqa: E402
from livebg.composite.harmonize import Harmonizer  # noqa: E402
from livebg.evaluation_harmony import PictureBackground  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "media"


def median_ms(calls: list, frames: int) -> list[float]:
    """Median ms of each call, the calls taking turns frame by frame (so that other work on the
    machine slows them alike)."""
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(frames):
        for call, spent in zip(calls, times):
            started = time.perf_counter()
            call()
            spent.append(time.perf_counter() - started)
    return [statistics.median(spent) * 1000 for spent in times]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--size", default="960x540")
    parser.add_argument("--threads", type=int, default=1, help="OpenCV threads (default 1; 0: OpenCV's choice)")
    args = parser.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    if args.threads:
        cv2.setNumThreads(args.threads)
    clip = SHARED / "labeled" / "davis_lucia"
    frame = cv2.resize(cv2.cvtColor(cv2.imread(str(clip / "JPEGImages" / "00030.jpg")), cv2.COLOR_BGR2RGB), (w, h))
    mask = cv2.imread(str(clip / "Annotations" / "00030.png"), cv2.IMREAD_GRAYSCALE)
    alpha = cv2.GaussianBlur(cv2.resize((mask > 127).astype(np.float32), (w, h)), (0, 0), 1.5)
    photo = cv2.imread(str(SHARED / "backgrounds" / "porch-691330_1280.jpg"))
    bg = cv2.resize(cv2.cvtColor(photo, cv2.COLOR_BGR2RGB), (w, h), interpolation=cv2.INTER_AREA)
    background = PictureBackground(bg)
    plain = Compositor(background)
    harmonized = Compositor(background, harmonize=1.0)
    alone = Harmonizer(strength=1.0)
    t = Fraction(0)
    for c in (plain, harmonized):  # warm up
        c(frame, alpha, t)
    names = ["blend (no harmonisation)", "blend + --harmonize 1", "harmonisation alone (statistics + 3x4 matrix)",
             "  of it: statistics on the 1/8 copy"]
    times = median_ms([lambda: plain(frame, alpha, t), lambda: harmonized(frame, alpha, t),
                       lambda: alone(frame, alpha, bg), lambda: alone._measure(frame, alpha, bg, frame)], args.frames)
    rows = list(zip(names, times))
    base = rows[0][1]
    print(f"{w}x{h}, median of {args.frames} calls, OpenCV threads {cv2.getNumThreads()}\n")
    print("| step | ms per frame | ratio to the blend alone |")
    print("|---|---|---|")
    for name, ms in rows:
        print(f"| {name} | {ms:.2f} | {ms / base:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
