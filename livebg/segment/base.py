"""The base classes every model back end implements: ``Segmenter`` (a loaded model) and
``Predictor`` (what ``predict`` runs on: a model, or the per-stream state ``stream()`` gives), the
``Prediction`` they return, and helpers they share.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from livebg.errors import ModelError

# PASCAL VOC labels in training order; torchvision's DeepLabV3 weights use the same list.
VOC_CATEGORIES = (
    "__background__", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
    "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
    "sheep", "sofa", "train", "tvmonitor",
)


@dataclass(frozen=True)
class Prediction:
    """What a model gives for one frame, at the size the model saw it: ``alpha``, float32 HxW in
    [0, 1] (a person probability for a segmentation model, an alpha for a matting one), and
    ``foreground``, a matting model's estimate of the foreground's own colour (RVM's ``fgr``),
    RGB float32 HxWx3 in [0, 1], or None for models that give none."""
    alpha: np.ndarray
    foreground: np.ndarray | None = None


class Predictor(abc.ABC):
    """Frames in, one ``Prediction`` each out: a loaded model on unrelated frames, or the
    predictor of one stream (``Segmenter.stream()``), which may carry state from frame to frame.

    What the pipeline reads: ``name``, ``device``, ``precision``, ``batch_size`` (frames per
    ``predict`` call), ``reads_planes`` (True when ``predict`` may be given
    ``frames.yuv.I420Image`` views of a YUV frame instead of RGB arrays: it only reads them
    through ``frames.yuv.downscale``), ``infer_size`` (the short side the model infers at: what
    a map's resolution is) and ``edge_threshold`` (where the refined edge goes in its output).
    ``reset()`` forgets state between unrelated frames (a toggle, another photo); it does
    nothing for a stateless predictor.
    """

    name: str = ""
    device: str = "cpu"
    precision: str = "float32"
    batch_size: int = 1
    reads_planes: bool = False
    infer_size: int = 0
    # where the refined edge goes in this model's output ([refine] threshold 0): segmentation
    # models spill a little onto the backdrop (0.6); a matting model's alpha is calibrated (0.5)
    edge_threshold: float = 0.6

    @abc.abstractmethod
    def predict(self, frames: Sequence[Any], *, cuts: Sequence[bool] | None = None) -> list[Prediction]:
        """RGB uint8 HxWx3 frames (all the same size) -> one Prediction each. ``cuts``: for each
        frame, whether a new shot starts there (detected once, upstream, by
        ``frames.cuts.CutDetector``; None: no cut); a predictor that carries state drops it there."""

    def reset(self) -> None:
        """Forget what earlier frames left behind."""


class Segmenter(Predictor):
    """A loaded model that turns frames into person probability maps (or alphas).

    A back end must set ``name`` and implement ``describe()`` and ``predict()`` (on unrelated
    frames: photos). Everything else has a default that suits a stateless model with no fast
    paths; override what applies:

    - ``input_size``: the model's fixed input (w, h), or None when it takes any size;
    - ``stream()``: the predictor for consecutive frames of one video (a stateful one, such as
      the crop follower or a recurrent model, is its own type with its own ``reset()``);
      ``stream_note``: what it adds to the startup line;
    - ``close()``: release the session; safe to call twice.
    """

    @abc.abstractmethod
    def describe(self) -> str:
        """One line: model, back end, device, precision, inference size."""

    @property
    def input_size(self) -> tuple[int, int] | None:
        """(w, h) of the model's fixed input; None when it takes frames of any size."""
        return None

    @property
    def stream_note(self) -> str:
        """What a video's startup line adds to ``describe()`` ("" for most models)."""
        return ""

    def stream(self) -> Predictor:
        """The predictor for consecutive frames of one stream; this one when it keeps no state."""
        return self

    def close(self) -> None:
        """Release what the model holds."""

    def __enter__(self) -> "Segmenter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def alphas(predictions: Sequence[Prediction]) -> list[np.ndarray]:
    """The alphas of predictions, in order."""
    return [p.alpha for p in predictions]


def class_indices(categories: Sequence[str], classes: Sequence[str], model: str) -> list[int]:
    """Indices of the chosen class names in the model's category list; unknown names fail."""
    lowered = [c.lower() for c in categories]
    indices = []
    for name in classes:
        key = name.strip().lower()
        if key not in lowered:
            shown = ", ".join(c for c in categories if not c.startswith("__"))
            raise ModelError(f"unknown class {name!r} for model {model}: choose from {shown}")
        indices.append(lowered.index(key))
    return indices


def short_side_size(height: int, width: int, short: int) -> tuple[int, int]:
    """(h, w) with the short side scaled to ``short`` and the aspect ratio kept."""
    scale = short / min(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))
