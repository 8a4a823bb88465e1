"""The live main loop: composites each captured frame with the newest matte and sends it out.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from livebg.config import Config
from livebg.composite.blend import Compositor
from livebg.errors import DeviceError, say
from livebg.frames.frame import ForegroundEstimate, Frame
from livebg.live.chooser import BackgroundChooser
from livebg.live.mask import (
    FIRST_MASK_TIMEOUT,
    WAIT_FOR_MASK_SHARE,
    Mask,
    MaskWorker,
    small_grey,
)
from livebg.live.options import help_lines
from livebg.live.record import AlphaRecorder
from livebg.live.stats import LiveStats, rounded_percentile
from livebg.matte.foreground import model_foreground
from livebg.matte.matter import Matter
from livebg.media.probe import DEFAULT_FPS
from livebg.segment.reuse import moved
from livebg.sources.capture import LiveCapture


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


class LiveLoop:
    """The main thread's work: frame in, composite, hand out, keys; the threads are started by ``run_live``."""

    def __init__(self, *, capture: LiveCapture, worker: MaskWorker, matter: Matter, chooser: BackgroundChooser,
                 light_wrap: float, harmonize: float = 0.0, vcam=None, preview=None, state: ViewState, stop: threading.Event,
                 duration: float = 0.0, log: Callable[[str], None] = say):
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
        self.stats_log: tuple[Path, float] | None = None  # (file, seconds): a JSON line per interval
        self.alpha_out: AlphaRecorder | None = None  # --alpha-out: the matte of each composited frame
        self.interval = 1.0 / (capture.fps or DEFAULT_FPS)
        self.stop_reason = ""
        self._background = chooser.current_background()
        self.compositor = Compositor(self._background, light_wrap, harmonize=harmonize)  # the same blend as file jobs
        # masks older than their frame are carried onto it along the optical flow (RVM live on a
        # CPU, slower than the camera); run_live sets it
        self.carry = False
        # the loop waits for a frame's own mask while the model's calls take at most this share
        # of a frame interval (run_live sets more for RVM sized to the camera's rate)
        self.wait_share = WAIT_FOR_MASK_SHARE
        self.fallback_config: Config | None = None  # the config of the selfie model's chain when it stands in (None: the matter's)
        self.carried = 0  # frames whose mask was carried
        self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)  # type: ignore[attr-defined]
        self._edge: float | None = None  # the edge of the model whose masks the chain refines now
        self._matters: dict[float, Matter] = {}  # a matte chain per model edge
        self._current_matter = matter

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
        self._background = self.compositor.background = self.chooser.current_background()
        self.compositor.reset()  # the harmonisation measured the old background
        self._current_matter.reset()  # the smoothed matte belongs to the old view
        self.worker.reset()
        idle = self.state.passthrough or self.chooser.effect == "original"
        if idle:
            self.worker.paused.set()
        elif self.worker.paused.is_set():
            # the masks kept from before the pause show where the person was then: with a model
            # slower than the camera they would be used, at once, until a new one came
            self.worker.forget_masks()
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
        elif seconds is not None and seconds <= self.wait_share * self.interval:
            timeout = min(self.interval, 2 * seconds + 0.005)
        else:
            return mask  # the model is slower than the camera: use the newest mask, do not wait
        mask = self.worker.wait_for(frame.index, timeout)
        if self.worker.error is not None:
            raise self.worker.error
        return mask

    def process(self, frame: Frame) -> tuple[np.ndarray, np.ndarray, float | None]:
        """(output RGB, the input as shown, mask age in seconds or None)."""
        image = cv2.flip(frame.rgb(), 1) if self.state.mirror else frame.rgb()
        if self.state.passthrough or self.chooser.effect == "original":
            return image, image, None
        background = self._background.frame_at(frame.time, image)  # prepared while the model runs
        mask = self._mask_for(frame)
        if mask is None:
            raise DeviceError(f"the model produced no mask within {FIRST_MASK_TIMEOUT:.0f} s: try a faster --model (selfie)")
        prob = mask.prob
        colour = mask.estimate.colour if mask.estimate is not None else None
        flow = None
        if self.carry and mask.index < frame.index and mask.grey is not None:
            flow = self._flow_since(mask.grey, frame.rgb(), prob.shape[:2])
            if flow is not None:
                prob = moved(prob, flow)  # the colour is read along it where it is blended (model_foreground)
        if self.state.mirror:
            prob = cv2.flip(prob, 1)
            colour = cv2.flip(colour, 1) if colour is not None else None
            if flow is not None:  # mirrored: read at the mirrored place, the horizontal motion reversed
                flow = cv2.flip(flow, 1) * np.array([-1.0, 1.0], np.float32)
        alpha = self._matter_for(mask)(prob, image)
        if self.alpha_out is not None:
            self.alpha_out.add(frame.index, alpha)
        age = frame.captured_at - mask.captured_at
        if colour is None:
            return self.compositor.blend(image, alpha, background), image, age
        # a matting model's own foreground colour at its soft edge (as file jobs blend it): hair
        # keeps its colour there, not the camera's mix of it with the room behind
        person = model_foreground(image, ForegroundEstimate(colour, prob), alpha, flow)
        return self.compositor.blend(person, alpha, background, camera=image), image, age

    def _matter_for(self, mask: Mask) -> Matter:
        """The matte chain for the model that made ``mask`` (the selfie model may stand in for
        RVM live: its edge is another level); a change of model starts the chain's memory over."""
        if self._edge is None:  # the first mask: the chain run_live made is for its model
            self._edge = mask.edge_threshold
            self._matters[self._edge] = self.matter
        elif mask.edge_threshold != self._edge:
            self._edge = mask.edge_threshold
            matter = self._matters.get(self._edge)
            if matter is None:
                matter = self._matters[self._edge] = Matter(self.fallback_config or self.matter.config,
                                                            edge_threshold=self._edge)
            matter.reset()
            self._current_matter = matter
        return self._current_matter

    def _flow_since(self, then: np.ndarray, image: np.ndarray, size: tuple[int, int]) -> np.ndarray | None:
        """The optical flow (DIS on small grey pictures) from ``image`` back to an older frame's
        grey picture ``then``, at ``size`` (h, w) in its px: an older mask moved along it lands
        on this frame (a two-frame-old matte does not trail a moving hand). None when the frame
        size changed."""
        now = small_grey(image)
        if now.shape != then.shape:
            return None
        flow = self._flow.calc(now, then, None)  # now(x) looks like then(x + flow(x))
        h, w = size
        scale = np.array([w / now.shape[1], h / now.shape[0]], np.float32)
        self.carried += 1
        return cv2.resize(flow * scale, (w, h), interpolation=cv2.INTER_LINEAR)

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

    def _log_stats(self, started: float, since: int) -> int:
        """Append one JSON line of this interval's statistics; returns the frames counted so far."""
        assert self.stats_log is not None
        latencies = self.stats.latency_ms[since:]
        line = {"seconds": round(time.perf_counter() - started, 1), "frames_in": self.capture.frames_in,
                "frames_out": self.stats.frames_out, "dropped": self.capture.dropped,
                "latency_p95_ms": rounded_percentile(latencies, 95) if latencies else None,
                "rss_mb": resident_mb()}
        try:
            with open(self.stats_log[0], "a", encoding="utf-8") as f:
                f.write(json.dumps(line) + "\n")
        except OSError as exc:  # a full disk, a removed directory: the session matters more than its log
            self.log(f"--stats-log {self.stats_log[0]}: cannot write ({exc.strerror or exc}); "
                     f"statistics are no longer logged, the session goes on")
            self.stats_log = None
        return len(self.stats.latency_ms)

    def run(self) -> None:
        started = time.perf_counter()
        next_log = started + self.stats_log[1] if self.stats_log else None
        logged = 0
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
            if next_log is not None and self.stats_log and time.perf_counter() >= next_log:
                next_log += self.stats_log[1]
                logged = self._log_stats(started, logged)
            if self.preview is not None:
                beside = shown_input if self.state.side_by_side else None
                self.preview.show(out, beside=beside, overlay=self.overlay_lines())
        if self.stop.is_set() and not self.stop_reason:
            self.stop_reason = "signal"


def resident_mb() -> float | None:
    """This process's resident memory in MB (Linux's /proc; None elsewhere)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None
