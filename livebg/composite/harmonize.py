"""Colour harmonisation: the person takes on the change of light from their own room to the new
background (a brighter scene makes them brighter, a warmer one warmer), inside the matte only.

The person's colours are never compared with the new background's directly: a person in a red
shirt is not wrong in front of a grey wall. What is compared is the camera's own room (the
frame where the matte is 0) with the new background over the same pixels (where it shows):
their difference in the mean and spread of luma and chroma is the change of scene, and the
person is moved by it, about their own mean. A background as it was behind the person gives no
change at all, so nothing moves.

The statistics are taken on an eighth-size copy in YCbCr (an opponent space of gamma-encoded
values, luma plus two colour differences, as Lab is, but linear in RGB), smoothed over time
with an exponential average (reset at scene cuts of the frame or of the background, and by
``reset()``), limited (so a green forest tints a person only a little) and applied as one 3x4
matrix on the uint8 RGB frame.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from livebg.frames.cuts import CutDetector
from livebg.frames.resize import shrink

STATS_SCALE = 8  # statistics on a copy this many times smaller on each side
MAX_SHIFT = (20.0, 4.0, 4.0)  # largest change of the mean of Y, Cr, Cb (levels), at strength 1: a
# green forest behind a person in a white room tints their white shirt only a little
MAX_GAIN = 1.25  # largest factor on the spread of luma and of chroma (1 / MAX_GAIN the least)
KEEP = 0.9  # exponential average: weight of the past statistics each frame
MIN_VISIBLE = 0.05  # share of the frame the room must show for a change to be measured at all
FULL_VISIBLE = 0.2  # ... and at which it counts fully (between: the change scales down)
VISIBLE_ALPHA = 0.01  # a block of the small copy shows the room when its alpha is at most this

# RGB -> YCbCr (OpenCV's YCrCb order, full range, as JPEG): v = C @ rgb + OFFSET
_C = np.array([[0.299, 0.587, 0.114],
               [0.5, -0.418688, -0.081312],
               [-0.168736, -0.331264, 0.5]], np.float64)
_C_INV = np.linalg.inv(_C)
_OFFSET = np.array([0.0, 128.0, 128.0])


@dataclass(frozen=True)
class Statistics:
    """Weighted mean and spread of Y, Cr, Cb (levels), and the weight's share of the picture."""
    mean: np.ndarray  # (3,) float32
    spread: np.ndarray  # (3,) float32
    share: float

    def blended(self, newer: "Statistics", keep: float) -> "Statistics":
        return Statistics(keep * self.mean + (1 - keep) * newer.mean,
                          keep * self.spread + (1 - keep) * newer.spread,
                          keep * self.share + (1 - keep) * newer.share)


def weighted_statistics(ycc: np.ndarray, weight: np.ndarray) -> Statistics:
    """Mean and spread of a float32 HxWx3 picture under float32 HxW weights."""
    total = float(weight.sum())
    if total <= 1e-6:
        zero = np.zeros(3, np.float32)
        return Statistics(zero, zero, 0.0)
    pixels = ycc.reshape(-1, 3)
    w = weight.reshape(-1)
    mean = (w @ pixels) / total
    spread = np.sqrt(np.maximum((w @ (pixels * pixels)) / total - mean * mean, 0.0))
    return Statistics(mean.astype(np.float32), spread.astype(np.float32), total / w.size)


def soft_limit(value: float, limit: float) -> float:
    """``value`` passed nearly unchanged while small, approaching +-``limit`` when large."""
    return limit * math.tanh(value / limit)


