"""torchvision segmentation models (DeepLabV3, LRASPP, FCN): batched, float16 and
channels_last on CUDA, pinned non-blocking copies.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from livebg.frames.yuv import downscale
from livebg.segment.base import Prediction, Segmenter, class_indices, short_side_size

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class TorchSegmenter(Segmenter):
    """A torchvision segmentation model; batched, reduced precision and channels_last on request."""

    def __init__(self, model, *, name: str, categories: Sequence[str], classes: Sequence[str],
                 device: str = "cpu", precision: str = "float32", infer_size: int = 520,
                 batch_size: int = 1, channels_last: bool | None = None, source: str = ""):
        import torch

        self.name = name
        self.device = device
        self.precision = precision
        self.batch_size = batch_size
        self.infer_size = infer_size
        self.source = source
        self.indices = class_indices(categories, classes, name)
        self.classes = tuple(classes)
        self._dtype = getattr(torch, precision)
        self._channels_last = (device == "cuda") if channels_last is None else channels_last
        self._torch = torch
        memory_format = torch.channels_last if self._channels_last else torch.contiguous_format
        self.model = model.eval().to(device=device, dtype=self._dtype, memory_format=memory_format)
        shape = (1, 3, 1, 1)
        self._mean = torch.tensor(IMAGENET_MEAN, device=device).view(shape) * 255
        self._inv_std = 1 / (torch.tensor(IMAGENET_STD, device=device).view(shape) * 255)

    def describe(self) -> str:
        layout = ", channels_last" if self._channels_last else ""
        return (f"model {self.name} (torchvision, {self.source}) on {self.device}, {self.precision}{layout}, "
                f"inference {self.infer_size} px short side, batch {self.batch_size}, classes {','.join(self.classes)}")

    def prepare(self, frames: Sequence[np.ndarray]):
        """Resize on the CPU in uint8 and move to the device; 4x fewer bytes than float."""
        torch = self._torch
        h, w = short_side_size(frames[0].shape[0], frames[0].shape[1], self.infer_size)
        small = np.stack([downscale(f, (w, h)) for f in frames])
        batch = torch.from_numpy(small)
        if self.device == "cuda":
            batch = batch.pin_memory().to(self.device, non_blocking=True)
        return batch

    def predict(self, frames: Sequence[np.ndarray], *, cuts: Sequence[bool] | None = None) -> list[Prediction]:
        torch = self._torch
        if not frames:
            return []
        batch = self.prepare(frames)
        with torch.inference_mode():
            x = batch.permute(0, 3, 1, 2).float()
            x = ((x - self._mean) * self._inv_std).to(self._dtype)
            if self._channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            logits = self.model(x)["out"].float()  # softmax in float32 for every precision
            probs = logits.softmax(dim=1)[:, self.indices].sum(dim=1).clamp_(0, 1)
            probs = probs.cpu().numpy()
        return [Prediction(p) for p in probs]
