"""The live background chooser: --bg, a folder of images (n/p) and the effects `b` cycles.
"""
from __future__ import annotations

from pathlib import Path

from livebg.composite.base import Background
from livebg.composite.factory import open_background
from livebg.config import parse_bg
from livebg.errors import BackgroundError
from livebg.frames.images import IMAGE_EXTENSIONS
from livebg.live.options import EFFECTS


# -- backgrounds and effects -------------------------------------------------------------------
def list_background_images(folder: Path) -> list[Path]:
    """The images in a --bg folder, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


class BackgroundChooser:
    """The --bg (an image, a video, a colour, a folder of images) and the effects `b` cycles through.

    Backgrounds are opened on first use and kept, so switching back and forth costs nothing.
    """

    def __init__(self, spec: str, size: tuple[int, int], *, fit: str = "loop"):
        self.size = size
        self.fit = fit
        text = spec.strip()
        parsed = parse_bg(text)
        if parsed.kind == "transparent":
            raise BackgroundError("--bg transparent cannot be shown by a camera: choose an image, a folder, a colour, blur or gray")
        self.images = list_background_images(parsed.path) if parsed.kind == "folder" and parsed.path else []
        if parsed.kind == "folder" and not self.images:
            raise BackgroundError(f"--bg {spec} is a folder without images: add JPEG or PNG files, or give one image")
        # a keyword the `b` key cycles through starts there (parse_bg names none "none", grey "gray")
        key = "original" if parsed.kind == "original" else parsed.text if parsed.path is None else ""
        if key in EFFECTS:
            self.effects = list(EFFECTS)
            self.effect_index = EFFECTS.index(key)
        else:
            self.effects = ["image", *EFFECTS]
            self.effect_index = 0
        self.spec = text
        self.image_index = 0
        self._open: dict[str, Background] = {}
        self.current_background()  # fail now, not on the first frame, if --bg cannot be used

    @property
    def effect(self) -> str:
        return self.effects[self.effect_index]

    def label(self) -> str:
        if self.effect != "image":
            return self.effect
        if self.images:
            return f"{self.images[self.image_index].name} ({self.image_index + 1}/{len(self.images)})"
        return Path(self.spec).name or self.spec

    def current_background(self) -> Background:
        if self.effect == "image":
            spec = str(self.images[self.image_index]) if self.images else self.spec
        else:
            spec = {"original": "none"}.get(self.effect, self.effect)
        background = self._open.get(spec)
        if background is None:
            background = open_background(spec, self.size, fit=self.fit)
            self._open[spec] = background
        return background

    def next_effect(self) -> None:
        self.effect_index = (self.effect_index + 1) % len(self.effects)

    def step_image(self, step: int) -> bool:
        """Next (+1) or previous (-1) image of the --bg folder; False when there is no folder."""
        if not self.images:
            return False
        self.image_index = (self.image_index + step) % len(self.images)
        if "image" in self.effects:
            self.effect_index = self.effects.index("image")
        return True

    def close(self) -> None:
        for background in self._open.values():
            background.close()
        self._open.clear()
