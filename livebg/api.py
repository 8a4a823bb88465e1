"""The Python API: the CLI's jobs as functions, and frames in / frames out for your own loop.

    from livebg import BackgroundReplacer
    replacer = BackgroundReplacer(bg="beach.jpg")     # same settings as the CLI's flags
    for rgb in frames:                                 # RGB uint8 HxWx3, in order
        out = replacer(rgb)                            # RGB (RGBA with bg="transparent")
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from livebg.composite.base import Background
from livebg.composite.blend import Compositor
from livebg.composite.factory import open_background
from livebg.config import Config, apply_settings, load_config
from livebg.frames.cuts import CutDetector
from livebg.jobs import VideoResult, run_images, run_video
from livebg.matte.matter import Matter
from livebg.segment.base import Segmenter
from livebg.segment.factory import load_segmenter


def _config(config: Config | str | Path | None, settings: dict[str, Any]) -> Config:
    base = config if isinstance(config, Config) else load_config(config)
    return apply_settings(base, **settings)


def replace_video(input: str | Path, output: str | Path | None = None, *, config: Config | str | Path | None = None,
                  progress: bool = False, **settings: Any) -> VideoResult:
    """`livebg video` as a function; keywords are the CLI's flags (bg=, model=, bg_fit=, …)."""
    return run_video(str(input), output, _config(config, settings), progress=progress)


def replace_images(inputs: Sequence[str | Path], output: str | Path | None = None, *,
                   config: Config | str | Path | None = None, matting: bool = False, **settings: Any) -> list[Path]:
    """`livebg image` as a function."""
    return run_images([str(i) for i in inputs], None if output is None else str(output), _config(config, settings),
                      progress=False, matting=matting)


class BackgroundReplacer:
    """Frames in, frames out, with the same model, smoothing, refinement and backgrounds as the CLI.

    Call it on consecutive frames of one stream (temporal smoothing carries over); call
    ``reset()`` between unrelated streams or after a cut you know of. Each frame comes back
    at once, so the look-ahead of file jobs (``[smoothing] look_ahead``) does not apply here.
    """

    def __init__(self, *, config: Config | str | Path | None = None, segmenter: Segmenter | None = None,
                 fps: float = 30.0, **settings: Any):
        self.config = _config(config, settings)
        self.segmenter = segmenter or load_segmenter(self.config.model)[0]
        self._predictor = self.segmenter.stream()
        # scene cuts, found once a frame and given to the model and the matte alike
        self._cuts = CutDetector(self.config.smoothing.cut_threshold)
        self.matter = Matter(self.config, edge_threshold=self.segmenter.edge_threshold)
        self.fps = Fraction(fps).limit_denominator(1001)
        self._background: Background | None = None
        self._size: tuple[int, int] | None = None
        self._count = 0
        self._compositor: Compositor | None = None  # holds the harmonisation's state over the stream

    def describe(self) -> str:
        return self.segmenter.describe()

    def _check(self, frame: np.ndarray) -> None:
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            got = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
            raise TypeError(f"frame must be an RGB uint8 array of shape (H, W, 3), got {got}")

    def matte(self, frame: np.ndarray) -> np.ndarray:
        """The float32 alpha (H, W) in [0, 1] for the next frame of the stream."""
        self._check(frame)
        cut = self._cuts(frame)
        prob = self._predictor.predict([frame], cuts=[cut])[0].alpha
        return self.matter(prob, frame, cut=cut)

    def __call__(self, frame: np.ndarray, t: float | None = None) -> np.ndarray:
        """The next output frame; ``t`` (seconds) pairs it with a video background (default: frame count / fps)."""
        alpha = self.matte(frame)
        size = (frame.shape[1], frame.shape[0])
        if self._background is None or size != self._size:
            self.close()
            self._background = open_background(self.config.background.spec, size, fit=self.config.background.fit)
            self._size = size
        time = Fraction(t).limit_denominator(1_000_000) if t is not None else self._count / self.fps
        self._count += 1
        if self._compositor is None or self._compositor.background is not self._background:
            self._compositor = Compositor(self._background, self.config.background.light_wrap,
                                          harmonize=self.config.background.harmonize)
        return self._compositor(frame, alpha, time)

    def reset(self) -> None:
        self.matter.reset()
        self._predictor.reset()
        self._cuts.reset()
        if self._compositor is not None:
            self._compositor.reset()

    def close(self) -> None:
        if self._background is not None:
            self._background.close()
            self._background = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
