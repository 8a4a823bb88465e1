"""Time and peak memory of `livebg image --matting` on big photos (10, 24 and 64 megapixels).

    python scripts/bench_matting.py                      # 10, 24, 64 MP
    python scripts/bench_matting.py --sizes 2,10         # others
    python scripts/bench_matting.py --baseline           # + matting at full size (the old way) at 2 MP
    python scripts/bench_matting.py --group --weights ../shared/models/rvm_mobilenetv3_fp32.onnx
        # a group photo at 640 px and at 12 MP with the default model, plain and --matting

Each photo is a portrait from ../shared/media/portraits enlarged to the size, written as JPEG,
and matted by `livebg image` in a child process of its own; the table has its wall time and
the child's peak resident memory (ru_maxrss). The first run compiles pymatting's code (once
per machine); a warm-up run on a small photo keeps that out of the table. Goals (hardening
issue): every size up to 64 MP within 3 GB, 24 MP in under 60 s.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parent.parent
PORTRAIT = REPO.parent / "shared" / "media" / "portraits" / "doctor-5871743_640.jpg"
# a COCO group photo that is_group takes for one (640x425, a street; see its metadata.json for its licence)
GROUP = REPO.parent / "shared" / "media" / "labeled_photos" / "coco_multi_person" / "images" / "000000184324.jpg"


def make_photo(megapixels: float, directory: Path, source: Path = PORTRAIT) -> Path:
    image = cv2.imread(str(source))
    h, w = image.shape[:2]
    scale = (megapixels * 1e6 / (h * w)) ** 0.5
    big = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)
    path = directory / f"{source.stem}_{megapixels:g}mp.jpg"
    cv2.imwrite(str(path), big, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return path


def run(photo: Path, out: Path, extra: list[str], flags: tuple[str, ...] = ("--matting", "--fast")
        ) -> tuple[float, float, int]:
    """(seconds, peak RSS in GB, exit status) of one `livebg image` child process (by default
    `--matting --fast`)."""
    command = [sys.executable, "-m", "livebg", "image", str(photo), "-o", str(out), "--bg", "white", *flags,
               "-q", *extra]
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=REPO, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    err = child.stderr.read().decode() if child.stderr else ""
    if status:
        print(err, file=sys.stderr)
    return seconds, usage.ru_maxrss / 1024 / 1024, os.waitstatus_to_exitcode(status)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,24,64", help="megapixels, comma-separated (default 10,24,64)")
    parser.add_argument("--baseline", action="store_true", help="also the full-size matting at 2 MP (the old way)")
    parser.add_argument("--group", action="store_true",
                        help="instead: a group photo at its 0.3 MP and at 12 MP, default model, plain and --matting")
    parser.add_argument("--weights", help="with --group: RVM's file (default: livebg's cache)")
    args = parser.parse_args(argv)
    if args.group:
        return group_table(args.weights)
    rows = []
    with tempfile.TemporaryDirectory(prefix="livebg-matting-") as tmp:
        directory = Path(tmp)
        run(make_photo(0.5, directory), directory / "warm.jpg", [])  # pymatting's compile, once
        if args.baseline:
            photo = make_photo(2, directory)
            # the old way is not a flag (it ran out of memory): compared in this process
            import numpy as np

            sys.path.insert(0, str(REPO))
            from livebg.frames.images import read_image
            from livebg.matte.photo import matte_photo

            image = read_image(photo)
            prob = np.ones((64, 64), np.float32) * 0.0
            prob[8:60, 16:48] = 1.0
            for name, limit in (("full size (the old way)", 10**12), ("bounded (now)", None)):
                started = time.perf_counter()
                matte_photo(image, prob, **({"max_pixels": limit} if limit else {}))
                rows.append((f"2 MP, {name}, in-process", time.perf_counter() - started, float("nan"), 0))
        for mp in (float(s) for s in args.sizes.split(",")):
            photo = make_photo(mp, directory)
            seconds, peak, status = run(photo, directory / f"out_{mp:g}.jpg", [])
            rows.append((f"{mp:g} MP ({photo.stat().st_size / 1e6:.1f} MB JPEG)", seconds, peak, status))
            print(f"  {rows[-1][0]}: {seconds:.1f} s, peak {peak:.2f} GB, exit {status}", file=sys.stderr, flush=True)
    print_table(f"`livebg image --matting --fast`, {os.cpu_count()} CPU cores", rows)
    return 0


def print_table(title: str, rows: list[tuple[str, float, float, int]]) -> None:
    print(title)
    print()
    print("| photo | seconds | peak memory (GB) | exit |")
    print("|---|---:|---:|---:|")
    for name, seconds, peak, status in rows:
        print(f"| {name} | {seconds:.1f} | {peak:.2f} | {status} |")


def group_table(weights: str | None) -> int:
    """The default model (RVM, with its passes for groups) on a group photo, plain and matted."""
    extra = ["--weights", weights] if weights else []
    rows = []
    with tempfile.TemporaryDirectory(prefix="livebg-photo-") as tmp:
        directory = Path(tmp)
        run(make_photo(0.5, directory), directory / "warm.jpg", [])  # pymatting's compile, once
        for mp in (0.0, 12.0):
            photo = GROUP if not mp else make_photo(mp, directory, GROUP)
            for flags in ((), ("--matting",)):
                seconds, peak, status = run(photo, directory / f"out_{mp:g}_{len(flags)}.jpg", extra, flags)
                size = '640x425' if not mp else f'{mp:g} MP'
                name = f"{size} group, {'--matting' if flags else 'plain'}"
                rows.append((name, seconds, peak, status))
                print(f"  {name}: {seconds:.1f} s, peak {peak:.2f} GB, exit {status}", file=sys.stderr, flush=True)
    print_table(f"`livebg image` with the default model (whole process: start, model load, photo), "
                f"{os.cpu_count()} CPU cores", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
