"""Score livebg's photo matte on folders of labelled photos: per set, mean IoU and boundary F
(all photos, and those without a coarse COCO "crowd" region), the worst five, and a contact
sheet PNG of the worst (photo, truth, livebg's alpha).

    python scripts/evaluate_photos.py ../shared/media/labeled_photos/*/
    python scripts/evaluate_photos.py ../shared/media/labeled_photos/*/ --rows raw,default --sheet /tmp/sheets
    python scripts/evaluate_photos.py ../shared/media/labeled_photos/coco_multi_person --weights rvm.onnx

A set is a folder with ``images/ID.jpg``, ``masks/ID.png`` (255 = person) and ``metadata.json``
(a list of {"file": ID, "has_crowd_region": ...}), or a DAVIS-style labelled clip, whose every
10th frame is taken as a photo. Rows:

- ``raw``: RVM as its own tools run a photo: the whole picture at the ratio that brings it to
  256 px, its own refiner, 4 runs from zero state, nothing after (the photo issue's "RVM raw");
- ``default``: what `livebg image` writes (the default model, ``replace_photo``);
- ``matting``: the same with ``--matting``;
- ``fast``: `livebg image --fast`;
- ``sizes:256/512``: the default with RVM also run at those working sizes on each photo, the
  alphas fused by their maximum; ``sizes:256/512/768+new``: sizes above the model's add only
  people it did not find; ``+groups``: the other sizes only on photos of a group (``is_group``).

Edge quality beside boundary F: SAD in the band within 8 px of the truth's outline (sum of
|alpha - truth| there, per 1000 px of outline; lower is better), which sees soft edges that a
threshold at 0.5 does not.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from livebg.config import Config, load_config  # noqa: E402
from livebg.evaluation import boundary_f, iou  # noqa: E402
from livebg.frames.images import read_image  # noqa: E402
from livebg.jobs.photos import replace_photo  # noqa: E402
from livebg.matte.matter import Matter  # noqa: E402
from livebg.segment.factory import load_segmenter  # noqa: E402

ROWS = ("raw", "default", "matting", "fast")
BAND = 8  # px each side of the truth's outline for the edge SAD


def load_set(folder: Path, every: int = 10) -> list[dict]:
    """The set's photos: {"id", "image" path, "truth" bool mask, "crowd"}. A DAVIS-style clip
    (JPEGImages/ + Annotations/) gives every ``every``-th frame, each as a photo."""
    if (folder / "JPEGImages").is_dir():
        frames = sorted((folder / "JPEGImages").glob("*.jpg"))[::every]
        return [{"id": f"{folder.name}/{f.stem}", "image": f, "crowd": False,
                 "truth": cv2.imread(str(folder / "Annotations" / f"{f.stem}.png"), cv2.IMREAD_GRAYSCALE) > 127}
                for f in frames]
    metadata = json.loads((folder / "metadata.json").read_text())
    photos = []
    for entry in metadata:
        image = folder / "images" / f"{entry['file']}.jpg"
        mask = cv2.imread(str(folder / "masks" / f"{entry['file']}.png"), cv2.IMREAD_GRAYSCALE)
        if mask is None or not image.is_file():
            raise SystemExit(f"{folder}: {entry['file']} has no image or mask")
        photos.append({"id": entry["file"], "image": image, "truth": mask > 127,
                       "crowd": bool(entry.get("has_crowd_region"))})
    return photos


def edge_sad(alpha: np.ndarray, truth: np.ndarray) -> float:
    """Sum of |alpha - truth| within BAND px of the truth's outline, per 1000 px of outline."""
    t = truth.astype(np.uint8)
    outline = cv2.morphologyEx(t, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    if not outline.any():
        return 0.0
    band = cv2.dilate(outline.astype(np.uint8), np.ones((2 * BAND + 1, 2 * BAND + 1), np.uint8)) > 0
    return float(np.abs(alpha[band] - t[band]).sum() / outline.sum() * 1000)


def alpha_function(row: str, base: Config, weights: str | None):
    """photo (RGB uint8) -> alpha (float32, the photo's size) as the row makes it. ``sizes:A/B/C``:
    the default with RVM's photo passes at those working sizes fused (RvmSegmenter.photo_sizes)."""
    if row.startswith("sizes:"):
        from livebg.segment.rvm import RvmSegmenter

        spec = row.split(":", 1)[1]
        spec, _, fusion = spec.partition("+")
        fusion = fusion or "max"
        sizes = [int(v) for v in spec.split("/")]
        segmenter, _ = load_segmenter(base.model)
        assert isinstance(segmenter, RvmSegmenter), "sizes: rows need RVM"
        segmenter.photo_sizes, segmenter.photo_fusion = tuple(sizes), fusion
        matter = Matter(base.override("smoothing", method="none"), edge_threshold=segmenter.edge_threshold)
        return lambda image: replace_photo(image, segmenter, matter, None, False)[1]
    if row == "raw":
        from livebg.segment.rvm import RvmSegmenter
        from livebg.segment.weights import fetch_rvm

        raw = RvmSegmenter(fetch_rvm(weights_file=weights or ""), model_short=256, source_short=0, threads=0)
        return lambda image: np.clip(raw.predict([image])[0].alpha, 0, 1)
    config = base.override("model", fast=True) if row == "fast" else base
    segmenter, _ = load_segmenter(config.model)
    matter = Matter(config.override("smoothing", method="none"), edge_threshold=segmenter.edge_threshold)
    matting = row == "matting"
    return lambda image: replace_photo(image, segmenter, matter, None, matting)[1]


def score_set(folder: Path, rows: list[str], base: Config, weights: str | None, sheet: Path | None,
              limit: int = 0) -> list[dict]:
    photos = load_set(folder)[:limit or None]
    results = []
    for row in rows:
        alpha_of = alpha_function(row, base, weights)
        scores = []
        started = time.perf_counter()
        for photo in photos:
            image = read_image(photo["image"])
            alpha = alpha_of(image)
            truth = photo["truth"]
            scores.append({"id": photo["id"], "crowd": photo["crowd"], "iou": iou(alpha, truth),
                           "boundary_f": boundary_f(alpha, truth), "sad": edge_sad(alpha, truth),
                           "alpha": cv2.resize(alpha, (240, round(240 * alpha.shape[0] / alpha.shape[1])))
                           if sheet else None})
        seconds = (time.perf_counter() - started) / len(photos)
        clear = [s for s in scores if not s["crowd"]]
        worst = sorted(scores, key=lambda s: s["iou"])[:5]
        results.append({"set": folder.name, "row": row, "photos": len(scores),
                        "iou": float(np.mean([s["iou"] for s in scores])),
                        "iou_clear": float(np.mean([s["iou"] for s in clear])) if clear else float("nan"),
                        "clear": len(clear),
                        "boundary_f": float(np.mean([s["boundary_f"] for s in scores])),
                        "sad": float(np.mean([s["sad"] for s in scores])), "seconds": seconds,
                        "worst": [(s["id"], s["iou"]) for s in worst]})
        if sheet:
            name = row.replace("/", "-").replace(":", "-").replace("+", "-")
            contact_sheet(sheet / f"{folder.name}_{name}_worst.png", worst, {p["id"]: p for p in photos})
    return results


def contact_sheet(path: Path, worst: list[dict], photos: dict) -> None:
    """One row per photo: the photo, its truth, livebg's alpha, 240 px wide each."""
    rows = []
    for s in worst:
        photo = photos[s["id"]]
        image = cv2.imread(str(photo["image"]))
        h = round(240 * image.shape[0] / image.shape[1])
        truth = (photo["truth"] * 255).astype(np.uint8)
        alpha = (np.clip(s["alpha"], 0, 1) * 255).astype(np.uint8)
        cells = [cv2.resize(image, (240, h)), cv2.cvtColor(cv2.resize(truth, (240, h)), cv2.COLOR_GRAY2BGR),
                 cv2.cvtColor(cv2.resize(alpha, (240, h)), cv2.COLOR_GRAY2BGR)]
        row = np.concatenate(cells, axis=1)
        cv2.putText(row, f"{s['id']} IoU {s['iou']:.2f}", (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 255), 1)
        rows.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.concatenate(rows, axis=0))


