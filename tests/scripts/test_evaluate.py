"""scripts/evaluate.py (and zoom_labeled.py, evaluate_live) on a few frames so they cannot rot."""
import subprocess
import sys

import numpy as np
import pytest

from livebg.evaluation import iou, load_labeled
from tests.support import REPO


def test_evaluate_script_on_a_few_frames(shared):
    result = subprocess.run([sys.executable, str(REPO / "scripts/evaluate.py"), str(shared / "media/labeled/davis_lucia"),
                             "--limit", "4", "--lag", "--set", "refine.sharpness=2", "--set", "smoothing.look_ahead=false"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for row in ("raw model", "seeds' method", "ema smoothing only", "adaptive smoothing only", "look-ahead only",
                "guided refinement only", "default without look-ahead", "default with a 180 px guide", "default",
                "custom", "| adaptive |",
                "| adaptive + look-ahead (default) | 0.00 |"):
        assert row in out
    default = next(line for line in out.splitlines() if line.startswith("| default |"))
    iou_value = float(default.split("|")[2])
    assert 0.5 < iou_value <= 1.0


def test_zoom_labeled_crops_frames_and_masks_alike_around_the_people(shared, tmp_path):
    """scripts/zoom_labeled.py: the lucia clip filmed closer, as the portrait-size measurement uses it."""
    clip = shared / "media" / "labeled" / "davis_lucia"
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "zoom_labeled.py"), str(clip), "--share", "0.35",
                          "-o", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    before, after = load_labeled(clip), load_labeled(tmp_path / "davis_lucia")
    assert len(after) == len(before)
    share_before = np.mean([t.mean() for _, t in before])
    share_after = np.mean([t.mean() for _, t in after])
    assert share_after > 4 * share_before and 0.2 < share_after < 0.35
    # each crop is a piece of its frame, the mask cut from the same place (found by template match)
    import cv2
    for (image, truth), (crop, crop_truth) in zip(before[::20], after[::20]):
        assert crop.shape[:2] == crop_truth.shape
        assert abs(crop.shape[1] / crop.shape[0] - image.shape[1] / image.shape[0]) < 0.02  # the frame's aspect
        found = cv2.matchTemplate(image, crop, cv2.TM_SQDIFF)
        y, x = np.unravel_index(int(np.argmin(found)), found.shape)
        assert found[y, x] == 0
        np.testing.assert_array_equal(truth[y:y + crop.shape[0], x:x + crop.shape[1]], crop_truth)
    bad = subprocess.run([sys.executable, str(REPO / "scripts" / "zoom_labeled.py"), str(clip), "--share", "2",
                          "-o", str(tmp_path / "bad")], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "between 0 and 1" in bad.stderr and not (tmp_path / "bad").exists()


@pytest.mark.live_timing
def test_evaluate_live_scores_every_frame_shown_of_a_clip_shorter_than_the_warm_up(shared, tmp_path):
    """--live replays each clip through `livebg cam` and scores the mattes it composited: 12
    frames (half a second) is less than the startup takes, and every one shown is scored."""
    clips = [shared / "media/labeled/davis_lucia", shared / "media/labeled/davis17_schoolgirls"]
    keep = tmp_path / "kept"
    result = subprocess.run([sys.executable, str(REPO / "scripts/evaluate.py"), *map(str, clips), "--live",
                             "--limit", "12", "--keep-alpha", str(keep), "--cam-arg=--model", "--cam-arg=selfie"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in result.stdout.splitlines() if line.startswith("| ") and "---" not in line}
    assert set(rows) >= {"davis_lucia", "davis17_schoolgirls", "**mean**"}
    assert "model selfie" in result.stdout
    for clip in clips:
        cells = rows[clip.name]
        written = sorted(int(p.stem) for p in (keep / clip.name).glob("*.png"))
        dropped = int(cells[6].split(" of ")[0])
        assert cells[6].endswith("of 12") and len(written) == 12 - dropped
        assert float(cells[4]) > 0  # the latency the user sees, capture to hand-over (p95, ms)
        assert written[0] == 0  # the first frame shown is scored: no warm-up left out
        # the table's IoU is the kept mattes' own
        pairs = load_labeled(clip, 12)
        import cv2

        alphas = {i: cv2.imread(str(keep / clip.name / f"{i:05d}.png"), cv2.IMREAD_GRAYSCALE) / 255.0 for i in written}
        expected = np.mean([iou(alphas[i], pairs[i][1]) for i in written])
        assert float(cells[0]) == pytest.approx(expected, abs=1e-3)
    assert float(rows["davis_lucia"][0]) > 0.8
