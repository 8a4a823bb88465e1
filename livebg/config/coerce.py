"""Values from TOML and from the command line brought to a setting's type: the type comes from
the setting's default, and a wrong type is an error, never silently replaced."""
from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from livebg.errors import ConfigError


def coerce_section(section: str, current: Any, values: dict[str, Any]) -> Any:
    """``current`` (a stage's settings) with ``values`` set, each coerced to its field's type."""
    known = {f.name: f for f in fields(current)}
    coerced = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown setting [{section}] {key}: known settings are {', '.join(known)}")
        default = getattr(type(current)(), key)
        coerced[key] = coerce_value(f"[{section}] {key}", value, default)
    return replace(current, **coerced)


def coerce_value(name: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(default, tuple):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",")]
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(value)
    raise ConfigError(f"setting {name} = {value!r} has the wrong type: expected {type(default).__name__}")
