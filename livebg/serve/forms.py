"""A request's form fields as a livebg Config: the server's base settings with the fields the
request gives, each checked first against what a client may ask for (a model by name, never a
path; a --bg keyword or colour, a file only as an upload)."""
from __future__ import annotations

from typing import Any

from livebg.config import X264_PRESETS, Config, apply_settings, parse_bg
from livebg.serve.errors import ApiError
from livebg.serve.models import REQUEST_MODELS


def request_config(base: Config, fields: dict[str, Any]) -> Config:
    """``base`` with the request's fields applied (None: not given); refused with an ApiError."""
    values = {k: v for k, v in fields.items() if v is not None}
    model = values.get("model")
    if model is not None and model not in REQUEST_MODELS:
        raise ApiError(400, f"unknown model {model!r}: choose one of {', '.join(REQUEST_MODELS)}", "bad_setting")
    bg = values.get("bg")
    if bg is not None:
        spec = parse_bg(bg) if not _looks_like_path(bg) else None
        if spec is None or spec.path is not None:
            raise ApiError(400, "bg must be a keyword (white, black, green, gray, blur, blur:N, transparent, none) "
                                "or a #RRGGBB colour; upload a picture or video as bg_file", "bad_setting")
    if values.get("preset") is not None and values["preset"] not in X264_PRESETS:
        raise ApiError(400, f"unknown preset {values['preset']!r}: choose one of {', '.join(X264_PRESETS)}",
                       "bad_setting")
    return apply_settings(base, **values)


def _looks_like_path(bg: str) -> bool:
    text = bg.strip()
    return "/" in text or "\\" in text or text.startswith(("~", ".")) or (len(text) > 2 and text[1] == ":")
