"""TOML presets (``configs/``): one table per stage, loaded over the defaults; relative file
paths in a preset are taken from the preset's folder."""
from __future__ import annotations

import os
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

from livebg.config.background import is_bg_keyword, looks_like_a_path
from livebg.config.stages import Config
from livebg.errors import ConfigError, say

PRESET_DIR = Path(__file__).resolve().parents[2] / "configs"


def resolve_preset(name_or_path: str) -> Path:
    """A preset path, or the name of a file in configs/ (with or without .toml)."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    for candidate in (PRESET_DIR / name_or_path, PRESET_DIR / f"{name_or_path}.toml"):
        if candidate.is_file():
            return candidate
    known = sorted(p.stem for p in PRESET_DIR.glob("*.toml")) if PRESET_DIR.is_dir() else []
    hint = f" (presets: {', '.join(known)})" if known else ""
    raise ConfigError(f"config file not found: {name_or_path} — give a path to a TOML file{hint}")


def _beside(preset: Path, section: str, key: str, value: Any) -> Any:
    """A relative file path in a preset, made relative to the preset's folder rather than to
    wherever livebg runs, so a preset and the files it names can be moved together. Values that
    name no file (``bg = "blur"``, ``name = "selfie"``, a mistyped keyword) are left alone."""
    if not isinstance(value, str) or not value.strip():
        return value
    text = os.path.expanduser(value.strip())
    if os.path.isabs(text) or text.startswith("~"):  # ~name of an unknown user: reported when used
        return value
    beside = os.path.join(os.path.dirname(str(preset)), text)  # keeps a trailing "/" (a directory)
    if (section, key) == ("background", "bg"):
        # a bare word is a file only if it is there (a folder of backgrounds); otherwise it stays
        # as written, so a mistyped keyword gets "unknown background", not "file not found"
        is_path = not is_bg_keyword(text) and (looks_like_a_path(text) or os.path.exists(beside))
    elif (section, key) == ("model", "name"):
        is_path = text.lower().endswith(".onnx")
    else:
        # inputs only: an output (alpha_out) goes where livebg runs, as -o does
        is_path = (section, key) == ("model", "weights")
    return beside if is_path else value


# Settings that moved to the section where they act; presets that name the old place still load.
MOVED_KEYS = {("refine", "light_wrap"): "background", ("output", "fps"): "input"}


def load_config(path: str | Path | None = None) -> Config:
    """The defaults, overridden by the TOML file at ``path`` if given."""
    config = Config()
    if path is None:
        return config.validate()
    preset = resolve_preset(str(path))
    try:
        data = tomllib.loads(preset.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {preset} is not valid TOML: {exc}") from None
    sections = {f.name for f in fields(Config)}
    for (old_section, key), new_section in MOVED_KEYS.items():
        values = data.get(old_section)
        if isinstance(values, dict) and key in values:
            say(f"{preset.name}: [{old_section}] {key} is now [{new_section}] {key}; it still works, move it when you can")
            data.setdefault(new_section, {}).setdefault(key, values.pop(key))
    for section, values in data.items():
        if section not in sections or not isinstance(values, dict):
            raise ConfigError(f"unknown section [{section}] in {preset}: known sections are {', '.join(sorted(sections))}")
        values = {key: _beside(preset, section, key, value) for key, value in values.items()}
        try:
            config = config.override(section, **values)
        except ConfigError as exc:  # say which file holds the wrong setting
            raise ConfigError(f"{preset}: {exc}") from None
    try:
        return config.validate()
    except ConfigError as exc:
        raise ConfigError(f"{preset}: {exc}") from None
