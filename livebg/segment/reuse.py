"""Reusing a model call on the frames after it while the person's outline barely changes.

A recurrent matting model costs the same on every frame, but on calm footage (a talk, a call,
an interview) consecutive alphas differ by less than a pixel's motion. ``FlowReuse`` keeps the
last model call (the key frame) and, for up to ``max_reuse`` frames after it, measures how the
frame moved from the key frame (DIS optical flow on a quarter-size grey picture), moves the key
frame's picture along that flow and compares it with the new frame **along the person's
outline** (the band where the moved alpha is neither 0 nor 1, widened a little). What is left
there, over the picture's gradient there, is about how far (px at the model's size) the outline
is from where the flow put it. Below ``threshold`` the key frame's alpha (and foreground colour),
moved the same way, stands in for a model call; otherwise, or when the run is at
``max_reuse``, the model runs.

Always from the key frame, never from the last reused frame, so errors do not add up. The
threshold (0.75 px) is half of where quality starts to drop on the labelled clips (1.5 px
reuses 22 of schoolgirls' 80 frames and raises its flicker 12 %); at 0.75 px none of the four
labelled clips (fast motion, handheld) reuses a call, and the two talking-head videos reuse
60 % of them, within IoU 0.997 of the model on every frame (docs/quality.md).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

STILL_THRESHOLD = 0.75  # px at the model's size that the flow leaves unexplained along the outline
FLOW_DIVISOR = 4  # the grey picture the flow is measured on: the model's source size / 4
MIN_FLOW_SIDE = 12  # OpenCV's DIS flow needs a side this long: smaller pictures always run the model
BAND_WIDTH = 5  # px at that size: how far the outline's band is widened
# the background changed: more than CHANGED_AREA of the picture, outside the person, differs by
# more than CHANGE_LEVEL grey levels from where the flow put it
CHANGE_LEVEL, CHANGED_AREA = 25, 0.01


@dataclass
class KeyFrame:
    grey: np.ndarray  # uint8, the model's source size / FLOW_DIVISOR
    alpha: np.ndarray  # float32 at the model's source size
    foreground: np.ndarray | None  # float32 HxWx3 at the model's source size, or None
    small_alpha: np.ndarray  # alpha at the grey picture's size
    reused: int = 0  # frames that reused it so far


def moved(picture: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``picture`` moved along ``flow`` (HxWx2 float32, px): out(x) = picture(x + flow(x)),
    bilinear, the border repeated (the flow is a relative map: no grid of coordinates to add)."""
    return cv2.remap(picture, flow, None, cv2.INTER_LINEAR | cv2.WARP_RELATIVE_MAP, borderMode=cv2.BORDER_REPLICATE)


def misalignment(moved: np.ndarray, grey: np.ndarray, where: np.ndarray) -> float:
    """How far (px, roughly) ``moved`` still is from ``grey`` within ``where``: their mean
    absolute difference over the mean gradient there (a shift by d changes a pixel by about
    gradient x d). The gradient counts as at least one grey level a pixel, so a flat outline,
    whose motion cannot be seen, is never taken as still."""
    difference = cv2.absdiff(moved, grey)[where].mean()
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    gradient = (np.abs(gx) + np.abs(gy))[where].mean() / 8  # Sobel's 3x3 weighs 8
    return float(difference / max(gradient, 1.0))


class FlowReuse:
    """The key frame of one stream and the decision to reuse it; ``reset()`` forgets it."""

    def __init__(self, max_reuse: int, threshold: float = STILL_THRESHOLD):
        self.max_reuse = max_reuse
        self.threshold = threshold
        self.key: KeyFrame | None = None
        self.last_residual = 0.0  # the last comparison's outline misalignment, px (for tests and tuning)
        self.last_changed = 0.0  # and the share of the background that changed
        self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)  # type: ignore[attr-defined]

    def reset(self) -> None:
        self.key = None

    @staticmethod
    def grey(small: np.ndarray) -> np.ndarray:
        """The picture the flow is measured on, from an RGB uint8 frame at the model's source size."""
        h, w = small.shape[:2]
        size = (max(8, w // FLOW_DIVISOR), max(8, h // FLOW_DIVISOR))
        return cv2.cvtColor(cv2.resize(small, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)

    def remember(self, grey: np.ndarray, alpha: np.ndarray, foreground: np.ndarray | None) -> None:
        """A model call's result: the new key frame."""
        small_alpha = cv2.resize(alpha, grey.shape[::-1], interpolation=cv2.INTER_AREA)
        self.key = KeyFrame(grey, alpha, foreground, small_alpha)

    def reuse(self, grey: np.ndarray) -> tuple[np.ndarray, np.ndarray | None] | None:
        """The key frame's alpha and foreground moved onto this frame, or None: run the model."""
        key = self.key
        if (key is None or key.reused >= self.max_reuse or key.grey.shape != grey.shape
                or max(grey.shape) < MIN_FLOW_SIDE):
            return None
        # flow such that this frame at x looks like the key frame at x + flow(x)
        flow = self._flow.calc(grey, key.grey, None)
        moved_grey = moved(key.grey, flow)
        moved_alpha = moved(key.small_alpha, flow)
        band = ((moved_alpha > 0.02) & (moved_alpha < 0.98)).astype(np.uint8)
        band = cv2.dilate(band, np.ones((BAND_WIDTH, BAND_WIDTH), np.uint8)) > 0
        # something new in the background (someone walking in) needs the model, wherever it is
        changed = cv2.absdiff(moved_grey, grey) > CHANGE_LEVEL
        self.last_changed = float((changed & ~band & (moved_alpha < 0.5)).mean())
        if not band.any():  # no outline in the picture (nobody, or someone filling it): all of it
            band[:] = True
        self.last_residual = misalignment(moved_grey, grey, band) * FLOW_DIVISOR
        if self.last_residual >= self.threshold or self.last_changed > CHANGED_AREA:
            return None
        key.reused += 1
        h, w = key.alpha.shape
        # the flow in px of the key frame's size
        full_flow = cv2.resize(flow * np.array([w / grey.shape[1], h / grey.shape[0]], np.float32), (w, h),
                               interpolation=cv2.INTER_LINEAR)
        alpha = moved(key.alpha, full_flow)
        foreground = None if key.foreground is None else moved(key.foreground, full_flow)
        return alpha, foreground
