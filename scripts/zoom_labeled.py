"""Labelled clips filmed closer: each clip cropped around its people so that they fill more of
the frame, written as DAVIS-style directories for ``scripts/evaluate.py``. The labelled clips
show full bodies and groups; these stand in for portraits and close groups, which no labelled
clip shows (docs/quality.md, "The working size per shot").

    python scripts/zoom_labeled.py ../shared/media/labeled/*/ --share 0.35 -o /tmp/zoom35
    python scripts/evaluate.py /tmp/zoom35/*/ --model rvm --rows default
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from livebg.evaluation import load_labeled, save_labeled, zoomed  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Crop labelled clips closer around their people.")
    parser.add_argument("labeled", nargs="+", help="directories with JPEGImages/ and Annotations/ (DAVIS layout)")
    parser.add_argument("--share", type=float, default=0.35,
                        help="the share of the crop the people would fill on average (default 0.35)")
    parser.add_argument("-o", "--output", required=True, help="directory for the cropped clips (one folder per clip)")
    args = parser.parse_args(argv)
    if not 0 < args.share < 1:
        parser.error(f"--share {args.share}: use a share between 0 and 1, e.g. 0.35")
    for directory in args.labeled:
        pairs = load_labeled(directory)
        crops = zoomed(pairs, args.share)
        out = save_labeled(crops, Path(args.output) / Path(directory).resolve().name)
        shares = [float(truth.mean()) for _, truth in crops]
        h, w = crops[0][1].shape
        print(f"{out}: {len(crops)} frames {w}x{h}, people cover {np.mean(shares):.3f} of the crop "
              f"(min {np.min(shares):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
