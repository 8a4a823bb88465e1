"""Temporal smoothing of the probability maps, with explicit state and reset().

``ema`` blends each new map with the previous result at a fixed strength. ``adaptive`` does
the same per pixel, but lowers the weight linearly with the change in probability, to zero
where it moved by ``motion_threshold`` or more: a still matte stops shimmering while a moving
arm is followed at once, without a trailing ghost. A scene cut resets the state: the caller says
where one is (``cut``), detected once per frame by ``frames.cuts.CutDetector`` with the same
``cut_threshold`` the recurrent model's state is dropped at.

``neighbour_average`` is the look-ahead step of file jobs, before the smoother: each frame's
map is averaged with the raw maps of the frames before and after it, per pixel only where the
picture there did not change. A model's edge wobbles from frame to frame by a pixel or so
around where it should be; the mean of three frames wobbles less. Centred in time, it
follows a moving edge without trailing it, and where anything moved the picture changed, so
only the frame's own map counts there.

``TemporalSmoother.backward`` is its second half: after the (causal) smoother has run forward, the
adaptive update runs once more, from BACKWARD_FRAMES frames ahead back to the frame. A
forward smoother alone settles a little late on every small change; the pass back settles
it a little early by the same amount, so together they are centred in time (zero-phase, as
filtering a signal forward and then backward is). Large changes drop the past in both
directions, so motion is still followed at once.
"""
from __future__ import annotations

import cv2
import numpy as np

from livebg.config import SmoothingConfig

NEIGHBOUR_WEIGHT = 0.5  # weight of a neighbour's map (the frame's own: 1) where the picture is unchanged
PICTURE_TOLERANCE = 0.1  # a guide change (0..1) at which a neighbour's weight has fallen to 0
BACKWARD_FRAMES = 2  # how far ahead the adaptive smoother's pass back starts


def neighbour_average(prob: np.ndarray, guide: np.ndarray,
                      neighbours: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """``prob`` averaged with the ``(prob, guide)`` of up to two neighbouring frames, all at the
    guide's size: a neighbour weighs NEIGHBOUR_WEIGHT where its guide equals this one, falling
    linearly to 0 at a difference of PICTURE_TOLERANCE (something moved there, or the light
    changed). A new array, in one compiled pass."""
    from livebg.matte.kernels import neighbour_average as kernel

    if len(neighbours) > 2:
        raise ValueError(f"at most two neighbours, got {len(neighbours)}")
    arrays = [np.ascontiguousarray(a, dtype=np.float32) for pair in [(prob, guide), *neighbours] for a in pair]
    if any(a.shape != prob.shape for a in arrays):
        raise ValueError(f"neighbours' maps and guides must be {prob.shape} like the map")
    weights = [NEIGHBOUR_WEIGHT] * len(neighbours) + [0.0] * (2 - len(neighbours))
    while len(arrays) < 6:  # a missing neighbour: the frame itself at weight 0
        arrays += arrays[:2]
    out = np.empty(prob.shape, np.float32)
    p, g, p1, g1, p2, g2 = arrays
    kernel(p, g, p1, g1, weights[0], p2, g2, weights[1], NEIGHBOUR_WEIGHT / PICTURE_TOLERANCE, out)
    return out


class TemporalSmoother:
    def __init__(self, config: SmoothingConfig | None = None):
        self.config = config or SmoothingConfig()
        self.config.validate()
        self.state: np.ndarray | None = None
        self.cuts = 0  # the scene cuts it was told of
        if self.config.method == "adaptive":
            # load the compiled kernel now (slow the first time in a process),
            # at startup, not in the middle of the second frame
            self._adaptive(np.zeros((1, 1), np.float32), np.zeros((1, 1), np.float32))

    def reset(self) -> None:
        """Forget the past: call at the start of a job, on scene cuts and on effect toggles."""
        self.state = None

    def __call__(self, prob: np.ndarray, *, cut: bool = False) -> np.ndarray:
        """Smooth one float32 probability map; ``cut``: a new shot starts at this frame (the
        past is dropped)."""
        cfg = self.config
        if cut:
            self.cuts += 1
            self.state = None
        if cfg.method == "none" or cfg.strength == 0 or self.state is None or self.state.shape != prob.shape:
            self.state = prob.astype(np.float32, copy=True)
            return self.state
        if cfg.method == "ema":
            self.state = cv2.addWeighted(self.state, cfg.strength, prob, 1 - cfg.strength, 0)
            return self.state
        self.state = self._adaptive(np.ascontiguousarray(prob, dtype=np.float32), self.state)
        return self.state

    def backward(self, maps: list[np.ndarray]) -> np.ndarray:
        """``maps[0]`` smoothed backward in time: the adaptive update run from ``maps[-1]`` (the
        furthest ahead) back to ``maps[0]``. ``maps`` are this smoother's own outputs for
        consecutive frames of one shot. Other methods (``ema`` trails motion; a pass back
        would add the same ghost ahead of it) and ``none`` return ``maps[0]``."""
        if self.config.method != "adaptive" or self.config.strength == 0 or len(maps) < 2:
            return maps[0]
        state = maps[-1]
        for prob in reversed(maps[:-1]):
            if prob.shape != state.shape:
                return maps[0]
            state = self._adaptive(np.ascontiguousarray(prob, dtype=np.float32), state)
        return state

    def _adaptive(self, prob: np.ndarray, state: np.ndarray) -> np.ndarray:
        """keep = strength * (1 - |change| / threshold), clipped at 0, in one compiled pass (the
        result is a new array: the caller may hold the last one)."""
        from livebg.matte.kernels import adaptive_smooth

        out = np.empty_like(state)
        adaptive_smooth(prob, state, float(self.config.strength), float(self.config.motion_threshold), out)
        return out
