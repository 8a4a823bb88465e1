"""Image-sequence source: a directory of frames or a glob, played at a given frame rate."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Iterator, Sequence

from livebg.config import SEQUENCE_FPS
from livebg.errors import InputError
from livebg.frames.frame import Frame
from livebg.frames.images import read_image
from livebg.sources.base import FrameSource

NTSC_RATES = (Fraction(24000, 1001), Fraction(30000, 1001), Fraction(60000, 1001))


def exact_rate(fps: float) -> Fraction:
    """29.97 -> 30000/1001 and so on; other rates as given."""
    for rate in NTSC_RATES:
        if abs(float(rate) - fps) < 0.006:
            return rate
    return Fraction(fps).limit_denominator(1000)


class ImageSequenceSource(FrameSource):
    has_audio = False
    gives_yuv = False  # RGB frames (read_image)

    def __init__(self, files: Sequence[Path], *, fps: float = SEQUENCE_FPS, name: str = ""):
        self.files = list(files)
        self.name = name or str(self.files[0].parent)
        first = read_image(self.files[0], error=InputError)
        self.height, self.width = first.shape[:2]
        self.rate = self.base_rate = exact_rate(fps)
        self.time_base = 1 / self.rate
        self.frame_count = len(self.files)
        self.duration: Fraction | None = self.frame_count / self.rate

    def __iter__(self) -> Iterator[Frame]:
        for index, path in enumerate(self.files):
            image = read_image(path, error=InputError)
            if image.shape[:2] != (self.height, self.width):
                raise InputError(f"{path} is {image.shape[1]}x{image.shape[0]}, but the sequence is {self.width}x{self.height}: all frames must have one size")
            yield Frame(index, index, index * self.time_base, image)

    def close(self) -> None:
        pass
