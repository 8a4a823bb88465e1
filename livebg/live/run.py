"""`livebg cam`: camera -> segment -> smooth/refine -> composite -> virtual camera and/or preview, live.

Three threads: capture (sources/capture.py, newest frame wins), segmentation (``MaskWorker``,
always on the newest frame), and the main thread, which composites every captured frame at
the camera's rate with the newest mask available, sends it out and runs the preview window.
When the model keeps up, the main thread waits the few milliseconds for the mask of the very
frame it shows (the background is prepared meanwhile); when it cannot (DeepLabV3 on a CPU),
the output keeps the camera's rate and the mask's age is reported instead.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import resource
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np

from livebg.config import Config, SmoothingConfig
from livebg.errors import DeviceError, say
from livebg.live.chooser import BackgroundChooser
from livebg.live.loop import LiveLoop, LiveResult, ViewState
from livebg.live.mask import SLOW_MODEL_NICE, WAIT_FOR_MASK_SHARE, MaskWorker
from livebg.live.options import LiveOptions, options_from_args
from livebg.live.record import AlphaRecorder
from livebg.live.sizing import LIVE_BUDGET, LIVE_MATTING_SMOOTHING, LIVE_WAIT, STARTUP_BUDGET, LiveSizer, startup_size
from livebg.live.stats import rounded_percentile, stats_line
from livebg.matte.matter import Matter
from livebg.media.probe import DEFAULT_FPS
from livebg.segment.base import Predictor
from livebg.segment.rvm import RvmSegmenter, RvmStream
from livebg.signals import StopOnSignal
from livebg.sources.capture import LiveCapture
from livebg.sources.devices import open_capture_device


def _limit_torch_threads(segmenter, threads: int) -> None:
    # A torchvision model takes every core by default and starves the compositing thread; leave one free.
    from livebg.segment.onnx_model import inference_threads
    from livebg.segment.torch_model import TorchSegmenter

    if isinstance(segmenter, TorchSegmenter) and segmenter.device == "cpu":
        import torch

        torch.set_num_threads(inference_threads(threads))


def _cpu_seconds() -> float:
    """CPU time of this process so far, all threads (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def time_call(segmenter: RvmSegmenter, frame: np.ndarray, short: int) -> float:
    """Seconds of one RVM call on the whole ``frame`` at working size ``short``: the quickest of
    three, the state carried, after a first that sets up ONNX Runtime's buffers for that size
    (one timed call put a size out of reach when another thread woke meanwhile)."""
    from livebg.frames.yuv import downscale

    plan = segmenter.plan(frame.shape[0], frame.shape[1], short)
    small = downscale(frame, plan.src_size)
    _, _, state = segmenter.run(small, None, plan.ratio)
    times = []
    for _ in range(3):
        started = time.perf_counter()
        _, _, state = segmenter.run(small, state, plan.ratio)
        times.append(time.perf_counter() - started)
    return min(times)


def run_live(options: LiveOptions, config: Config, *, log: Callable[[str], None] = say) -> LiveResult:
    """Run the live path until the duration, the end of the source, q/Esc, a closed window or a signal."""
    from livebg.segment.factory import load_segmenter
    from livebg.sinks.preview import PreviewWindow, display_problem
    from livebg.sinks.vcam import VirtualCamera

    options.validate()

    def report(message: str) -> None:  # a report line: -q hides it (a caller's own log gets it all)
        if log is say:
            say(message, detail=True)
        else:
            log(message)

    if not options.vcam and not options.preview:
        log("cam: --no-vcam without --preview: frames are processed but shown nowhere (statistics only)")
    if options.preview and display_problem():
        raise DeviceError(display_problem())
    stop = threading.Event()
    capture = vcam = preview = chooser = worker = None
    recorder: AlphaRecorder | None = None
    finished = False
    cores = 0.0
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
            # the model leaves a core to the compositing thread, but for RVM sized to the camera's
            # rate, which the loop waits for (it has every core meanwhile): load_segmenter decides
            model_config = config.model
            segmenter, reason = load_segmenter(model_config, live=True)
            _limit_torch_threads(segmenter, model_config.threads)
            warm = np.zeros((capture.height, capture.width, 3), np.uint8)
            sizer = fallback = None
            size_note = ""
            # RVM on a CPU without --infer-size (load_rvm decides: "live sizing")
            if isinstance(segmenter, RvmSegmenter) and segmenter.chosen == "live sizing":
                # the largest size whose call fits the camera's frame interval, timed here
                budget = LIVE_BUDGET / (capture.fps or DEFAULT_FPS)
                startup_budget = STARTUP_BUDGET / (capture.fps or DEFAULT_FPS)
                times: dict[int, float] = {}
                start = startup_size(lambda short: times.setdefault(short, time_call(segmenter, warm, short)),
                                     startup_budget)
                sizer = LiveSizer(budget, start)
                # the bundled selfie model below the smallest size (none of RVM's own settings apply to it)
                fallback, _ = load_segmenter(dataclasses.replace(model_config, name="selfie", weights="", infer_size=0,
                                                                 precision="auto"), live=True)
                fits = times[start] <= startup_budget
                size_note = (f"; live at {start} px: its whole-frame call {times[start] * 1000:.0f} ms "
                             f"{'fits' if fits else 'is the smallest, over'} {startup_budget * 1000:.0f} ms of the "
                             f"camera's {1000 / (capture.fps or DEFAULT_FPS):.0f} ms"
                             + ("" if start == max(times) else f" ({max(times)} px: {times[max(times)] * 1000:.0f} ms)")
                             + f"; the size follows the calls' time, the selfie model below {sizer.sizes[-1]} px")
            # timed as the mask thread runs it: one frame of a stream (a recurrent model's
            # predict() settles a photo over several runs), on streams of their own (the camera's
            # starts from a fresh state), the timed one new (a model may reuse a call on a
            # repeated frame: that is not its time)
            def new_stream() -> Predictor:
                stream = segmenter.stream()
                if sizer is not None and isinstance(stream, RvmStream):
                    stream.set_short(sizer.short)
                return stream

            new_stream().predict([warm])  # a first call at the camera's size (resizes, crop pass); keep it out of the live numbers
            started = time.perf_counter()
            warm_prob = new_stream().predict([warm])[0].alpha
            seconds = time.perf_counter() - started
            matte_config = config
            if sizer is not None and config.smoothing.strength == SmoothingConfig().strength:
                matte_config = dataclasses.replace(config, smoothing=dataclasses.replace(
                    config.smoothing, strength=LIVE_MATTING_SMOOTHING))
                size_note += f"; smoothing {LIVE_MATTING_SMOOTHING} (RVM's state carries the past)"
            matter = Matter(matte_config, edge_threshold=segmenter.edge_threshold)
            # one pass of the whole chain (the smoother's kernel is loaded when Matter is made; this
            # allocates the rest) so the first camera frames take their usual time and are not
            # queued up and dropped. Before the window opens, so that the window only appears once
            # frames are about to flow (closing it earlier went unseen)
            matter.warm_up(warm, warm_prob)
            if options.preview:
                preview = PreviewWindow(title="livebg")
            report(f"cam: {segmenter.describe()}{segmenter.stream_note}{size_note} ({reason}); "
                   f"about {seconds * 1000:.0f} ms a frame")
            outputs = [vcam.describe()] if vcam is not None else []
            if preview is not None:
                outputs.append("preview window (h: help, q: quit)")
            report(f"cam: {capture.name} {capture.width}x{capture.height} at {capture.fps:.2f} fps -> "
                f"{' + '.join(outputs) or 'nowhere'}; background {chooser.label()}; Ctrl-C stops")
            # a model the loop does not wait for (more than WAIT_FOR_MASK_SHARE of a frame
            # interval) runs behind the camera anyway, its masks used as they come: it yields the
            # CPU to the thread that composites and sends every frame
            # RVM sized to the camera's rate is waited for while its calls take up to LIVE_WAIT of an interval
            wait_share = LIVE_WAIT if sizer is not None else WAIT_FOR_MASK_SHARE
            slow = seconds > wait_share / (capture.fps or DEFAULT_FPS)
            # a matting model slower than the camera (RVM on a CPU): its masks are carried along
            # the optical flow onto the newer frames they are composited on
            carry = slow and isinstance(segmenter, RvmSegmenter)
            worker = MaskWorker(segmenter=segmenter, capture=capture, seconds=seconds, cut_threshold=config.smoothing.cut_threshold,
                                nice=SLOW_MODEL_NICE if slow else 0, sizer=sizer, fallback=fallback,
                                keep_grey=carry or sizer is not None, log=report)
            state = ViewState(mirror=options.mirror)
            loop = LiveLoop(capture=capture, worker=worker, matter=matter, chooser=chooser,
                            light_wrap=config.background.light_wrap,
                            harmonize=config.background.harmonize, vcam=vcam, preview=preview, state=state, stop=stop,
                            duration=options.duration, log=log)
            loop.carry = carry or sizer is not None
            loop.fallback_config = config
            loop.wait_share = wait_share
            if options.stats_log:
                loop.stats_log = (Path(options.stats_log).expanduser(), options.stats_every)
            if options.alpha_out:
                recorder = loop.alpha_out = AlphaRecorder(str(Path(options.alpha_out).expanduser()))
            if chooser.effect == "original":
                worker.paused.set()
            # the handlers stay until every device is released: a copy of the stop signal (`timeout`
            # sends two) landing in the cleanup must not cut it short
            signals = signal_scope.enter_context(StopOnSignal(stop))
            cpu_started, wall_started = _cpu_seconds(), time.perf_counter()
            worker.start()
            capture.start()
            loop.run()
            if signals.received is not None:
                loop.stop_reason = signal.Signals(signals.received).name
            finished = True
            cores = (_cpu_seconds() - cpu_started) / max(1e-6, time.perf_counter() - wall_started)
        finally:
            # Release in reverse order of dependence; each close() is safe to call twice.
            for resource in (capture, worker, vcam, preview, chooser):
                if resource is not None:
                    try:
                        resource.close()
                    except Exception as exc:  # keep releasing the others
                        log(f"closing {type(resource).__name__} failed: {exc}")
            if recorder is not None:  # the directory appears when the session ends, and not if it failed
                recorder.close(keep=finished)
                if recorder.error is not None and finished:
                    raise recorder.error
    summary = loop.stats.summary(frames_in=capture.frames_in, dropped=capture.dropped)
    summary.update({
        "masks": worker.masks,
        "segment_p50_ms": rounded_percentile(worker.predict_ms(), 50),
        "reopens": capture.reopens,
        "stop": loop.stop_reason or ("source failed" if capture.failure else ""),
        "source": capture.name,
        "width": capture.width,
        "height": capture.height,
        "source_fps": round(capture.fps, 3),
        "model": segmenter.name,
        "device": segmenter.device,
        "vcam": vcam.device if vcam is not None else None,
        "pixel_format": vcam.pixel_format if vcam is not None else None,
        "vcam_frames": vcam.frames if vcam is not None else 0,
        "alpha_out_frames": recorder.frames if recorder is not None else 0,
        "cpu_cores": round(cores, 2),  # CPU time of the whole process over the session's wall time
        "carried": loop.carried,  # frames whose (older) mask was carried along the optical flow
        "sizes": [change.short for change in worker.sizer.changes] if worker.sizer is not None else [],
        "live_size_start": worker.sizer.first if worker.sizer is not None else None,
        "live_size": (worker.sizer.short if worker.sizer is not None else getattr(worker.primary, "infer_size", 0)),
    })
    return LiveResult(summary=summary, failure=capture.failure, stop_reason=summary["stop"])


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
