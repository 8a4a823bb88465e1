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
import contextlib
import dataclasses
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np

from livebg.config import Config
from livebg.errors import DeviceError, say
from livebg.live.chooser import BackgroundChooser
from livebg.live.loop import LiveLoop, LiveResult, ViewState
from livebg.live.mask import SLOW_MODEL_NICE, WAIT_FOR_MASK_SHARE, MaskWorker
from livebg.live.options import LiveOptions, options_from_args
from livebg.live.stats import _percentile, stats_line
from livebg.matte.matter import Matter
from livebg.signals import StopOnSignal
from livebg.sources.camera import LiveCapture, open_capture_device


def _limit_torch_threads(segmenter, threads: int) -> None:
    # A torchvision model takes every core by default and starves the compositing thread; leave one free.
    from livebg.segment.onnx_model import inference_threads
    from livebg.segment.torch_model import TorchSegmenter

    if isinstance(segmenter, TorchSegmenter) and segmenter.device == "cpu":
        import torch

        torch.set_num_threads(inference_threads(threads))


def run_live(options: LiveOptions, config: Config, *, log: Callable[[str], None] = say) -> LiveResult:
    """Run the live path until the duration, the end of the source, q/Esc, a closed window or a signal."""
    from livebg.segment.factory import load_segmenter
    from livebg.segment.onnx_model import inference_threads
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
            # the model leaves a core to the compositing thread (RVM takes every core in file jobs,
            # where it is the bottleneck; live, the camera's rate comes first)
            model_config = dataclasses.replace(config.model, threads=inference_threads(config.model.threads))
            segmenter, reason = load_segmenter(model_config, live=True)
            _limit_torch_threads(segmenter, model_config.threads)
            warm = np.zeros((capture.height, capture.width, 3), np.uint8)
            # timed as the mask thread runs it: one frame of a stream (a recurrent model's
            # predict() settles a photo over several runs), on streams of their own (the camera's
            # starts from a fresh state), the timed one new (a model may reuse a call on a
            # repeated frame: that is not its time)
            segmenter.stream().predict([warm])  # a first call at the camera's size (resizes, crop pass); keep it out of the live numbers
            started = time.perf_counter()
            warm_prob = segmenter.stream().predict([warm])[0]
            seconds = time.perf_counter() - started
            matter = Matter(config, edge_threshold=segmenter.edge_threshold)
            # one pass of the whole chain (the smoother's kernel is loaded when Matter is made; this
            # allocates the rest) so the first camera frames take their usual time and are not
            # queued up and dropped. Before the window opens, so that the window only appears once
            # frames are about to flow (closing it earlier went unseen)
            matter.warm_up(warm, warm_prob)
            if options.preview:
                preview = PreviewWindow(title="livebg")
            report(f"cam: {segmenter.describe()}{segmenter.stream_note} ({reason}); about {seconds * 1000:.0f} ms a frame")
            outputs = [vcam.describe()] if vcam is not None else []
            if preview is not None:
                outputs.append("preview window (h: help, q: quit)")
            report(f"cam: {capture.name} {capture.width}x{capture.height} at {capture.fps:.2f} fps -> "
                f"{' + '.join(outputs) or 'nowhere'}; background {chooser.label()}; Ctrl-C stops")
            # a model the loop does not wait for (more than WAIT_FOR_MASK_SHARE of a frame
            # interval) runs behind the camera anyway, its masks used as they come: it yields the
            # CPU to the thread that composites and sends every frame
            slow = seconds > WAIT_FOR_MASK_SHARE / (capture.fps or 30.0)
            worker = MaskWorker(segmenter=segmenter, capture=capture, seconds=seconds,
                                nice=SLOW_MODEL_NICE if slow else 0)
            state = ViewState(mirror=options.mirror)
            loop = LiveLoop(capture=capture, worker=worker, matter=matter, chooser=chooser,
                            light_wrap=config.background.light_wrap, vcam=vcam, preview=preview, state=state, stop=stop,
                            duration=options.duration, log=log)
            if options.stats_log:
                loop.stats_log = (Path(options.stats_log).expanduser(), options.stats_every)
            if chooser.effect == "original":
                worker.paused.set()
            # the handlers stay until every device is released: a copy of the stop signal (`timeout`
            # sends two) landing in the cleanup must not cut it short
            signals = signal_scope.enter_context(StopOnSignal(stop))
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
        "model": segmenter.name,
        "device": segmenter.device,
        "vcam": vcam.device if vcam is not None else None,
        "pixel_format": vcam.pixel_format if vcam is not None else None,
        "vcam_frames": vcam.frames if vcam is not None else 0,
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
