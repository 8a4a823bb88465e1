"""Quality measures for colour harmonisation, as harmonisation datasets are built: a labelled
frame's colours changed by a random, plausible camera or light change (white balance, exposure,
gamma, saturation), livebg's blend with harmonisation over the frame as it was, and the
person's pixels compared with the original ones (foreground MSE and PSNR).

Used by ``scripts/evaluate_harmonize.py`` and the tests. Frames are RGB uint8, masks boolean.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from livebg.composite.base import Background
from livebg.composite.blend import Compositor


@dataclass(frozen=True)
class Perturbation:
    """A camera or light change: exposure (stops) and white balance (red/blue against green,
    a tint on green) in linear light, then a gamma and a saturation factor on the encoded
    values."""
    stops: float
    temperature: float  # log gain of red; blue gets its opposite
    tint: float  # log gain of green
    gamma: float
    saturation: float

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        linear = (rgb.astype(np.float32) * (1 / 255.0)) ** 2.2
        gains = np.float32(2.0 ** self.stops) * np.exp(np.array([self.temperature, self.tint, -self.temperature],
                                                                  np.float32))
        encoded = np.clip(linear * gains, 0.0, 1.0) ** np.float32(1 / 2.2)
        encoded = encoded ** np.float32(self.gamma)
        luma = encoded @ np.array([0.299, 0.587, 0.114], np.float32)
        encoded = luma[..., None] + np.float32(self.saturation) * (encoded - luma[..., None])
        return np.clip(encoded * 255 + 0.5, 0, 255).astype(np.uint8)


def random_perturbation(rng: np.random.Generator) -> Perturbation:
    """Within what two cameras or two rooms differ by: +-0.6 stops, +-0.2 in log red/blue,
    +-0.08 in log green, gamma 0.82..1.22, saturation 0.7..1.3."""
    return Perturbation(stops=float(rng.uniform(-0.6, 0.6)), temperature=float(rng.uniform(-0.2, 0.2)),
                        tint=float(rng.uniform(-0.08, 0.08)), gamma=float(math.exp(rng.uniform(-0.2, 0.2))),
                        saturation=float(rng.uniform(0.7, 1.3)))


class PictureBackground(Background):
    """A background picture held in memory (the frame as it was), as an image background is."""

    kind = "image"
    is_scene = True
    uses_frame = False

    def __init__(self, picture: np.ndarray):
        self.picture = picture

    def frame_at(self, t: Fraction, frame: np.ndarray) -> np.ndarray:
        return self.picture


def with_person(frame: np.ndarray, person: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``frame`` with the pixels of ``mask`` taken from ``person`` (a hard composite)."""
    out = frame.copy()
    out[mask] = person[mask]
    return out


def harmonized(frame: np.ndarray, mask: np.ndarray, background: np.ndarray, strength: float) -> np.ndarray:
    """livebg's blend of ``frame`` over ``background`` with the true mask as the matte and
    harmonisation at ``strength`` (a compositor of its own: no state from other frames)."""
    compositor = Compositor(PictureBackground(background), harmonize=strength)
    return compositor(frame, mask.astype(np.float32), Fraction(0))


def foreground_mse(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Mean squared difference (levels^2, over the three channels) of the pixels in ``mask``."""
    if not mask.any():
        return 0.0
    d = a[mask].astype(np.float32) - b[mask].astype(np.float32)
    return float((d * d).mean())


def foreground_change(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Mean absolute difference (levels) of the pixels in ``mask``."""
    if not mask.any():
        return 0.0
    return float(np.abs(a[mask].astype(np.float32) - b[mask].astype(np.float32)).mean())


def psnr(mse: float) -> float:
    return float("inf") if mse <= 0 else 10 * math.log10(255.0 ** 2 / mse)


def labelled_frames(directory: str | Path, every: int = 10) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, RGB frame, boolean person mask) of a labelled set: every ``every``-th frame of a
    DAVIS-style clip (JPEGImages/ + Annotations/) or every photo of a photo set (images/ + masks/)."""
    root = Path(directory)
    if (root / "JPEGImages").is_dir():
        pictures = sorted((root / "JPEGImages").glob("*.jpg"))[::every]
        masks = root / "Annotations"
    else:
        pictures = sorted((root / "images").glob("*.jpg"))
        masks = root / "masks"
    if not pictures:
        raise FileNotFoundError(f"{root} holds no labelled frames (JPEGImages/ or images/)")
    out = []
    for path in pictures:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        mask = cv2.imread(str(masks / f"{path.stem}.png"), cv2.IMREAD_GRAYSCALE)
        if image is None or mask is None:
            raise FileNotFoundError(f"cannot read {path} or its mask in {masks}")
        out.append((path.stem, cv2.cvtColor(image, cv2.COLOR_BGR2RGB), mask > 127))
    return out


@dataclass
class HarmonyScores:
    """One set's means: foreground MSE without and with harmonisation (person perturbed alone,
    and the whole frame perturbed: the person's room shares their light), and the mean absolute
    change (levels) of an unperturbed person."""
    frames: int
    person_without: float
    person_with: float
    scene_without: float
    scene_with: float
    unchanged: float

    @staticmethod
    def reduction(without: float, with_: float) -> float:
        return 1.0 - with_ / without if without > 0 else 0.0


def score_set(frames: list[tuple[str, np.ndarray, np.ndarray]], strength: float, seed: int) -> HarmonyScores:
    """The measures of one set; frame i's perturbation is drawn from ``seed`` and i."""
    sums = np.zeros(5)
    for i, (_, frame, mask) in enumerate(frames):
        change = random_perturbation(np.random.default_rng([seed, i]))
        changed = change.apply(frame)
        person_only = with_person(frame, changed, mask)
        sums += [foreground_mse(person_only, frame, mask),
                 foreground_mse(harmonized(person_only, mask, frame, strength), frame, mask),
                 foreground_mse(changed, frame, mask),
                 foreground_mse(harmonized(changed, mask, frame, strength), frame, mask),
                 foreground_change(harmonized(frame, mask, frame, strength), frame, mask)]
    n = max(1, len(frames))
    return HarmonyScores(len(frames), *(sums / n))
