"""Backgrounds and the blend: frame + alpha + background -> output frame.

Backgrounds: a colour, an image (fitted by cover), a video (paired with the input by
presentation time, decoded in its own thread), the frame blurred or desaturated, the frame
itself (``none``), or nothing (``transparent``: RGBA out). Pixels stay uint8 and weights
float32; there is no float64 whole-frame arithmetic. ``blend_torch`` is the same blend for
tensors on the GPU in half precision.
"""
from __future__ import annotations

import math
import queue
import re
import threading
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from .errors import BackgroundError
from .i420 import crop_planes, frame_size, from_frame as i420_from_frame, i420_planes
from .resize import shrink

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
COLORS = {"white": (255, 255, 255), "black": (0, 0, 0), "green": (0, 177, 64)}
KEYWORDS = ("white", "black", "green", "#RRGGBB", "#RGB", "blur", "blur:STRENGTH", "gray", "transparent", "none")
DEFAULT_BLUR = 25


class Background(Protocol):
    """What the compositors ask of a background. Besides these, a background may have
    ``uses_frame`` (False: ``frame_at`` only looks at the frame's shape) and
    ``i420_at(t, yuv)``: the background as yuv420p planes at the size of the frame's planes
    ``yuv``, or None when it cannot make them (``I420Compositor`` then takes ``frame_at``)."""

    kind: str
    transparent: bool

    def frame_at(self, t: Fraction, frame: np.ndarray) -> np.ndarray | None:
        """The RGB background behind ``frame`` (shown at time ``t``), or None for transparent."""

    def close(self) -> None: ...


class ColorBackground:
    uses_frame = False  # only the frame's shape
    transparent = False

    def __init__(self, rgb: tuple[int, int, int], kind: str):
        self.rgb = rgb
        self.kind = kind
        self._canvas: np.ndarray | None = None

    def frame_at(self, t, frame):
        if self._canvas is None or self._canvas.shape != frame.shape:
            self._canvas = np.empty_like(frame)
            self._canvas[:] = self.rgb
        return self._canvas

    def close(self) -> None:
        pass


class ImageBackground:
    uses_frame = False  # only the frame's shape
    transparent = False
    kind = "image"

    def __init__(self, path: Path):
        self.path = path
        try:
            self.image = read_image(path, error=BackgroundError)
        except BackgroundError as exc:  # say that it is the --bg file, not the input, that is wrong
            raise BackgroundError(f"--bg {exc}") from None
        self._fitted: np.ndarray | None = None

    def frame_at(self, t, frame):
        h, w = frame.shape[:2]
        if self._fitted is None or self._fitted.shape[:2] != (h, w):
            self._fitted = fit_cover(self.image, w, h)
        return self._fitted

    def close(self) -> None:
        pass


class BlurBackground:
    """The frame itself, blurred: at an eighth of its size for the default strength (the result
    is smooth anyway; see ``blur_factor``). File jobs whose frames stay YUV blur the planes
    themselves (``i420_at``): the same picture, without converting the frame to RGB and back."""

    uses_frame = True  # made from the frame's pixels
    transparent = False
    kind = "blur"

    def __init__(self, strength: int = DEFAULT_BLUR):
        self.strength = strength

    def frame_at(self, t, frame):
        factor = blur_factor(self.strength, frame.shape[:2])
        return np.ascontiguousarray(blur_at(frame, factor, self.strength / factor))

    def i420_at(self, t, yuv):
        """The blurred frame as yuv420p planes, made from the frame's planes: chroma, at half
        size already, is shrunk half as much, onto the same grid as luma, and blurred alike."""
        h, w = frame_size(yuv)
        factor = blur_factor(self.strength, (h, w))
        sigma = self.strength / factor
        out = np.empty_like(yuv)
        y, u, v = i420_planes(out)
        src_y, src_u, src_v = i420_planes(yuv)
        y[:] = blur_at(src_y, factor, sigma)
        if factor == 1:  # chroma at its own size, sigma in its (twice as large) pixels
            sigma /= 2
        else:
            factor //= 2
        u[:] = blur_at(src_u, factor, sigma)
        v[:] = blur_at(src_v, factor, sigma)
        return out

    def close(self) -> None:
        pass