def print_table(results: list[dict]) -> None:
    print("| set | row | photos | IoU | IoU without crowd regions | boundary F | edge SAD | s a photo | worst five (IoU) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        worst = ", ".join(f"{i} {v:.2f}" for i, v in r["worst"])
        print(f"| {r['set']} | {r['row']} | {r['photos']} | {r['iou']:.3f} | {r['iou_clear']:.3f} ({r['clear']}) | "
              f"{r['boundary_f']:.3f} | {r['sad']:.0f} | {r['seconds']:.2f} | {worst} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score livebg's photo matte on labelled photo sets.")
    parser.add_argument("sets", nargs="+", type=Path, help="folders with images/, masks/ and metadata.json")
    parser.add_argument("--rows", default="raw,default", help=f"comma-separated subset of: {', '.join(ROWS)}")
    parser.add_argument("--config", help="a TOML preset to start from")
    parser.add_argument("--model", help="model for the livebg rows (default: livebg's own choice)")
    parser.add_argument("--weights", help="RVM's .onnx file, when it is not in livebg's cache")
    parser.add_argument("--limit", type=int, default=0, help="only the first N photos of each set")
    parser.add_argument("--sheet", type=Path, help="write a contact sheet of each row's worst five here")
    args = parser.parse_args(argv)
    rows = [r.strip() for r in args.rows.split(",")]
    unknown = [r for r in rows if r not in ROWS and not r.startswith("sizes:")]
    if unknown:
        parser.error(f"unknown rows {unknown}: use {', '.join(ROWS)}")
    base = load_config(args.config).override("model", device="cpu")
    if args.model:
        base = base.override("model", name=args.model)
    if args.weights:
        base = base.override("model", weights=args.weights)
    results = []
    for folder in args.sets:
        results.extend(score_set(folder, rows, base, args.weights, args.sheet, args.limit))
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
