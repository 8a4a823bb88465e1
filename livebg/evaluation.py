"""Quality measures for mattes against ground truth: IoU, DAVIS boundary F, flicker, lag.

Used by ``scripts/evaluate.py`` and the tests. Alphas are float32 in [0, 1]; ground-truth
masks are boolean (or 0/255) arrays of the same size.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np

BOUNDARY_TOLERANCE = 0.008  # of the image diagonal, as in the DAVIS benchmark


def iou(alpha: np.ndarray, truth: np.ndarray, threshold: float = 0.5) -> float:
    """Intersection over union of ``alpha > threshold`` and the truth; 1 when both are empty."""
    mask = alpha > threshold
    truth = truth.astype(bool)
    union = np.count_nonzero(mask | truth)
    return 1.0 if union == 0 else np.count_nonzero(mask & truth) / union


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """One-pixel-wide boundary of a boolean mask: foreground pixels with a background 4-neighbour.

    Pixels on the image border are not boundary unless the background touches them, so a mask
    that fills the frame has no boundary, as in DAVIS.
    """
    m = mask.astype(np.uint8)
    eroded = cv2.erode(m, cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3)), borderType=cv2.BORDER_REPLICATE)
    return (m > 0) & (eroded == 0)


def boundary_f(alpha: np.ndarray, truth: np.ndarray, threshold: float = 0.5,
               tolerance: float = BOUNDARY_TOLERANCE) -> float:
    """DAVIS contour accuracy F: boundary precision and recall within ``tolerance`` x diagonal."""
    mask = alpha > threshold
    truth = truth.astype(bool)
    h, w = truth.shape
    radius = max(1, math.ceil(tolerance * math.hypot(h, w)))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    found, real = boundary_map(mask), boundary_map(truth)
    n_found, n_real = np.count_nonzero(found), np.count_nonzero(real)
    if n_found == 0 and n_real == 0:
        return 1.0
    if n_found == 0 or n_real == 0:
        return 0.0
    near_real = cv2.dilate(real.astype(np.uint8), disk) > 0
    near_found = cv2.dilate(found.astype(np.uint8), disk) > 0
    precision = np.count_nonzero(found & near_real) / n_found
    recall = np.count_nonzero(real & near_found) / n_real
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def flicker(alphas: Sequence[np.ndarray], truths: Sequence[np.ndarray]) -> float:
    """Mean over frames of mean |(a_t - a_{t-1}) - (g_t - g_{t-1})| x 100: temporal change the
    truth does not have. Zero when the matte changes exactly as the truth does."""
    meter = FlickerMeter()
    for alpha, truth in zip(alphas, truths):
        meter.add(alpha, truth)
    return meter.value


class FlickerMeter:
    """``flicker`` one frame at a time, so a sequence need not be held in memory."""

    def __init__(self) -> None:
        self.total = 0.0
        self.count = 0
        self._prev: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, alpha: np.ndarray, truth: np.ndarray) -> None:
        g = truth.astype(np.float32)
        if truth.dtype != bool and g.max(initial=0) > 1:
            g *= 1 / 255.0
        if self._prev is not None:
            pa, pg = self._prev
            self.total += float(np.abs((alpha - pa) - (g - pg)).mean()) * 100
            self.count += 1
        self._prev = (alpha, g)

    @property
    def value(self) -> float:
        return self.total / self.count if self.count else 0.0


# -- the lag of a smoother, on a synthetic moving shape ------------------------------------

LAG_SIZE = (96, 160)  # (h, w) of the synthetic frames


def _disk_probability(cx: float, cy: float, radius: float, size=LAG_SIZE) -> np.ndarray:
    """A soft disk: probability 1 inside, falling to 0 over two pixels at the edge."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dist = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
    return np.clip((radius + 1 - dist) / 2, 0, 1).astype(np.float32)


