"""Measure --harmonize as harmonisation datasets are built (livebg.evaluation_harmony): on every
10th frame of each labelled clip and every labelled photo, a seeded random camera/light change
(exposure, white balance, gamma, saturation), livebg's blend with the TRUE mask as the matte and
the ORIGINAL frame as the background, and the person's pixels against the original ones.

    python scripts/evaluate_harmonize.py                       # all labelled sets, strengths 0.5 and 1
    python scripts/evaluate_harmonize.py --strength 1 --flicker  # + flicker on the clips over the bunny

Rows, per set and their mean:

- ``person``: the person's colours changed alone, pasted back on the frame's own picture (the
  issue's construction): foreground MSE / PSNR without and with harmonisation;
- ``scene``: the whole frame changed (the person and their room share the light, as two
  cameras or two rooms differ), blended over the frame as it was;
- ``unchanged``: nothing changed: mean absolute change of the person in levels.

``--flicker``: each labelled clip, all frames, over the Big Buck Bunny clip (a video
background with cuts), one compositor per clip as a video job holds it: the mean absolute
frame-to-frame change of the output inside both frames' masks (levels), without and with, and
with the transform held at the clip's mean (the same colour change, nothing varying in time:
with / held is the flicker the harmonisation adds; with / without also counts a higher
contrast making the person's own motion larger), and the mean change between consecutive
frames of the transform applied to the same pixels.
"""
from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from livebg.composite.blend import Compositor  # noqa: E402
from livebg.composite.factory import open_background  # noqa: E402
from livebg.evaluation import load_labeled  # noqa: E402
from livebg.evaluation_harmony import HarmonyScores, labelled_frames, psnr, score_set  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "media"
BUNNY = SHARED / "background_videos" / "big_buck_bunny_320x176.mp4"
SEED = 34


def default_sets() -> list[Path]:
    return sorted(p for p in (SHARED / "labeled").iterdir() if p.is_dir()) + \
        sorted(p for p in (SHARED / "labeled_photos").iterdir() if p.is_dir())


def score_table(sets: list[Path], strength: float, seed: int) -> None:
    rows = [(s.name, score_set(labelled_frames(s), strength, seed)) for s in sets]
    print(f"\n### --harmonize {strength:g}\n")
    print("| set | frames | person: fMSE without / with | reduction | fPSNR without / with | "
          "scene: fMSE without / with | reduction | fPSNR without / with | unchanged: change (levels) |")
    print("|---|---|---|---|---|---|---|---|---|")

    def line(name: str, r: HarmonyScores) -> None:
        print(f"| {name} | {r.frames} | {r.person_without:.1f} / {r.person_with:.1f} | "
              f"{HarmonyScores.reduction(r.person_without, r.person_with):.0%} | "
              f"{psnr(r.person_without):.2f} / {psnr(r.person_with):.2f} | "
              f"{r.scene_without:.1f} / {r.scene_with:.1f} | {HarmonyScores.reduction(r.scene_without, r.scene_with):.0%} | "
              f"{psnr(r.scene_without):.2f} / {psnr(r.scene_with):.2f} | {r.unchanged:.2f} |")

    for name, r in rows:
        line(name, r)
    fields = ("person_without", "person_with", "scene_without", "scene_with", "unchanged")
    mean = HarmonyScores(sum(r.frames for _, r in rows),
                         *(float(np.mean([getattr(r, f) for _, r in rows])) for f in fields))
    line("**mean of the sets**", mean)


def clip_flicker(clip: Path, strength: float) -> tuple[float, float, float, float]:
    """Levels, over the bunny: the output's flicker without harmonisation, with it, with its
    transform held at the clip's mean (the same change of colour, nothing varying in time), and
    the transform's own change between consecutive frames on the same pixels."""
    from livebg.composite.blend import composite

    pairs = load_labeled(clip)
    h, w = pairs[0][0].shape[:2]
    background = open_background(str(BUNNY), (w, h), fit="loop")
    plain, harmonized, pictures, matrices = [], [], [], []
    try:
        compositor = Compositor(background, harmonize=strength)
        for i, (frame, mask) in enumerate(pairs):
            alpha = mask.astype(np.float32)
            bg = background.frame_at(Fraction(i, 24), frame).copy()
            pictures.append(bg)
            plain.append(composite(frame, alpha, bg))
            harmonized.append(compositor.blend(frame, alpha, bg))
            assert compositor.harmonizer is not None and compositor.harmonizer.matrix is not None
            matrices.append(compositor.harmonizer.matrix)
    finally:
        background.close()
    mean_matrix = np.mean(matrices, axis=0).astype(np.float32)
    held = [composite(cv2.transform(frame, mean_matrix), mask.astype(np.float32), bg)
            for (frame, mask), bg in zip(pairs, pictures)]
    own = [float(np.abs(cv2.transform(frame, m1).astype(np.float32) - cv2.transform(frame, m0))[mask].mean())
           for (frame, mask), m0, m1 in zip(pairs[1:], matrices, matrices[1:])]

    def flicker(frames: list[np.ndarray]) -> float:
        diffs = []
        for i in range(1, len(frames)):
            both = pairs[i][1] & pairs[i - 1][1]
            diffs.append(float(np.abs(frames[i].astype(np.float32) - frames[i - 1].astype(np.float32))[both].mean()))
        return float(np.mean(diffs))

    return flicker(plain), flicker(harmonized), flicker(held), float(np.mean(own))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="*", type=Path, help="labelled sets (default: all under ../shared/media)")
    parser.add_argument("--strength", default="0.5,1", help="comma-separated --harmonize values (default 0.5,1)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--flicker", action="store_true", help="also flicker on the labelled clips over the bunny")
    args = parser.parse_args()
    sets = args.sets or default_sets()
    strengths = [float(s) for s in args.strength.split(",")]
    for strength in strengths:
        score_table(sets, strength, args.seed)
    if args.flicker:
        clips = [s for s in sets if (s / "JPEGImages").is_dir()]
        for strength in strengths:
            print(f"\n### flicker over the bunny, --harmonize {strength:g}\n")
            print("| clip | frames | flicker without | with | with / without | transform held at its mean | "
                  "with / held | the transform's own change per frame |")
            print("|---|---|---|---|---|---|---|---|")
            for clip in clips:
                without, with_, held, own = clip_flicker(clip, strength)
                n = len(list((clip / "JPEGImages").glob("*.jpg")))
                print(f"| {clip.name} | {n} | {without:.3f} | {with_:.3f} | {with_ / without:.3f} | {held:.3f} | "
                      f"{with_ / held:.3f} | {own:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
