"""The settings of every stage, as frozen dataclasses, each checking its own values, and
``Config``, one of each. A wrong setting fails with a message before any work starts."""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from typing import Any

from livebg.config.background import BackgroundSpec, parse_bg
from livebg.config.coerce import coerce_section
from livebg.errors import ConfigError
from livebg.media.probe import DEFAULT_FPS

SEQUENCE_FPS = DEFAULT_FPS  # image sequences and photos when no fps is set

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "float32", "float16", "bfloat16")
BG_FITS = ("loop", "hold", "stretch")
REFINE_METHODS = ("bilinear", "guided")
SMOOTHING_METHODS = ("none", "ema", "adaptive")
# x264's speed presets, fastest first (the CLI, presets, the API and the server take these)
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")


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
        if self.preset not in X264_PRESETS:
            raise ConfigError(f"unknown preset {self.preset!r}: use one of {', '.join(X264_PRESETS)}")


@dataclass(frozen=True)
class Config:
    input: InputConfig = field(default_factory=InputConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    refine: RefineConfig = field(default_factory=RefineConfig)
    background: BackgroundConfig = field(default_factory=BackgroundConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    def validate(self) -> Config:
        for f in fields(self):
            getattr(self, f.name).validate()
        return self

    def override(self, section: str, **values: Any) -> Config:
        """A copy with the given settings of one section changed; None values are ignored."""
        values = {k: v for k, v in values.items() if v is not None}
        if not values:
            return self
        return replace(self, **{section: coerce_section(section, getattr(self, section), values)})