class Harmonizer:
    """Frame + alpha + background -> the frame with the person's colours moved by the change of
    scene, for the blend (``Compositor``). Holds the smoothed statistics of one stream:
    ``reset()`` at the start of a stream and when the background changes; scene cuts of the
    frame or of a background video reset it by themselves."""

    def __init__(self, *, strength: float, keep: float = KEEP):
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"harmonize strength must be 0..1, got {strength}")
        if not 0.0 <= keep < 1.0:
            raise ValueError(f"keep must be in [0, 1), got {keep}")
        self.strength = float(strength)
        self.keep = float(keep)
        self.room: Statistics | None = None  # the camera's frame where the matte is 0
        self.scene: Statistics | None = None  # the new background over the same pixels
        self.person: Statistics | None = None  # the colour blended, under the matte
        self.matrix: np.ndarray | None = None  # the last 3x4 RGB transform applied
        self.cuts = 0
        self._frame_cuts = CutDetector()
        self._background_cuts = CutDetector()

    def reset(self) -> None:
        """Forget the past statistics (a new stream, another background, a scene cut)."""
        self.room = self.scene = self.person = None
        self.matrix = None
        self._frame_cuts.reset()
        self._background_cuts.reset()

    def __call__(self, colour: np.ndarray, alpha: np.ndarray, background: np.ndarray,
                 frame: np.ndarray | None = None) -> np.ndarray:
        """``colour`` (uint8 HxWx3, what is blended under the matte) with the change of scene
        applied; ``frame``: the camera's frame the room is measured on when ``colour`` is a
        matting model's estimate of the foreground (None: ``colour`` itself). Strength 0
        returns ``colour`` itself."""
        frame = colour if frame is None else frame
        for name, image in (("colour", colour), ("frame", frame), ("background", background)):
            if not isinstance(image, np.ndarray):
                raise TypeError(f"{name} must be a numpy array, got {type(image).__name__}")
            if image.dtype != np.uint8:
                raise TypeError(f"{name} must be uint8, got {image.dtype}")
            if image.ndim != 3 or image.shape[2] != 3:
                raise ValueError(f"{name} must be HxWx3, got {image.shape}")
        if not isinstance(alpha, np.ndarray) or alpha.dtype != np.float32:
            raise TypeError(f"alpha must be a float32 array, got {getattr(alpha, 'dtype', type(alpha).__name__)}")
        if alpha.shape != colour.shape[:2] or frame.shape != colour.shape or background.shape != colour.shape:
            raise ValueError(f"alpha {alpha.shape}, frame {frame.shape} and background {background.shape} "
                             f"must match the colour's {colour.shape}")
        if self.strength == 0.0:
            return colour
        self._measure(colour, alpha, background, frame)
        self.matrix = self.transform()
        return cv2.transform(colour, self.matrix)

    def _measure(self, colour: np.ndarray, alpha: np.ndarray, background: np.ndarray, frame: np.ndarray) -> None:
        factor = max(1, min(STATS_SCALE, min(colour.shape[:2]) // 16))
        small_frame = shrink(frame, factor)
        small_bg = shrink(background, factor)
        small_alpha = np.clip(shrink(alpha, factor), 0.0, 1.0)
        cut = self._frame_cuts(small_frame)
        cut = self._background_cuts(small_bg) or cut  # both detectors see every frame
        if cut:
            self.cuts += 1
            self.room = self.scene = self.person = None
        # only blocks wholly outside the person: an edge block mixes the person into the room
        # in the frame, and whatever was behind them into the scene
        visible = (small_alpha <= VISIBLE_ALPHA).astype(np.float32)
        room = weighted_statistics(cv2.cvtColor(small_frame, cv2.COLOR_RGB2YCrCb).astype(np.float32), visible)
        scene = weighted_statistics(cv2.cvtColor(small_bg, cv2.COLOR_RGB2YCrCb).astype(np.float32), visible)
        small_colour = small_frame if colour is frame else shrink(colour, factor)
        person = weighted_statistics(cv2.cvtColor(small_colour, cv2.COLOR_RGB2YCrCb).astype(np.float32), small_alpha)
        if self.room is None or self.scene is None or self.person is None:
            self.room, self.scene, self.person = room, scene, person
        else:
            self.room = self.room.blended(room, self.keep)
            self.scene = self.scene.blended(scene, self.keep)
            self.person = self.person.blended(person, self.keep)

    def transform(self) -> np.ndarray:
        """The 3x4 float32 RGB matrix of the current statistics (identity before any frame)."""
        identity = np.hstack([np.eye(3), np.zeros((3, 1))]).astype(np.float32)
        if self.room is None or self.scene is None or self.person is None:
            return identity
        # a room hidden behind the person tells nothing about its light
        confidence = min(1.0, max(0.0, (self.room.share - MIN_VISIBLE) / (FULL_VISIBLE - MIN_VISIBLE)))
        s = self.strength * confidence
        if s == 0.0:
            return identity
        # limited first, then scaled: the strength is the share of the (limited) change applied
        shift = s * np.array([soft_limit(float(self.scene.mean[i] - self.room.mean[i]), MAX_SHIFT[i])
                              for i in range(3)])
        luma_gain = self._gain(self.scene.spread[0], self.room.spread[0], s)
        chroma_gain = self._gain(math.hypot(self.scene.spread[1], self.scene.spread[2]),
                                 math.hypot(self.room.spread[1], self.room.spread[2]), s)
        gain = np.diag([luma_gain, chroma_gain, chroma_gain])
        pivot = self.person.mean.astype(np.float64)
        # v' = G (v - pivot) + pivot + shift in YCbCr, with v = C rgb + OFFSET
        linear = _C_INV @ gain @ _C
        offset = _C_INV @ (gain @ (_OFFSET - pivot) + pivot + shift - _OFFSET)
        return np.hstack([linear, offset[:, None]]).astype(np.float32)

    @staticmethod
    def _gain(scene_spread: float, room_spread: float, s: float) -> float:
        if scene_spread <= 1e-3 or room_spread <= 1e-3:
            return 1.0
        return math.exp(s * soft_limit(math.log(scene_spread / room_spread), math.log(MAX_GAIN)))
