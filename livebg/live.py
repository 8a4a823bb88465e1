"""`livebg cam`: camera -> segment -> smooth/refine -> composite -> virtual camera and/or preview, live.

Three threads: capture (sources/camera.py, newest frame wins), segmentation (``MaskWorker``,
always on the newest frame), and the main thread, which composites every captured frame at
the camera's rate with the newest mask available, sends it out and runs the preview window.
When the model keeps up, the main thread waits the few milliseconds for the mask of the very
frame it shows (the background is prepared meanwhile); when it cannot (DeepLabV3 on a CPU),
the output keeps the camera's rate and the mask's age is reported instead.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import json
import signal
import sys
import threading
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from .compositing import IMAGE_EXTENSIONS, Background, composite, open_background
from .config import Config
from .errors import BackgroundError, ConfigError, DeviceError
from .matte import Matter
from .pipeline import second_stop
from .sinks.files import check_writable
from .sources.base import Frame
from .sources.camera import LiveCapture, open_capture_device

FIRST_MASK_TIMEOUT = 10.0  # seconds to wait for the very first mask before showing anything
WAIT_FOR_MASK_SHARE = 0.5  # wait for the current frame's mask only when the model needs at most half a frame interval

EFFECTS = ("blur", "gray", "white", "original")  # after the --bg itself, in the order `b` cycles them

HOTKEYS: tuple[tuple[str, str], ...] = (
    ("h", "show or hide this help"),
    ("b", "next background effect: your --bg, blur, gray, white, original"),
    ("n / p", "next / previous background image from the --bg folder"),
    ("space", "replacement on/off (pass-through)"),
    ("m", "mirror on/off"),
    ("i", "input side by side on/off (preview only)"),
    ("o", "overlay (fps, latency) on/off"),
    ("q / Esc", "quit"),
)


# -- options ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LiveOptions:
    source: str = "0"
    width: int = 0
    height: int = 0
    fps: float = 0.0
    mirror: bool = False
    vcam: bool = True
    vcam_device: str | None = None
    vcam_backend: str | None = None
    preview: bool = False
    duration: float = 0.0  # 0: until stopped
    stats_json: str | None = None
    max_pending: int = 2  # frames the capture holds for a slow consumer before dropping the oldest

    def validate(self) -> "LiveOptions":
        if (self.width or self.height) and not (self.width > 0 and self.height > 0):
            raise ConfigError(f"--width {self.width} --height {self.height}: give both, as positive pixel counts")
        if self.vcam and (self.width % 2 or self.height % 2):
            raise ConfigError(f"{self.width}x{self.height}: virtual cameras need even sizes; use e.g. --width 1280 --height 720")
        if self.fps < 0 or self.fps > 240:
            raise ConfigError(f"--fps {self.fps} is out of range: use 1..240")
        if self.duration < 0:
            raise ConfigError(f"--duration {self.duration} is negative: give seconds, or leave it out to run until stopped")
        if self.stats_json:
            parent = Path(self.stats_json).expanduser().parent
            if not parent.is_dir():
                raise ConfigError(f"--stats-json directory {parent} does not exist: create it or choose another path")
            check_writable(parent, "--stats-json")
        return self


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
        if text.lower() == "transparent":
            raise BackgroundError("--bg transparent cannot be shown by a camera: choose an image, a folder, a colour, blur or gray")
        path = Path(text).expanduser()
        self.images = list_background_images(path) if path.is_dir() else []
        if path.is_dir() and not self.images:
            raise BackgroundError(f"--bg {spec} is a folder without images: add JPEG or PNG files, or give one image")
        key = text.lower()
        key = {"none": "original", "grey": "gray"}.get(key, key)
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


# -- segmentation thread -----------------------------------------------------------------------
@dataclass
class Mask:
    index: int  # the frame it was computed on
    captured_at: float
    prob: np.ndarray  # float32, inference resolution


class MaskWorker:
    """Runs the segmenter in its own thread, always on the newest captured frame.

    Keeps the last few masks; ``seconds`` is a running estimate of one prediction's time.
    """

    def __init__(self, *, segmenter, capture: LiveCapture, keep: int = 4, seconds: float | None = None):
        from .segmentation import stream_predictor

        self.segmenter = stream_predictor(segmenter)
        self._forget = threading.Event()
        self.capture = capture
        self.seconds = seconds
        self.masks = 0
        self.error: BaseException | None = None
        self.paused = threading.Event()
        self._keep: collections.deque[Mask] = collections.deque(maxlen=keep)
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="livebg-segment", daemon=True)
        self._predict_ms = array("f")

    def reset(self) -> None:
        """Forget state carried between frames (the followed person box) before the next one."""
        self._forget.set()

    def start(self) -> "MaskWorker":
        self._thread.start()
        return self

    def _run(self) -> None:
        last = -1
        try:
            while not self._stop.is_set():
                if self.paused.is_set():
                    self._stop.wait(0.02)
                    continue
                frame = self.capture.wait_newer(last, 0.1)
                if frame is None:
                    if self.capture.mailbox.finished:
                        break
                    continue
                if self._forget.is_set():
                    self._forget.clear()
                    getattr(self.segmenter, "reset", lambda: None)()
                started = time.perf_counter()
                prob = self.segmenter.predict([frame.image])[0]
                spent = time.perf_counter() - started
                self.seconds = spent if self.seconds is None else 0.8 * self.seconds + 0.2 * spent
                self._predict_ms.append(spent * 1000)
                with self._cond:
                    self._keep.append(Mask(frame.index, frame.captured_at, prob))
                    self.masks += 1
                    self._cond.notify_all()
                last = frame.index
        except BaseException as exc:  # re-raised on the main thread
            self.error = exc
        finally:
            with self._cond:
                self._stop.set()
                self._cond.notify_all()

    def pick(self, index: int) -> Mask | None:
        """The newest mask of a frame at or before ``index``; else the oldest one after it."""
        with self._cond:
            before = [m for m in self._keep if m.index <= index]
            if before:
                return before[-1]
            return self._keep[0] if self._keep else None

    def wait_for(self, index: int, timeout: float) -> Mask | None:
        """Wait up to ``timeout`` for a mask of frame ``index`` or later, then ``pick(index)``."""
        deadline = time.perf_counter() + timeout
        with self._cond:
            while not (self._keep and self._keep[-1].index >= index) and not self._stop.is_set():
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                self._cond.wait(left)
        return self.pick(index)

    def predict_ms(self) -> array:
        return self._predict_ms

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=10)


# -- statistics --------------------------------------------------------------------------------
def _percentile(values: array, q: float) -> float:
    if not values:
        return 0.0
    return round(float(np.percentile(np.frombuffer(values, dtype=np.float32), q)), 1)


class LiveStats:
    """Latency (capture -> handed to the virtual camera or window) and mask age per output frame."""

    def __init__(self):
        self.frames_out = 0
        self.latency_ms = array("f")
        self.mask_age_ms = array("f")
        self.first_out: float | None = None
        self.last_out: float | None = None
        self._recent: collections.deque[tuple[float, float, float]] = collections.deque(maxlen=30)

    def record(self, captured_at: float, handed_at: float, mask_age_s: float | None) -> None:
        latency = (handed_at - captured_at) * 1000
        self.latency_ms.append(latency)
        age = max(0.0, mask_age_s * 1000) if mask_age_s is not None else 0.0
        if mask_age_s is not None:
            self.mask_age_ms.append(age)
        self.frames_out += 1
        self.first_out = handed_at if self.first_out is None else self.first_out
        self.last_out = handed_at
        self._recent.append((handed_at, latency, age))

    def fps(self) -> float:
        if self.frames_out < 2 or self.last_out == self.first_out:
            return 0.0
        return (self.frames_out - 1) / (self.last_out - self.first_out)

    def recent(self) -> tuple[float, float, float]:
        """fps, median latency (ms) and median mask age (ms) over the last 30 frames, for the overlay."""
        if len(self._recent) < 2:
            return 0.0, 0.0, 0.0
        times = [r[0] for r in self._recent]
        fps = (len(times) - 1) / max(1e-6, times[-1] - times[0])
        return fps, sorted(r[1] for r in self._recent)[len(times) // 2], sorted(r[2] for r in self._recent)[len(times) // 2]

    def summary(self, *, frames_in: int, dropped: int) -> dict:
        return {
            "frames_in": frames_in,
            "frames_out": self.frames_out,
            "dropped": dropped,
            "fps": round(self.fps(), 2),
            "latency_p50_ms": _percentile(self.latency_ms, 50),
            "latency_p95_ms": _percentile(self.latency_ms, 95),
            "mask_age_p95_ms": _percentile(self.mask_age_ms, 95),
            "mask_age_p50_ms": _percentile(self.mask_age_ms, 50),
            "latency_max_ms": _percentile(self.latency_ms, 100),
        }


STATS_LINE_KEYS = ("frames_in", "frames_out", "dropped", "fps", "latency_p50_ms", "latency_p95_ms", "mask_age_p95_ms")


def stats_line(summary: dict) -> str:
    return " ".join(f"{key}={summary[key]}" for key in STATS_LINE_KEYS)


# -- the live loop ----------------------------------------------------------------------------
@dataclass
class ViewState:
    """What the hotkeys change."""

    mirror: bool = False
    passthrough: bool = False
    overlay: bool = True
    side_by_side: bool = False
    help: bool = False
    quit: bool = False


@dataclass
class LiveResult:
    summary: dict
    failure: str | None = None
    stop_reason: str = ""
    extra: dict = field(default_factory=dict)


def _log(message: str) -> None:
    print(f"livebg: {message}", file=sys.stderr, flush=True)


class LiveLoop:
    """The main thread's work: frame in, composite, hand out, keys; the threads are started by ``run_live``."""

    def __init__(self, *, capture: LiveCapture, worker: MaskWorker, matter: Matter, chooser: BackgroundChooser,
                 light_wrap: float, vcam=None, preview=None, state: ViewState, stop: threading.Event,
                 duration: float = 0.0, log: Callable[[str], None] = _log):
        self.capture = capture
        self.worker = worker
        self.matter = matter
        self.chooser = chooser
        self.light_wrap = light_wrap
        self.vcam = vcam
        self.preview = preview
        self.state = state
        self.stop = stop
        self.duration = duration
        self.log = log
        self.stats = LiveStats()
        self.interval = 1.0 / (capture.fps or 30.0)
        self.stop_reason = ""
        self._background = chooser.current_background()

    # hotkeys ------------------------------------------------------------------------------
    def handle_key(self, key: int) -> None:
        ch = chr(key).lower() if 0 <= key < 256 else ""
        s = self.state
        if key == 27 or ch == "q":
            s.quit = True
        elif ch == "h":
            s.help = not s.help
            if s.help:
                for line in help_lines():
                    self.log(line)
        elif ch == "b":
            self.chooser.next_effect()
            self._changed(f"background: {self.chooser.label()}")
        elif ch in ("n", "p"):
            if self.chooser.step_image(1 if ch == "n" else -1):
                self._changed(f"background: {self.chooser.label()}")
            else:
                self.log("n/p step through a folder of backgrounds: start with --bg FOLDER")
        elif ch == " ":
            s.passthrough = not s.passthrough
            self._changed("replacement off (pass-through)" if s.passthrough else "replacement on")
        elif ch == "m":
            s.mirror = not s.mirror
            self._changed(f"mirror {'on' if s.mirror else 'off'}")
        elif ch == "o":
            s.overlay = not s.overlay
        elif ch == "i":
            s.side_by_side = not s.side_by_side

    def _changed(self, message: str) -> None:
        self._background = self.chooser.current_background()
        self.matter.reset()  # the smoothed matte belongs to the old view
        self.worker.reset()
        idle = self.state.passthrough or self.chooser.effect == "original"
        if idle:
            self.worker.paused.set()
        else:
            self.worker.paused.clear()
        self.log(message)

    # frames -------------------------------------------------------------------------------
    def _mask_for(self, frame: Frame) -> Mask | None:
        mask = self.worker.pick(frame.index)
        if mask is not None and mask.index >= frame.index:
            return mask
        seconds = self.worker.seconds
        if mask is None:
            timeout = FIRST_MASK_TIMEOUT
        elif seconds is not None and seconds <= WAIT_FOR_MASK_SHARE * self.interval:
            timeout = min(self.interval, 2 * seconds + 0.005)
        else:
            return mask  # the model is slower than the camera: use the newest mask, do not wait
        mask = self.worker.wait_for(frame.index, timeout)
        if self.worker.error is not None:
            raise self.worker.error
        return mask

    def process(self, frame: Frame) -> tuple[np.ndarray, np.ndarray, float | None]:
        """(output RGB, the input as shown, mask age in seconds or None)."""
        image = cv2.flip(frame.image, 1) if self.state.mirror else frame.image
        if self.state.passthrough or self.chooser.effect == "original":
            return image, image, None
        background = self._background.frame_at(frame.time, image)  # prepared while the model runs
        mask = self._mask_for(frame)
        if mask is None:
            raise DeviceError(f"the model produced no mask within {FIRST_MASK_TIMEOUT:.0f} s: try a faster --model (selfie)")
        prob = cv2.flip(mask.prob, 1) if self.state.mirror else mask.prob
        alpha = self.matter(prob, image)
        shown = image
        if self.light_wrap > 0 and background is not image:
            from .refine import light_wrap

            shown = light_wrap(image, background, alpha, self.light_wrap)
        return composite(shown, alpha, background), image, frame.captured_at - mask.captured_at

    def overlay_lines(self) -> list[str]:
        lines: list[str] = []
        if self.state.overlay:
            fps, latency, age = self.stats.recent()
            mode = "pass-through" if self.state.passthrough else self.chooser.label()
            lines.append(f"{fps:4.1f} fps  latency {latency:3.0f} ms  mask age {age:3.0f} ms")
            lines.append(f"{mode}{'  mirror' if self.state.mirror else ''}   h: help")
        if self.state.help:
            lines.extend(help_lines())
        return lines

    def run(self) -> None:
        deadline = time.perf_counter() + self.duration if self.duration else None
        timeout = 0.01 if self.preview is not None else 0.1
        while not self.stop.is_set():
            if self.preview is not None:
                key = self.preview.poll(1)
                if key is not None:
                    self.handle_key(key)
                if self.state.quit:
                    self.stop_reason = "quit"
                    break
                if self.preview.closed:
                    self.stop_reason = "window closed"
                    break
            if self.worker.error is not None:
                raise self.worker.error
            if deadline is not None and time.perf_counter() >= deadline:
                self.stop_reason = "duration"
                break
            frame = self.capture.get(timeout)
            if frame is None:
                if self.capture.ended:
                    self.stop_reason = "source ended"
                    break
                continue
            out, shown_input, mask_age = self.process(frame)
            if self.vcam is not None:
                self.vcam.send(out)
            self.stats.record(frame.captured_at, time.perf_counter(), mask_age)
            if self.preview is not None:
                beside = shown_input if self.state.side_by_side else None
                self.preview.show(out, beside=beside, overlay=self.overlay_lines())
        if self.stop.is_set() and not self.stop_reason:
            self.stop_reason = "signal"


