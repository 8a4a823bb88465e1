"""Settings for every stage, as frozen dataclasses, loaded from TOML presets and CLI flags.

A preset file (see ``configs/``) has one table per stage; CLI flags override it. Every value
is checked here, so a wrong setting fails with a message before any work starts.
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from livebg.errors import BackgroundError, ConfigError, say
from livebg.frames.images import IMAGE_EXTENSIONS
from livebg.media.probe import DEFAULT_FPS

PRESET_DIR = Path(__file__).resolve().parent.parent / "configs"
SEQUENCE_FPS = DEFAULT_FPS  # image sequences and photos when no fps is set

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "float32", "float16", "bfloat16")
BG_FITS = ("loop", "hold", "stretch")
REFINE_METHODS = ("bilinear", "guided")
SMOOTHING_METHODS = ("none", "ema", "adaptive")


# -- the --bg grammar ---------------------------------------------------------------------------
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


@dataclass(frozen=True)
class ModelConfig:
    name: str = "auto"  # "auto", a registered model name, or a path to an .onnx file
    weights: str = ""  # a checkpoint file for a torchvision model, instead of torchvision's cache
    device: str = "auto"
    precision: str = "auto"  # auto: float16 on CUDA, float32 on CPU
    batch_size: int = 0  # 0: 8 on CUDA, 1 on CPU
    infer_size: int = 0  # short side in pixels for torchvision models; 0: the model's default
    classes: tuple[str, ...] = ("person",)
    threads: int = 0  # ONNX Runtime intra-op threads; 0: one per core, less one for the pipeline
    download: bool = True  # let livebg download missing weights (torchvision's cache, RVM into livebg's)
    fast: bool = False  # with name auto: the bundled selfie model rather than RVM
    crop_pass: bool = True  # fixed-size (ONNX) models: run again on a crop around the person (one more model call a frame); rvm on video: the model on the box around the people only
    full_pass_every: int = 8  # crop pass on video: the whole-frame pass at least every N frames, following the person's box between
    still_reuse: int = 2  # rvm on video: up to N frames in a row reuse the last model call's alpha, carried along the optical flow, while the person's outline barely changes (0: the model on every frame)

    def validate(self) -> None:
        if self.device not in DEVICES:
            raise ConfigError(f"unknown device {self.device!r}: use one of {', '.join(DEVICES)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}: use one of {', '.join(PRECISIONS)}")
        if self.batch_size < 0 or self.batch_size > 256:
            raise ConfigError(f"batch size {self.batch_size} is out of range: use 1..256 (0 for automatic)")
        if self.infer_size != 0 and not 32 <= self.infer_size <= 4096:
            raise ConfigError(f"inference size {self.infer_size} is out of range: use 32..4096 pixels (0 for the model's default)")
        if not self.classes or any(not c.strip() for c in self.classes):
            raise ConfigError("class list is empty: give at least one class name, e.g. --classes person")
        if self.threads < 0:
            raise ConfigError(f"threads must be 0 (automatic) or more, not {self.threads}")
        if not 1 <= self.full_pass_every <= 1000:
            raise ConfigError(f"full_pass_every {self.full_pass_every} is out of range: use 1..1000 (1 runs the whole-frame pass on every frame)")
        if not 0 <= self.still_reuse <= 30:
            raise ConfigError(f"still_reuse {self.still_reuse} is out of range: use 0..30 (0 runs the model on every frame)")


@dataclass(frozen=True)
class SmoothingConfig:
    method: str = "adaptive"  # none, ema (fixed strength), adaptive (strong at rest, fast on motion)
    strength: float = 0.8  # weight of the previous matte at rest, 0 (off) .. 0.95
    motion_threshold: float = 0.5  # adaptive: probability change at which the past is dropped entirely
    cut_threshold: float = 0.08  # mean thumbnail difference (0..1) that counts as a scene cut; a fast pan is ~0.04
    look_ahead: bool = True  # file jobs: average each frame's map with those of the frames before and after it where the picture did not change, and smooth back from 2 frames ahead (3 frames of delay; never live)

    def validate(self) -> None:
        if self.method not in SMOOTHING_METHODS:
            raise ConfigError(f"unknown smoothing {self.method!r}: use one of {', '.join(SMOOTHING_METHODS)}")
        if not 0.0 <= self.strength <= 0.95:
            raise ConfigError(f"smoothing strength {self.strength} is out of range: use 0..0.95")
        if not 0.0 < self.motion_threshold <= 1.0:
            raise ConfigError(f"motion threshold {self.motion_threshold} is out of range: use (0, 1]")
        if not 0.0 < self.cut_threshold <= 1.0:
            raise ConfigError(f"cut threshold {self.cut_threshold} is out of range: use (0, 1]")


@dataclass(frozen=True)
class RefineConfig:
    method: str = "guided"  # bilinear (plain upsampling) or guided (edge-aware, guided by the frame)
    radius: int = 2  # guided filter radius in full-resolution pixels (scaled with the frame)
    eps: float = 1e-3  # guided filter regularisation: smaller follows image edges more closely
    sharpness: float = 8.0  # guided: steepness of the edge ramp; 1 keeps the filter's soft edge
    threshold: float = 0.0  # guided: the filtered probability the edge is placed at (alpha 0.5 there); 0: the model's own (0.6, RVM 0.5)
    guide_size: int = 270  # guided: short side in px of the grey image the edges are fitted on; larger is steadier, slower

    def validate(self) -> None:
        if self.method not in REFINE_METHODS:
            raise ConfigError(f"unknown refinement {self.method!r}: use one of {', '.join(REFINE_METHODS)}")
        if not 1 <= self.radius <= 64:
            raise ConfigError(f"refine radius {self.radius} is out of range: use 1..64")
        if not 0 < self.eps < 1:
            raise ConfigError(f"refine eps {self.eps} is out of range: use (0, 1)")
        if not 1.0 <= self.sharpness <= 20.0:
            raise ConfigError(f"refine sharpness {self.sharpness} is out of range: use 1..20 (1 keeps the soft edge)")
        if not 0.0 <= self.threshold < 1.0:
            raise ConfigError(f"refine threshold {self.threshold} is out of range: use (0, 1), e.g. 0.5, or 0 for the model's own")
        if not 32 <= self.guide_size <= 4320:
            raise ConfigError(f"guide size {self.guide_size} is out of range: use 32..4320 pixels (default 270)")


@dataclass(frozen=True)
class InputConfig:
    fps: float = 0.0  # frame rate of image sequences and photos; 0: not set (30)
    strict: bool = False  # a damaged input video fails the job instead of keeping the frames it gives

    def validate(self) -> None:
        if not 0 <= self.fps <= 1000:
            raise ConfigError(f"fps {self.fps} is out of range: use a positive frame rate (0: the default, 30)")


@dataclass(frozen=True)
class BackgroundConfig:
    bg: str = "blur"  # image path, video path, directory of images, or a keyword (see README)
    fit: str = "loop"  # video backgrounds: loop, hold or stretch
    light_wrap: float = 0.0  # 0..1: background light spilling onto the subject's edge
    harmonize: float = 0.0  # 0 (off) .. 1: the person's colours moved by the change of light from their room to an image or video background

    def validate(self) -> None:
        if self.fit not in BG_FITS:
            raise ConfigError(f"unknown --bg-fit {self.fit!r}: use one of {', '.join(BG_FITS)}")
        if not 0.0 <= self.light_wrap <= 1.0:
            raise ConfigError(f"light wrap {self.light_wrap} is out of range: use 0..1")
        if not 0.0 <= self.harmonize <= 1.0:
            raise ConfigError(f"harmonize {self.harmonize} is out of range: use 0 (off) .. 1 (full)")
        self.spec  # noqa: B018 - parsed (and checked) here, kept for the job

    @cached_property
    def spec(self) -> BackgroundSpec:
        """``bg`` parsed, once for this config: validating it and opening the background share it."""
        return parse_bg(self.bg)


@dataclass(frozen=True)
class OutputConfig:
    crf: int = 20  # quality 0..51 (x264's scale; VP9 for .webm gets crf + 10): lower is better and bigger
    preset: str = "veryfast"  # x264 speed preset
    audio: bool = True  # carry the input's audio over
    alpha_out: str = ""  # also write the alpha matte: a directory of PNGs or a video path

    def validate(self) -> None:
        if not 0 <= self.crf <= 51:  # x264's scale; .webm maps it onto VP9's 0..63 (crf + 10)
            raise ConfigError(f"crf {self.crf} is out of range: use 0 (best; lossless for H.264) .. 51 (smallest); default 20")
        presets = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")
        if self.preset not in presets:
            raise ConfigError(f"unknown preset {self.preset!r}: use one of {', '.join(presets)}")


@dataclass(frozen=True)
class Config:
    input: InputConfig = field(default_factory=InputConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    refine: RefineConfig = field(default_factory=RefineConfig)
    background: BackgroundConfig = field(default_factory=BackgroundConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    def validate(self) -> "Config":
        for f in fields(self):
            getattr(self, f.name).validate()
        return self

    def override(self, section: str, **values: Any) -> "Config":
        """A copy with the given settings of one section changed; None values are ignored."""
        values = {k: v for k, v in values.items() if v is not None}
        if not values:
            return self
        return replace(self, **{section: _coerce_section(section, getattr(self, section), values)})


# Flat setting names (the CLI's flags and the Python API's keywords) -> (section, field).
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


def _coerce_section(section: str, current: Any, values: dict[str, Any]) -> Any:
    known = {f.name: f for f in fields(current)}
    coerced = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown setting [{section}] {key}: known settings are {', '.join(known)}")
        default = getattr(type(current)(), key)
        coerced[key] = _coerce_value(f"[{section}] {key}", value, default)
    return replace(current, **coerced)


def _coerce_value(name: str, value: Any, default: Any) -> Any:
    # Types come from the defaults; a wrong type is an error, never silently replaced.
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

