"""livebg/evaluation.py: the quality measures (IoU, boundary F, flicker) and the labelled clips' loader."""
import numpy as np
import pytest

from livebg.evaluation import boundary_f, flicker, iou, load_labeled


def disk(h=120, w=160, cx=80, cy=60, r=30):
    yy, xx = np.mgrid[0:h, 0:w]
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


def test_iou():
    a = disk()
    assert iou(a.astype(np.float32), a) == 1.0
    assert iou(np.zeros((120, 160), np.float32), np.zeros((120, 160), bool)) == 1.0
    half = a.copy()
    half[:, :80] = False
    assert iou(half.astype(np.float32), a) == pytest.approx(0.5, abs=0.02)


def test_boundary_f_tolerates_small_shifts_only():
    truth = disk()
    assert boundary_f(truth.astype(np.float32), truth) == 1.0
    # diagonal 200 px -> tolerance 2 px: a 1 px shift is within it, 10 px is not
    assert boundary_f(disk(cx=81).astype(np.float32), truth) == 1.0
    assert boundary_f(disk(cx=90).astype(np.float32), truth) < 0.5
    assert boundary_f(np.zeros((120, 160), np.float32), truth) == 0.0


def test_flicker():
    truths = [disk(cx=60 + 2 * t) for t in range(5)]
    exact = [t.astype(np.float32) for t in truths]
    assert flicker(exact, truths) == 0.0
    static = [exact[0]] * 5  # a matte that does not move: flicker equals the truth's own change
    expected = np.mean([np.abs(b.astype(float) - a).mean() * 100 for a, b in zip(truths, truths[1:])])
    assert flicker(static, truths) == pytest.approx(expected, rel=1e-5)
    rng = np.random.default_rng(0)
    noisy = [np.clip(e + rng.normal(0, 0.1, e.shape), 0, 1).astype(np.float32) for e in exact]
    assert flicker(noisy, truths) > 5


def test_load_labeled(shared):
    pairs = load_labeled(shared / "media/labeled/davis_lucia", limit=2)
    assert len(pairs) == 2
    image, mask = pairs[0]
    assert image.shape[:2] == mask.shape and mask.dtype == bool and mask.any()
