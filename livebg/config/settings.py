"""Flat setting names (the CLI's flags and the Python API's keywords) and where each lives."""
from __future__ import annotations

from typing import Any

from livebg.config.stages import Config
from livebg.errors import ConfigError

# name -> (section, field)
SETTINGS = {
    "model": ("model", "name"), "weights": ("model", "weights"), "device": ("model", "device"),
    "precision": ("model", "precision"), "batch_size": ("model", "batch_size"),
    "infer_size": ("model", "infer_size"), "classes": ("model", "classes"), "threads": ("model", "threads"),
    "download": ("model", "download"), "crop_pass": ("model", "crop_pass"), "fast": ("model", "fast"),
    "full_pass_every": ("model", "full_pass_every"), "still_reuse": ("model", "still_reuse"),
    "smoothing": ("smoothing", "method"), "smoothing_strength": ("smoothing", "strength"),
    "look_ahead": ("smoothing", "look_ahead"),
    "refine": ("refine", "method"), "light_wrap": ("background", "light_wrap"),
    "harmonize": ("background", "harmonize"),
    "guide_size": ("refine", "guide_size"),
    "bg": ("background", "bg"), "bg_fit": ("background", "fit"),
    "crf": ("output", "crf"), "preset": ("output", "preset"), "audio": ("output", "audio"),
    "alpha_out": ("output", "alpha_out"), "fps": ("input", "fps"), "strict": ("input", "strict"),
}


def apply_settings(config: Config, **settings: Any) -> Config:
    """``config`` with flat settings (see SETTINGS) applied; None values are ignored."""
    by_section: dict[str, dict[str, Any]] = {}
    for name, value in settings.items():
        if name not in SETTINGS:
            raise ConfigError(f"unknown setting {name!r}: known settings are {', '.join(SETTINGS)}")
        section, key = SETTINGS[name]
        by_section.setdefault(section, {})[key] = value
    for section, values in by_section.items():
        config = config.override(section, **values)
    return config.validate()