def help_lines() -> list[str]:
    return ["keys:"] + [f"  {keys:<8} {what}" for keys, what in HOTKEYS]


class _SignalStop:
    """SIGINT/SIGTERM set the stop event, so the loop ends and every device is released; a second one
    (not the first repeated within SAME_STOP_SECONDS) interrupts."""

    def __init__(self, stop: threading.Event):
        self.stop = stop
        self.received: int | None = None
        self._times: list[float] = []  # when each signal came
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        self._times.append(time.monotonic())
        if second_stop(self._times):
            raise KeyboardInterrupt
        if self.received is None:
            self.received = signum
        self.stop.set()

    def __enter__(self) -> "_SignalStop":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)


def _limit_torch_threads(segmenter, threads: int) -> None:
    # A torchvision model takes every core by default and starves the compositing thread; leave one free.
    from .segmentation import TorchSegmenter, inference_threads

    if isinstance(segmenter, TorchSegmenter) and segmenter.device == "cpu":
        import torch

        torch.set_num_threads(inference_threads(threads))


def run_live(options: LiveOptions, config: Config, *, log: Callable[[str], None] = _log) -> LiveResult:
    """Run the live path until the duration, the end of the source, q/Esc, a closed window or a signal."""
    from .segmentation import load_segmenter, stream_note
    from .sinks.preview import PreviewWindow, display_problem
    from .sinks.vcam import VirtualCamera

    options.validate()
    if not options.vcam and not options.preview:
        log("cam: --no-vcam without --preview: frames are processed but shown nowhere (statistics only)")
    if options.preview and display_problem():
        raise DeviceError(display_problem())
    stop = threading.Event()
    capture = vcam = preview = chooser = worker = None
    loop: LiveLoop | None = None
    with contextlib.ExitStack() as signal_scope:
        try:
            capture = LiveCapture(lambda: open_capture_device(options.source, width=options.width, height=options.height,
                                                              fps=options.fps),
                                  max_pending=options.max_pending, log=log)
            size = (capture.width, capture.height)
            chooser = BackgroundChooser(config.background.bg, size, fit=config.background.fit)
            if options.vcam:
                vcam = VirtualCamera(width=capture.width, height=capture.height, fps=capture.fps,
                                     device=options.vcam_device, backend=options.vcam_backend)
            segmenter, reason = load_segmenter(config.model)
            _limit_torch_threads(segmenter, config.model.threads)
            warm = np.zeros((capture.height, capture.width, 3), np.uint8)
            segmenter.predict([warm])  # a first call at the camera's size (resizes, crop pass); keep it out of the live numbers
            started = time.perf_counter()
            warm_prob = segmenter.predict([warm])[0]
            seconds = time.perf_counter() - started
            matter = Matter(config)
            # one pass of the whole chain (the smoother's kernel is loaded when Matter is made; this
            # allocates the rest) so the first camera frames take their usual time and are not
            # queued up and dropped. Before the window opens, so that the window only appears once
            # frames are about to flow (closing it earlier went unseen)
            matter.warm_up(warm, warm_prob)
            if options.preview:
                preview = PreviewWindow(title="livebg")
            log(f"cam: {segmenter.describe()}{stream_note(segmenter)} ({reason}); about {seconds * 1000:.0f} ms a frame")
            outputs = [vcam.describe()] if vcam is not None else []
            if preview is not None:
                outputs.append("preview window (h: help, q: quit)")
            log(f"cam: {capture.name} {capture.width}x{capture.height} at {capture.fps:.2f} fps -> "
                f"{' + '.join(outputs) or 'nowhere'}; background {chooser.label()}; Ctrl-C stops")
            worker = MaskWorker(segmenter=segmenter, capture=capture, seconds=seconds)
            state = ViewState(mirror=options.mirror)
            loop = LiveLoop(capture=capture, worker=worker, matter=matter, chooser=chooser,
                            light_wrap=config.refine.light_wrap, vcam=vcam, preview=preview, state=state, stop=stop,
                            duration=options.duration, log=log)
            if chooser.effect == "original":
                worker.paused.set()
            # the handlers stay until every device is released: a copy of the stop signal (`timeout`
            # sends two) landing in the cleanup must not cut it short
            signals = signal_scope.enter_context(_SignalStop(stop))
            worker.start()
            capture.start()
            loop.run()
            if signals.received is not None:
                loop.stop_reason = signal.Signals(signals.received).name
        finally:
            # Release in reverse order of dependence; each close() is safe to call twice.
            for resource in (capture, worker, vcam, preview, chooser):
                if resource is not None:
                    try:
                        resource.close()
                    except Exception as exc:  # keep releasing the others
                        log(f"closing {type(resource).__name__} failed: {exc}")
    summary = loop.stats.summary(frames_in=capture.frames_in, dropped=capture.dropped)
    summary.update({
        "masks": worker.masks,
        "segment_p50_ms": _percentile(worker.predict_ms(), 50),
        "reopens": capture.reopens,
        "stop": loop.stop_reason or ("source failed" if capture.failure else ""),
        "source": capture.name,
        "width": capture.width,
        "height": capture.height,
        "source_fps": round(capture.fps, 3),
        "model": getattr(segmenter, "name", ""),
        "device": getattr(segmenter, "device", ""),
        "vcam": vcam.device if vcam is not None else None,
        "pixel_format": vcam.pixel_format if vcam is not None else None,
        "vcam_frames": vcam.frames if vcam is not None else 0,
    })
    return LiveResult(summary=summary, failure=capture.failure, stop_reason=summary["stop"])