def blur_factor(strength: float, shape: tuple[int, int]) -> int:
    """How much smaller than the frame a blur of ``strength`` pixels is done: the largest of 8, 4,
    2 that leaves a sigma of 2 pixels or more and 16 pixels or more on the short side (1: none).
    Blurring an eighth-size copy costs a twentieth of the full-size blur."""
    for factor in (8, 4, 2):
        if strength / factor >= 2 and min(shape) / factor >= 16:
            return factor
    return 1


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """``cv2.GaussianBlur`` of a uint8 image (borders reflected), computed in float32 and
    rounded back. For uint8 OpenCV takes a bit-exact fixed-point path that took 0.12 ms on the
    120x76 copy the default blur works on; this takes 0.04 ms (for small images only: at full
    size the conversions cost more than they save). The kernel is the one OpenCV sizes for
    uint8 (3 sigma each side; float32 would get 4)."""
    size = round(sigma * 6 + 1) | 1
    blurred = cv2.GaussianBlur(image.astype(np.float32), (size, size), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)
    return cv2.convertScaleAbs(blurred)


def blur_at(image: np.ndarray, factor: int, sigma: float) -> np.ndarray:
    """``image`` Gaussian-blurred by ``sigma`` pixels of a copy ``factor`` times smaller: shrunk by
    averaging ``factor`` x ``factor`` blocks (``resize.shrink``, OpenCV's fast 2x steps), blurred,
    scaled back and cut to size. Each small pixel is centred on its block, where the bilinear
    scaling back puts it: nothing shifts. May return a view (not contiguous) of a larger array.

    A side that ends inside a block is first mirrored out beyond the blur's reach (3 sigma, in
    whole blocks): mirroring the small copy at its own edge would mirror about the block's edge,
    past the frame's, and weigh the last rows several times over."""
    sigma = max(0.5, sigma)
    if factor == 1:  # full size: here OpenCV's own uint8 path is the faster (1.4 ms against 4.4 at 960x540)
        return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)
    h, w = image.shape[:2]
    reach = factor * math.ceil(3 * sigma)
    pad_h = -h % factor + reach if h % factor else 0
    pad_w = -w % factor + reach if w % factor else 0
    if pad_h or pad_w:
        image = cv2.copyMakeBorder(image, 0, pad_h, 0, pad_w, cv2.BORDER_REFLECT)
    small = gaussian_blur(shrink(image, factor), sigma)
    # scale back only the small pixels the frame's own pixels interpolate between
    small = small[:-(-h // factor) + 1, :-(-w // factor) + 1]
    return cv2.resize(small, (small.shape[1] * factor, small.shape[0] * factor),
                      interpolation=cv2.INTER_LINEAR)[:h, :w]


class GrayBackground:
    uses_frame = True  # made from the frame's pixels
    transparent = False
    kind = "gray"

    def frame_at(self, t, frame):
        return cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)

    def i420_at(self, t, yuv):
        """The grey frame as yuv420p planes: the frame's own luma, neutral chroma."""
        h, _ = frame_size(yuv)
        out = np.empty_like(yuv)
        out[:h] = yuv[:h]
        out[h:] = 128
        return out

    def close(self) -> None:
        pass


class OriginalBackground:
    """``none``: keep the frame as it is (useful with --alpha-out)."""

    uses_frame = False  # the frame itself: the YUV blend takes the planes as they are
    transparent = False
    kind = "none"

    def frame_at(self, t, frame):
        return frame

    def close(self) -> None:
        pass


class TransparentBackground:
    uses_frame = False  # only the frame's shape
    transparent = True
    kind = "transparent"

    def frame_at(self, t, frame):
        return None

    def close(self) -> None:
        pass


_END = object()


class VideoBackground:
    """A background video, paired with the input by presentation time.

    The output frame at input time t shows the background frame on screen at background time
    b(t): ``loop`` b = t modulo the background's duration, ``hold`` b = t (the last frame
    stays), ``stretch`` b = t * background duration / input duration. A thread decodes and
    fits frames ahead into a small queue; times are exact fractions, relative to each
    stream's first frame.
    """

    uses_frame = False  # only the frame's shape
    transparent = False
    kind = "video"

    def __init__(self, path: Path, size: tuple[int, int], *, fit: str = "loop",
                 input_duration: Fraction | None = None, queue_size: int = 4):
        import av

        self.path = path
        self.width, self.height = size
        self.fit = fit
        try:
            with av.open(str(path)) as container:
                if not container.streams.video:
                    raise BackgroundError(f"background {path} has no video stream: give an image or a video")
                stream = container.streams.video[0]
                self.rate = stream.average_rate or stream.guessed_rate or Fraction(25)
                self.duration = _stream_duration(container, stream)
        except av.FFmpegError as exc:
            raise BackgroundError(f"background {path} cannot be read as a video or image ({exc.strerror or exc}): check the file") from None
        if fit == "stretch":
            if not input_duration or not self.duration:
                raise BackgroundError("--bg-fit stretch needs the durations of both videos, and one is unknown: use loop or hold")
            self._scale = self.duration / input_duration
        else:
            self._scale = Fraction(1)
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._current: tuple[Fraction, np.ndarray] | None = None
        self._next: tuple[Fraction, np.ndarray] | None | object = None
        self._thread = threading.Thread(target=self._decode, name="livebg-bg-decode", daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _decode(self) -> None:
        import av

        offset = Fraction(0)
        try:
            while not self._stop.is_set():
                produced = 0
                last_time = Fraction(0)
                with av.open(str(self.path)) as container:
                    stream = container.streams.video[0]
                    stream.thread_type = "AUTO"
                    start = None
                    for frame in container.decode(stream):
                        if frame.pts is None:
                            continue
                        start = frame.pts if start is None else start
                        last_time = (frame.pts - start) * stream.time_base
                        image = BackgroundFrame(frame, self.width, self.height)
                        if not self._put((offset + last_time, image)):
                            return
                        produced += 1
                if produced == 0:
                    raise BackgroundError(f"background video {self.path} has no frames: give another background")
                if self.fit != "loop":
                    break
                offset += self.duration or (last_time + 1 / self.rate)
        except BackgroundError as exc:
            self._put(exc)
        except Exception as exc:  # decoding errors in the middle of the file
            self._put(BackgroundError(f"background video {self.path} failed to decode ({exc}): check the file"))
        self._put(_END)

    def _take(self):
        item = self._queue.get()
        if isinstance(item, Exception):
            raise item
        return item

    def background_time(self, t: Fraction) -> Fraction:
        return t * self._scale

    def _frame_at(self, t) -> "BackgroundFrame":
        target = self.background_time(Fraction(t))
        if self._current is None:
            self._current = self._take()
            if self._current is _END:
                raise BackgroundError(f"background video {self.path} has no frames: give another background")
            self._next = self._take()
        while self._next is not _END and self._next[0] <= target:
            self._current, self._next = self._next, self._take()
        return self._current[1]

    def frame_at(self, t, frame):
        image = self._frame_at(t).rgb()
        if image.shape[:2] != frame.shape[:2]:  # photos of several sizes share one background
            image = fit_cover(image, frame.shape[1], frame.shape[0])
        return image

    def i420_at(self, t, yuv) -> np.ndarray | None:
        """The background as yuv420p planes at the size of the frame's planes ``yuv`` (None if
        it cannot be had so)."""
        if frame_size(yuv) != (self.height, self.width):
            return None
        return self._frame_at(t).i420()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _stream_duration(container, stream) -> Fraction | None:
    if stream.duration:
        return stream.duration * stream.time_base
    if container.duration:
        return Fraction(container.duration, 1_000_000)
    return None


def read_image(path: Path, error=BackgroundError) -> np.ndarray:
    """An image file as RGB uint8 (alpha dropped), honouring EXIF orientation."""
    if not path.is_file():
        raise error(f"file not found: {path} — check the path")
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise error(f"{path} is not an image OpenCV can read: use a JPEG, PNG, BMP, WebP or TIFF file")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def cover_rect(w: int, h: int, width: int, height: int, *, even: bool = False) -> tuple[int, int, int, int]:
    """(x, y, cw, ch): the centre of a w x h source with the aspect of width x height.
    ``even`` puts the corner and the size on even pixels, so that a YUV 4:2:0 frame's chroma
    planes can be cut at exactly the same place."""
    scale = max(width / w, height / h)
    cw, ch = min(w, max(1, round(width / scale))), min(h, max(1, round(height / scale)))
    x, y = (w - cw) // 2, (h - ch) // 2
    if even:
        x, y, cw, ch = x & ~1, y & ~1, max(2, cw & ~1), max(2, ch & ~1)
    return x, y, cw, ch


def fit_cover(image: np.ndarray, width: int, height: int, *, even: bool = False) -> np.ndarray:
    """Scale to fill width x height, keeping the aspect ratio, and crop the centre.

    The centre is cut from the source and scaled straight to the target (a crop of the
    scaled image would cost a strided copy of the whole frame, 4x the resize itself)."""
    h, w = image.shape[:2]
    x, y, cw, ch = cover_rect(w, h, width, height, even=even)
    interp = cv2.INTER_AREA if cw > width else cv2.INTER_LINEAR
    return cv2.resize(image[y:y + ch, x:x + cw], (width, height), interpolation=interp)


class BackgroundFrame:
    """One decoded background-video frame, fitted (cover) to the output size on first use, as
    RGB or as yuv420p planes: the decoder thread only copies the small frame out, and a frame
    shown several times is scaled once. The YUV version scales the planes themselves (half the
    bytes of RGB, and no colour conversion either way)."""

    def __init__(self, frame, width: int, height: int):
        self.width, self.height = width, height
        self._yuv = None
        if frame.format.name == "yuv420p" and not (frame.width % 2 or frame.height % 2) \
                and not (width % 2 or height % 2):
            self._yuv = i420_from_frame(frame)
            self._small_rgb = None
        else:
            self._small_rgb = frame.to_ndarray(format="rgb24")
        self._rgb: np.ndarray | None = None
        self._i420: np.ndarray | None = None

    def rgb(self) -> np.ndarray:
        if self._rgb is None:
            small = self._small_rgb if self._yuv is None else cv2.cvtColor(self._yuv, cv2.COLOR_YUV2RGB_I420)
            self._rgb = fit_cover(small, self.width, self.height, even=self._yuv is not None)
        return self._rgb

    def i420(self) -> np.ndarray:
        if self._i420 is None:
            if self._yuv is None:
                self._i420 = cv2.cvtColor(self.rgb(), cv2.COLOR_RGB2YUV_I420)
            else:
                self._i420 = fit_cover_i420(self._yuv, self.width, self.height)
        return self._i420


def fit_cover_i420(yuv: np.ndarray, width: int, height: int) -> np.ndarray:
    """fit_cover(..., even=True) for yuv420p planes ((H * 3 / 2) x W, FFmpeg's layout): the same
    source rectangle cut from each plane and scaled to the target's planes."""
    h, w = frame_size(yuv)
    x0, y0, cw, ch = cover_rect(w, h, width, height, even=True)
    out = np.empty((height * 3 // 2, width), np.uint8)
    interp = cv2.INTER_AREA if cw > width else cv2.INTER_LINEAR
    for part, dst in zip(crop_planes(yuv, (x0, y0, x0 + cw, y0 + ch)), i420_planes(out)):
        cv2.resize(part, (dst.shape[1], dst.shape[0]), dst=dst, interpolation=interp)
    return out


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


def is_video_path(path: Path) -> bool:
    return path.suffix.lower() not in IMAGE_EXTENSIONS


def open_background(spec: str, size: tuple[int, int], *, fit: str = "loop",
                    input_duration: Fraction | None = None) -> Background:
    """Parse a --bg value into a Background for frames of ``size`` (width, height)."""
    text = spec.strip()
    key = text.lower()
    color = solid_color(text)
    if color is not None:
        return ColorBackground(color, key if key in COLORS else text)
    if key == "blur":
        return BlurBackground()
    if key.startswith("blur:"):
        try:
            strength = int(key.split(":", 1)[1])
        except ValueError:
            strength = -1
        if not 1 <= strength <= 200:
            raise BackgroundError(f"bad blur strength in {spec!r}: use blur:N with N from 1 to 200 (default {DEFAULT_BLUR})")
        return BlurBackground(strength)
    if key in ("gray", "grey"):
        return GrayBackground()
    if key == "transparent":
        return TransparentBackground()
    if key in ("none", "original"):
        return OriginalBackground()
    path = Path(text).expanduser()
    if path.is_dir():
        raise BackgroundError(f"--bg {spec} is a directory: give one image or video (folders of backgrounds are for livebg cam)")
    if not path.exists():
        if not looks_like_a_path(text):
            raise BackgroundError(f"unknown background {spec!r}: use an image or video path, or one of {', '.join(KEYWORDS)}")
        raise BackgroundError(f"background file not found: {spec} — check the path")
    if not is_video_path(path):
        return ImageBackground(path)
    return VideoBackground(path, size, fit=fit, input_duration=input_duration)


def composite(frame: np.ndarray, alpha: np.ndarray, background: np.ndarray | None,
              out: np.ndarray | None = None) -> np.ndarray:
    """Blend: alpha * frame + (1 - alpha) * background, in uint8 with float32 weights.

    With ``background`` None the result is RGBA with the alpha in the fourth channel.
    """
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame must be uint8 HxWx3, got {frame.dtype} {frame.shape}")
    if alpha.dtype != np.float32 or alpha.shape != frame.shape[:2]:
        raise ValueError(f"alpha must be float32 {frame.shape[:2]}, got {alpha.dtype} {alpha.shape}")
    if background is None:
        a8 = cv2.convertScaleAbs(alpha, alpha=255.0)
        return cv2.merge([*cv2.split(frame), a8], dst=out)
    if background is frame:
        return frame
    return cv2.blendLinear(frame, background, alpha, 1.0 - alpha, dst=out)


def blend_torch(frame, alpha, background):
    """The blend for tensors where they live (the GPU): uint8 (N)HW3 + float alpha (N)HW -> uint8.

    Works in the dtype of ``alpha`` (float16 on CUDA), converting to uint8 before any copy
    to the host so that four times fewer bytes cross the bus.
    """
    import torch

    a = alpha.unsqueeze(-1)
    f = frame.to(a.dtype)
    b = background.to(a.dtype)
    out = b + a * (f - b)
    return out.round_().clamp_(0, 255).to(torch.uint8)
