"""The Segmenter base class every model back end implements, and helpers they share.
"""
from __future__ import annotations

import abc
from typing import Any, Sequence

import numpy as np

from livebg.errors import ModelError

# PASCAL VOC labels in training order; torchvision's DeepLabV3 weights use the same list.
VOC_CATEGORIES = (
    "__background__", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
    "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
    "sheep", "sofa", "train", "tvmonitor",
)


class Segmenter(abc.ABC):
    """A model that turns frames into person probability maps.

    A back end must set ``name`` and implement ``describe()`` and ``predict()``. Everything else
    has a default that suits a stateless model with no fast paths; override what applies:

    - ``reads_planes``: True when ``predict`` may be given ``frames.yuv.I420Image`` views of a
      YUV frame instead of RGB arrays (it only reads them through ``frames.yuv.downscale``);
    - ``input_size``: the model's fixed input (w, h), or None when it takes any size;
    - ``infer_size``: the short side the model infers at (what a map's resolution is);
    - ``stream()``: the predictor for consecutive frames of one video (a stateful one, such as
      the crop follower or a recurrent model, has its own ``reset()``); ``stream_note``: what
      it adds to the startup line;
    - ``last_foreground``: for a matting model that estimates the foreground's own colour
      (RVM's ``fgr``), that estimate for the last frame ``predict`` was given, RGB float32 in
      [0, 1] at the size the model saw it; None (the default) for models that give none. Read it
      on the thread that called ``predict``, right after the call;
    - ``reset()``: forget state between unrelated frames (scene cut, toggle, another photo);
    - ``close()``: release the session; safe to call twice.
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
    last_foreground: np.ndarray | None = None

    @abc.abstractmethod
    def describe(self) -> str:
        """One line: model, back end, device, precision, inference size."""

    @abc.abstractmethod
    def predict(self, frames: Sequence[Any]) -> list[np.ndarray]:
        """RGB uint8 HxWx3 frames (all the same size) -> float32 probability maps in [0, 1]."""

    @property
    def input_size(self) -> tuple[int, int] | None:
        """(w, h) of the model's fixed input; None when it takes frames of any size."""
        return None

    @property
    def stream_note(self) -> str:
        """What a video's startup line adds to ``describe()`` ("" for most models)."""
        return ""

    def stream(self) -> "Segmenter":
        """The predictor for consecutive frames of one stream; this one when it keeps no state."""
        return self

    def reset(self) -> None:
        """Forget what earlier frames left behind."""

    def close(self) -> None:
        """Release what the model holds."""

    def __enter__(self) -> "Segmenter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