# -- command line -----------------------------------------------------------------------------
def add_cam_parser(subparsers, add_common_options: Callable[[argparse.ArgumentParser], None]) -> None:
    p = subparsers.add_parser(
        "cam", help="live: webcam in, virtual camera and/or preview window out",
        description="Replace the background of a webcam live: output to a virtual camera (pick 'livebg' in "
                    "Zoom or Meet) and/or a preview window.")
    p.add_argument("--source", default="0", help="camera index (default 0), /dev/videoN, or a video file or URL "
                                                 "replayed at its own frame rate as if it were a camera")
    p.add_argument("--width", type=int, default=0, help="capture width (cameras: asked of the device; files: scaled)")
    p.add_argument("--height", type=int, default=0, help="capture height")
    p.add_argument("--fps", dest="cam_fps", type=float, default=0.0, metavar="FPS",
                   help="capture rate (cameras: asked of the device; files: replay rate instead of the file's own)")
    p.add_argument("--mirror", action="store_true", help="mirror the picture, as a selfie view (hotkey m)")
    p.add_argument("--vcam", action=argparse.BooleanOptionalAction, default=True,
                   help="send the result to a virtual camera (default: on)")
    p.add_argument("--vcam-device", help="virtual camera device, e.g. /dev/video10 (default: the first one found)")
    p.add_argument("--vcam-backend", help="pyvirtualcam backend name (default: the platform's: v4l2loopback, obs, …)")
    p.add_argument("--preview", action="store_true", help="show the result in a window with hotkeys (h lists them)")
    p.add_argument("--duration", type=float, default=0.0, metavar="SECONDS", help="stop after this many seconds")
    p.add_argument("--stats-json", metavar="FILE", help="also write the summary statistics to FILE as JSON")
    add_common_options(p)


def options_from_args(args: argparse.Namespace) -> LiveOptions:
    return LiveOptions(source=args.source, width=args.width, height=args.height, fps=args.cam_fps,
                       mirror=args.mirror, vcam=args.vcam, vcam_device=args.vcam_device,
                       vcam_backend=args.vcam_backend, preview=args.preview, duration=args.duration,
                       stats_json=args.stats_json).validate()


def run_cam(args: argparse.Namespace, config: Config) -> int:
    """`livebg cam`: run, print the summary line, write --stats-json; 0 unless the camera failed."""
    options = options_from_args(args)
    result = run_live(options, config)
    print(stats_line(result.summary), file=sys.stderr, flush=True)
    if options.stats_json:
        Path(options.stats_json).expanduser().write_text(json.dumps(result.summary, indent=2) + "\n", encoding="utf-8")
    if result.failure:
        raise DeviceError(result.failure)
    return 0
