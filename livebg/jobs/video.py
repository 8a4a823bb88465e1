"""`livebg video`: decode -> segment (batched) -> matte (smoothing + refinement) -> composite ->
encode, one thread each (pipeline.py), along the YUV or the RGB chain (chains.py).
"""
from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from tqdm import tqdm

from livebg.composite.blend import Compositor
from livebg.composite.factory import open_background
from livebg.composite.i420 import I420Compositor
from livebg.config import SEQUENCE_FPS, Config
from livebg.errors import Cancelled, InputError, OutputError
from livebg.jobs.chains import rgb_chain, yuv_chain
from livebg.jobs.common import (
    check_not_overwriting,
    detail,
    frames_text,
    log,
    remove_output,
)
from livebg.matte.matter import Matter
from livebg.pipeline import run_stages
from livebg.segment.base import Segmenter
from livebg.segment.factory import load_segmenter
from livebg.signals import Caught, second_stop, signals_noted
from livebg.sinks import VideoFileSink, open_frame_sink, plan_output
from livebg.sources import FrameSource, is_photo, open_source
from livebg.sources.video import FrameRange


@dataclass
class VideoResult:
    output: Path | None
    alpha_output: Path | None
    frames: int
    seconds: float  # from the first frame to the closed files (the encoders' flush included)
    interrupted: bool = False
    cpu_seconds: float = 0.0  # CPU time of the whole process (all threads) over ``seconds``
    stage_cpu: dict[str, float] | None = None  # CPU seconds of each pipeline thread, by name
    damage: str = ""  # how the input was damaged ("": it was not); the CLI exits with 4 then

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def default_video_output(input_spec: str, transparent: bool) -> Path:
    stem = Path(input_spec.rstrip("/")).stem.replace("*", "") or "frames"
    return Path(f"{stem}_livebg{'.mov' if transparent else '.mp4'}")