def synthetic_motion(rest_frames: int = 12, move_frames: int = 24, speed: float = 3.0,
                     noise: float = 0.08, seed: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(frame RGB, noisy probability, true mask) of a disk that rests, then moves sideways at
    ``speed`` px/frame. The noise imitates a model's frame-to-frame shimmer at rest."""
    rng = np.random.default_rng(seed)
    h, w = LAG_SIZE
    radius = h * 0.25
    x0 = w * 0.25
    for t in range(rest_frames + move_frames):
        cx = x0 + speed * max(0, t - rest_frames + 1)
        truth = _disk_probability(cx, h / 2, radius)
        prob = np.clip(truth + rng.normal(0, noise, truth.shape).astype(np.float32)
                       * (truth * (1 - truth) * 4 + 0.25), 0, 1).astype(np.float32)
        frame = np.full((h, w, 3), 40, np.uint8)
        frame[truth > 0.5] = 200
        yield frame, prob, truth > 0.5


def lag_frames(smooth: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None, *,
               stream: Callable[[Iterable[tuple[np.ndarray, np.ndarray]]], Iterable[np.ndarray]] | None = None,
               speed: float = 3.0) -> float:
    """How many frames the smoothed matte trails a shape that starts moving suddenly.

    ``smooth(prob, frame) -> alpha`` is called frame by frame (a TemporalSmoother); or
    ``stream`` takes all the ``(prob, frame)`` pairs and gives the alphas in order, for a
    matte that looks ahead (``Matter.stream``).
    The shape rests (the smoother settles), then moves at ``speed`` px/frame; the lag is the
    mean distance by which the matte's front edge trails the true one, or its back edge
    leaves a ghost behind it, while moving, in frames of motion. 0 means it keeps up exactly.
    """
    if (smooth is None) == (stream is None):
        raise TypeError("give smooth or stream")
    rest = 12
    gaps = []
    sequence = list(synthetic_motion(rest_frames=rest, speed=speed))
    alphas: Iterable[np.ndarray]
    if smooth is not None:
        alphas = (smooth(prob, frame) for frame, prob, _ in sequence)
    else:
        assert stream is not None
        alphas = stream((prob, frame) for frame, prob, _ in sequence)
    for t, ((frame, prob, truth), alpha) in enumerate(zip(sequence, alphas, strict=True)):
        if t < rest:
            continue
        cols_matte = np.flatnonzero((alpha > 0.5).any(axis=0))
        cols_truth = np.flatnonzero(truth.any(axis=0))
        if cols_matte.size == 0:
            continue
        leading = cols_truth[-1] - cols_matte[-1]  # the matte has not caught up with the front
        trailing = cols_truth[0] - cols_matte[0]  # a ghost left behind the back
        gaps.append(max(0.0, leading - 1, trailing - 1) / speed)  # 1 px of edge noise is no lag
    return float(np.mean(gaps)) if gaps else float("nan")


# -- labelled sequences -----------------------------------------------------------------------

def load_labeled(directory: str | Path, limit: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(RGB frame, boolean mask) pairs of a DAVIS-style directory: JPEGImages/ + Annotations/."""
    root = Path(directory)
    frames = sorted((root / "JPEGImages").glob("*.jpg")) or sorted((root / "JPEGImages").glob("*.png"))
    if not frames:
        raise FileNotFoundError(f"{root}/JPEGImages holds no frames")
    if limit:
        frames = frames[:limit]
    pairs = []
    for path in frames:
        mask_path = root / "Annotations" / f"{path.stem}.png"
        image = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
        if mask is None:
            raise FileNotFoundError(f"no mask {mask_path} for frame {path.name}")
        pairs.append((image, mask > 127))
    return pairs


def zoomed(pairs: Sequence[tuple[np.ndarray, np.ndarray]], share: float, follow: int = 9
           ) -> list[tuple[np.ndarray, np.ndarray]]:
    """The same scene filmed closer: each (frame, mask) cropped to a box of the frame's aspect
    sized so that the people, on average, would fill ``share`` of it (people cut by its sides
    make the real share lower), centred on the people (their centre averaged over ``follow``
    frames, as a camera that follows them) and kept inside the frame. For measuring a model on
    larger people than a labelled clip shows (docs/quality.md, "The working size per shot")."""
    h, w = pairs[0][1].shape[:2]
    area = float(np.mean([np.count_nonzero(truth) for _, truth in pairs]))
    ch = int(min(h, math.sqrt(area / share * h / w))) // 2 * 2
    cw = min(w, round(ch * w / h)) // 2 * 2
    centres: list[tuple[float, float]] = []
    for _, truth in pairs:
        ys, xs = np.nonzero(truth)
        centres.append((xs.mean(), ys.mean()) if len(xs) else (centres[-1] if centres else (w / 2, h / 2)))
    padded = np.pad(np.array(centres), ((follow // 2, follow // 2), (0, 0)), mode="edge")
    kernel = np.ones(follow) / follow
    smooth = np.stack([np.convolve(padded[:, i], kernel, mode="valid") for i in range(2)], 1)
    out = []
    for (image, truth), (cx, cy) in zip(pairs, smooth):
        x0 = int(np.clip(round(cx - cw / 2), 0, w - cw))
        y0 = int(np.clip(round(cy - ch / 2), 0, h - ch))
        out.append((np.ascontiguousarray(image[y0:y0 + ch, x0:x0 + cw]),
                    np.ascontiguousarray(truth[y0:y0 + ch, x0:x0 + cw])))
    return out


def save_labeled(pairs: Iterable[tuple[np.ndarray, np.ndarray]], directory: str | Path) -> Path:
    """(RGB frame, mask) pairs as a DAVIS-style directory that ``load_labeled`` reads (PNG, lossless)."""
    root = Path(directory)
    (root / "JPEGImages").mkdir(parents=True, exist_ok=True)
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    for index, (image, truth) in enumerate(pairs):
        cv2.imwrite(str(root / "JPEGImages" / f"{index:05d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(root / "Annotations" / f"{index:05d}.png"), np.where(truth, 255, 0).astype(np.uint8))
    return root
