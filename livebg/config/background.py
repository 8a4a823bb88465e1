"""The --bg grammar: colours, keywords, blur strengths, and files and folders checked on disk.
Every front door (CLI, API, presets, the server's forms, the live chooser) parses --bg here."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from livebg.errors import BackgroundError
from livebg.frames.images import IMAGE_EXTENSIONS

COLORS = {"white": (255, 255, 255), "black": (0, 0, 0), "green": (0, 177, 64)}
KEYWORDS = ("white", "black", "green", "#RRGGBB", "#RGB", "blur", "blur:STRENGTH", "gray", "transparent", "none")
DEFAULT_BLUR = 25


def parse_hex_color(text: str) -> tuple[int, int, int] | None:
    """#RRGGBB, or the CSS shorthand #RGB (#fa0 = #ffaa00); None for anything else."""
    match = re.fullmatch(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})", text)
    if not match:
        return None
    value = match.group(1)
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def looks_like_a_path(text: str) -> bool:
    """A --bg value not found on disk: a path when it has a / or an extension, else a mistyped
    keyword (so the error lists the keywords instead of saying "file not found")."""
    return not text.startswith("#") and ("/" in text or "." in text)


# the --bg words open_background takes besides colours and blur:N
BG_WORDS = ("blur", "gray", "grey", "transparent", "none", "original")


def solid_color(spec: str) -> tuple[int, int, int] | None:
    """The RGB of a --bg colour (a name such as white, or #RRGGBB / #RGB); None otherwise."""
    return COLORS.get(spec.strip().lower()) or parse_hex_color(spec.strip())


def is_bg_keyword(spec: str) -> bool:
    """True for the --bg values that name no file: colours, blur[:N], gray, transparent, none."""
    key = spec.strip().lower()
    return key in BG_WORDS or key.startswith("blur:") or solid_color(spec) is not None


@dataclass(frozen=True)
class BackgroundSpec:
    """A --bg value, parsed: ``kind`` is color, blur, gray, transparent, original, image, video
    or folder (a folder of images: ``livebg cam`` steps through it)."""
    kind: str
    text: str
    color: tuple[int, int, int] | None = None
    blur: int = DEFAULT_BLUR
    path: Path | None = None


def parse_bg(spec: str) -> BackgroundSpec:
    """Parse and check a --bg value before any work: keywords and colours by their grammar,
    files and folders by what is on disk. Every front door (CLI, API, presets, the live
    chooser) goes through here."""
    text = spec.strip()
    key = text.lower()
    if not text:
        raise BackgroundError("empty --bg: give an image, a video or a keyword such as blur or white")
    color = solid_color(text)
    if color is not None:
        return BackgroundSpec("color", key if key in COLORS else text, color=color)
    if key == "blur":
        return BackgroundSpec("blur", key)
    if key.startswith("blur:"):
        try:
            strength = int(key.split(":", 1)[1])
        except ValueError:
            strength = -1
        if not 1 <= strength <= 200:
            raise BackgroundError(f"bad blur strength in {spec!r}: use blur:N with N from 1 to 200 (default {DEFAULT_BLUR})")
        return BackgroundSpec("blur", key, blur=strength)
    if key in ("gray", "grey"):
        return BackgroundSpec("gray", "gray")
    if key == "transparent":
        return BackgroundSpec("transparent", key)
    if key in ("none", "original"):
        return BackgroundSpec("original", "none")
    if key.startswith(("http://", "https://", "rtsp://")):
        raise BackgroundError(f"--bg {spec}: URLs are not supported; download the file and give its path")
    try:
        path = Path(text).expanduser()
    except RuntimeError:  # ~name of a user this machine has no home directory for
        raise BackgroundError(f"--bg {spec}: the path starts with ~name and there is no such user here: write the path out") from None
    if path.is_dir():
        return BackgroundSpec("folder", text, path=path)
    if not path.exists():
        if not looks_like_a_path(text):
            raise BackgroundError(f"unknown background {spec!r}: use an image or video path, or one of {', '.join(KEYWORDS)}")
        raise BackgroundError(f"background file not found: {spec} — check the path")
    kind = "image" if path.suffix.lower() in IMAGE_EXTENSIONS else "video"
    return BackgroundSpec(kind, text, path=path)