def run_video(input_spec: str, output: str | Path | None, config: Config, *,
              segmenter: Segmenter | None = None, progress: bool = True,
              on_frame: Callable[[int, int | None], None] | None = None,
              cancel: threading.Event | None = None, frames: FrameRange | None = None) -> VideoResult:
    """Replace the background of every frame of a video file or image sequence.

    ``on_frame(done, total)`` is called after each frame is written (``total``: the input's
    frame count when known); setting ``cancel`` stops the job, removes its outputs and raises
    ``Cancelled``. A given ``segmenter`` may be shared: the job takes a stream of its own.
    ``frames``: only that part of a video file (a ``livebg batch`` chunk); its pre-roll goes
    through the model and the matte, warming their state, and is not written."""
    config.validate()
    bg_spec = config.background.bg
    transparent = bg_spec.strip().lower() == "transparent"
    source = open_source(input_spec, fps=config.input.fps or SEQUENCE_FPS, strict=config.input.strict)
    if source.own_rate and config.input.fps:
        log(f"fps {config.input.fps:g} (--fps or the preset) is for image sequences and photos: "
            f"{source.name} keeps its own {float(source.rate):.3f} fps")
    if frames is not None and not source.seekable:
        source.close()
        raise InputError(f"{input_spec}: a frame range needs a video file, not an image sequence")
    if is_photo(input_spec):
        log(f"{Path(input_spec).name} is a single photo: the output is a one-frame video (`livebg image` makes photos)")
    sinks = []
    background = None
    try:
        out_plan = plan_output(output or default_video_output(input_spec, transparent), transparent=transparent)
        alpha_plan = plan_output(config.output.alpha_out, transparent=False, what="--alpha-out") if config.output.alpha_out else None
        if alpha_plan and alpha_plan.path.resolve() == out_plan.path.resolve():
            raise OutputError("--alpha-out and -o name the same path: choose two different ones")
        for plan, flag in ((out_plan, "-o"), (alpha_plan, "--alpha-out")):
            if plan:
                check_not_overwriting(plan.path, flag, input_spec, bg_spec)
        background = open_background(config.background.spec, (source.width, source.height), fit=config.background.fit,
                                     input_duration=source.duration)
        if segmenter is None:
            segmenter, reason = load_segmenter(config.model)
            detail(f"{segmenter.describe()}{segmenter.stream_note} — {reason}")
        audio = Path(source.name) if (config.output.audio and source.has_audio and out_plan.kind == "video") else None
        if config.output.audio and source.has_audio and out_plan.kind == "frames":
            log(f"{out_plan.label} holds no sound: {Path(source.name).name}'s audio is not kept "
                f"(write a video file to keep it, or --no-audio to say so)")
        common: dict[str, Any] = dict(width=source.width, height=source.height, rate=source.rate, base_rate=source.base_rate,
                      time_base=source.time_base,
                      crf=config.output.crf, preset=config.output.preset)
        sink = open_frame_sink(out_plan, alpha=transparent, audio_from=audio, **common)
        sinks.append(sink)
        alpha_sink = open_frame_sink(alpha_plan, gray=True, **common) if alpha_plan else None
        if alpha_sink:
            sinks.append(alpha_sink)
        if not source.orientation.upright:
            stored_width, stored_height = source.stored_size()
            log(f"{source.name} is stored {stored_width}x{stored_height} and {source.orientation.describe()} "
                f"for display (a phone video): livebg works on it upright, {source.width}x{source.height}")
        detail(f"{source.name}: {source.width}x{source.height} at {float(source.rate):.3f} fps, "
            f"{frames_text(source.frame_count) if source.frame_count else 'an unknown number of frames'} -> {out_plan.label}"
            + (f" (audio {'copied' if sink.audio.copy else 're-encoded'})" if isinstance(sink, VideoFileSink) and sink.audio else ""))

        matter = Matter(config, edge_threshold=segmenter.edge_threshold)
        if frames is not None:
            source.restrict(frames, tail=matter.frames_held)
        compositor = Compositor(background, config.background.light_wrap,
                                device="cuda" if segmenter.device == "cuda" else None,
                                harmonize=config.background.harmonize)
        if compositor.harmonize_note():
            log(compositor.harmonize_note())
        total = source.frame_count or None
        keep = range(frames.start, frames.stop) if frames is not None else None
        done = 0

        def frame_written():
            nonlocal done
            bar.update(1)
            done += 1
            if on_frame is not None:
                on_frame(done, total)

        bar = tqdm(total=total, unit="frame", file=sys.stderr, disable=not progress,
                   dynamic_ncols=True, smoothing=0.1, desc="livebg", mininterval=0.5 if sys.stderr.isatty() else 2)
        # The one place the chain is chosen: frames the decoder gives as YUV 4:2:0, going to an
        # encoder that takes it as it is, stay YUV from end to end (jobs/chains.py).
        if (source.gives_yuv and sink.takes_i420 and alpha_sink is None and not transparent
                and not config.background.light_wrap and not compositor.harmonizes and compositor.device is None):
            stages = yuv_chain(segmenter, matter, I420Compositor(background), sink, frame_written, keep=keep)
        else:
            stages = rgb_chain(segmenter, matter, compositor, sink, alpha_sink, frame_written,
                               planes=source.gives_yuv, keep=keep)

        started = time.perf_counter()
        cpu_started = time.process_time()

        def on_interrupt(_):
            bar.write("livebg: interrupted — finishing the frames in flight and closing the file (Ctrl-C again to abandon it)",
                      file=sys.stderr)  # tqdm.write defaults to stdout

        # Stop signals are noted from the first frame until the files are closed: a first Ctrl-C
        # while the encoders flush lets them finish; a second one abandons the files after.
        caught: list[Caught] = []
        with signals_noted(caught):
            try:
                pipeline = run_stages(source, stages, on_interrupt=on_interrupt, cancel=cancel)
            finally:
                bar.close()
            if cancel is not None and cancel.is_set():
                raise Cancelled("the job was cancelled; nothing was kept")
            if pipeline.stop_event.is_set():  # abandoned by a second Ctrl-C
                raise KeyboardInterrupt
            if sink.frames == 0:
                raise InputError(f"{source.name}: no frames were processed; nothing was written")
            out_path = sink.close()
            try:
                alpha_path = alpha_sink.close() if alpha_sink else None
            except BaseException:
                remove_output(out_path)  # one job, one result: not the video without its matte
                raise
        if second_stop(caught):  # while the files were being finished
            for path in (out_path, alpha_path):
                if path is not None:
                    remove_output(path)
            raise KeyboardInterrupt
        # the encoders' flush counts: x264 holds the last dozen or so frames until close
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        result = VideoResult(out_path, alpha_path, sink.frames, elapsed, bool(caught), cpu,
                             dict(pipeline.cpu_seconds), damage=damage_note(source))
        held = "the file holds the frames done so far and plays" if out_plan.kind == "video" else "the frames done so far"
        note = f" (interrupted: {held})" if result.interrupted else ""
        detail(f"wrote {out_plan.label}{f' and {alpha_plan.label}' if alpha_plan and alpha_path else ''}: {frames_text(result.frames)} in "
            f"{elapsed:.1f} s ({result.fps:.1f} fps){note}")
        if result.damage:
            log(f"the input is damaged: {result.damage}")
        return result
    except BaseException:
        for sink in sinks:
            sink.abort()
        raise
    finally:
        if background is not None:
            background.close()
        source.close()


def damage_note(source: FrameSource) -> str:
    """What a damaged input cost, in a line ("" for an intact one)."""
    parts = []
    if source.damaged:
        spans = ", ".join(f"{a}-{b}" if b > a else f"{a}" for a, b in source.damaged[:4])
        count = sum(b - a + 1 for a, b in source.damaged)
        parts.append(f"{frames_text(count)} ({spans}) decoded from damaged data and may look garbled")
    if source.stopped:
        parts.append(f"it ends early, {source.stopped}: the output holds the frames before that")
    if not parts:
        return ""
    return "; ".join(parts) + " (use a complete copy of the file; --strict fails instead)"
