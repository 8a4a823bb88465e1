"""Settings for every stage, loaded from TOML presets and CLI flags, all checked before any work.

A preset file (see ``configs/``) has one table per stage; CLI flags override it. The package:
``background`` (the --bg grammar), ``stages`` (one frozen dataclass per stage, and Config),
``coerce`` (values brought to a setting's type), ``settings`` (flat names: the CLI's flags and
the API's keywords), ``presets`` (TOML files). Every name is importable from ``livebg.config``.
"""
from livebg.config.background import (
    BG_WORDS,
    COLORS,
    DEFAULT_BLUR,
    KEYWORDS,
    BackgroundSpec,
    is_bg_keyword,
    looks_like_a_path,
    parse_bg,
    parse_hex_color,
    solid_color,
)
from livebg.config.presets import MOVED_KEYS, PRESET_DIR, load_config, resolve_preset
from livebg.config.settings import SETTINGS, apply_settings
from livebg.config.stages import (
    BG_FITS,
    DEVICES,
    PRECISIONS,
    REFINE_METHODS,
    SEQUENCE_FPS,
    SMOOTHING_METHODS,
    X264_PRESETS,
    BackgroundConfig,
    Config,
    InputConfig,
    ModelConfig,
    OutputConfig,
    RefineConfig,
    SmoothingConfig,
)
from livebg.errors import ConfigError

__all__ = [
    "BG_FITS", "BG_WORDS", "COLORS", "DEFAULT_BLUR", "DEVICES", "KEYWORDS", "MOVED_KEYS", "PRECISIONS",
    "PRESET_DIR", "REFINE_METHODS", "SEQUENCE_FPS", "SETTINGS", "SMOOTHING_METHODS", "X264_PRESETS",
    "BackgroundConfig", "BackgroundSpec", "Config", "ConfigError", "InputConfig", "ModelConfig", "OutputConfig",
    "RefineConfig", "SmoothingConfig", "apply_settings", "is_bg_keyword", "load_config", "looks_like_a_path",
    "parse_bg", "parse_hex_color", "resolve_preset", "solid_color",
]
