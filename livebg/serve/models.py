"""Models of a server: each loaded once per process, on first use, and shared by every request
and job. What is per request (RVM's recurrent state, smoothing) lives in each job's own stream
(``Segmenter.stream()``) and matter, never here."""
from __future__ import annotations

import threading

from livebg.config import ModelConfig
from livebg.segment.base import Segmenter
from livebg.segment.factory import load_segmenter
from livebg.segment.weights import BUNDLED_MODELS, TORCHVISION_MODELS

# what a request may name as its model (never a path: a client must not choose server files)
REQUEST_MODELS = ("auto", "rvm", *BUNDLED_MODELS, *TORCHVISION_MODELS)


class ModelCache:
    def __init__(self) -> None:
        self._models: dict[ModelConfig, tuple[Segmenter, str]] = {}
        self._lock = threading.Lock()

    def get(self, config: ModelConfig) -> Segmenter:
        return self.load(config)[0]

    def load(self, config: ModelConfig) -> tuple[Segmenter, str]:
        """The model for ``config`` and why it was chosen, loading it the first time."""
        with self._lock:  # one load at a time: two requests for a new model load it once
            if config not in self._models:
                self._models[config] = load_segmenter(config)
            return self._models[config]

    def loaded(self) -> list[str]:
        with self._lock:
            return [segmenter.describe() for segmenter, _ in self._models.values()]

    def close(self) -> None:
        with self._lock:
            for segmenter, _ in self._models.values():
                segmenter.close()
            self._models.clear()
