"""File jobs: a video (or image sequence) in, an encoded video or PNG frames out; photos in
and out. Used by the CLI and the Python API.

Video jobs run decode -> segment (batched) -> matte (smoothing + refinement) -> composite ->
encode, one thread each (see pipeline.py).
"""
from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from tqdm import tqdm

from .compositing import IMAGE_EXTENSIONS, open_background, read_image
from .config import SEQUENCE_FPS, Config
from .errors import InputError, OutputError
from .matte import Compositor, I420Compositor, Matter
from .pipeline import run_stages
from .segmentation import I420Image, Segmenter, load_segmenter, stream_note, stream_predictor
from .sinks import ALPHA_VIDEO_EXTENSIONS, VIDEO_EXTENSIONS, check_writable, open_frame_sink, plan_output, write_image_atomic
from .sources import Frame, VideoFileSource, is_photo, open_source


def log(message: str) -> None:
    print(f"livebg: {message}", file=sys.stderr, flush=True)


@dataclass
class VideoResult:
    output: Path | None
    alpha_output: Path | None
    frames: int
    seconds: float  # from the first frame to the closed files (the encoders' flush included)
    interrupted: bool = False
    cpu_seconds: float = 0.0  # CPU time of the whole process (all threads) over ``seconds``
    stage_cpu: dict[str, float] | None = None  # CPU seconds of each pipeline thread, by name

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def remove_output(path: Path) -> None:
    """Delete a finished output (a file, or a directory of frames)."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def frames_text(n: int) -> str:
    return f"{n} frame{'' if n == 1 else 's'}"


def default_video_output(input_spec: str, transparent: bool) -> Path:
    stem = Path(input_spec.rstrip("/")).stem.replace("*", "") or "frames"
    return Path(f"{stem}_livebg{'.mov' if transparent else '.mp4'}")


def check_not_overwriting(output: Path, flag: str, input_spec: str | None, bg_spec: str) -> None:
    """Refuse an output path that is the input or the background file: the finished output
    replaces it (it is written under a temporary name, then renamed)."""
    target = output.expanduser().resolve()
    if input_spec is not None and target == Path(input_spec).expanduser().resolve():
        raise OutputError(f"{flag} {output} is the input itself and would be overwritten: choose another path")
    if bg_spec and Path(bg_spec).expanduser().is_file() and target == Path(bg_spec).expanduser().resolve():
        raise OutputError(f"{flag} {output} is the background file and would be overwritten: choose another path")


def segment_stage(segmenter: Segmenter):
    """Batch frames, run the model, emit (frame, probability) pairs in order. Frames that came as
    YUV go to segmenters that can read the planes as they are (the ONNX ones)."""
    predictor = stream_predictor(segmenter)
    planes = getattr(segmenter, "reads_planes", False)

    def view(frame: Frame):
        return I420Image(frame.yuv) if planes and frame.image is None else frame.rgb()

    def stage(frames: Iterator[Frame]):
        batch: list[Frame] = []
        for frame in frames:
            batch.append(frame)
            if len(batch) >= segmenter.batch_size:
                yield from zip(batch, predictor.predict([view(f) for f in batch]))
                batch = []
        if batch:
            yield from zip(batch, predictor.predict([view(f) for f in batch]))

    stage.__name__ = "segment"
    return stage


def run_video(input_spec: str, output: str | Path | None, config: Config, *,
              segmenter: Segmenter | None = None, progress: bool = True) -> VideoResult:
    """Replace the background of every frame of a video file or image sequence."""
    config.validate()
    bg_spec = config.background.bg
    transparent = bg_spec.strip().lower() == "transparent"
    source = open_source(input_spec, fps=config.output.fps or SEQUENCE_FPS)
    if isinstance(source, VideoFileSource) and config.output.fps:
        log(f"fps {config.output.fps:g} (--fps or the preset) is for image sequences and photos: "
            f"{source.name} keeps its own {float(source.rate):.3f} fps")
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
        background = open_background(bg_spec, (source.width, source.height), fit=config.background.fit,
                                     input_duration=source.duration)
        if segmenter is None:
            segmenter, reason = load_segmenter(config.model)
            log(f"{segmenter.describe()}{stream_note(segmenter)} — {reason}")
        audio = Path(source.name) if (config.output.audio and source.has_audio and out_plan.kind == "video") else None
        common = dict(width=source.width, height=source.height, rate=source.rate, base_rate=source.base_rate,
                      time_base=source.time_base,
                      crf=config.output.crf, preset=config.output.preset)
        sink = open_frame_sink(out_plan, alpha=transparent, audio_from=audio, **common)
        sinks.append(sink)
        alpha_sink = open_frame_sink(alpha_plan, gray=True, **common) if alpha_plan else None
        if alpha_sink:
            sinks.append(alpha_sink)
        log(f"{source.name}: {source.width}x{source.height} at {float(source.rate):.3f} fps, "
            f"{frames_text(source.frame_count) if source.frame_count else 'an unknown number of frames'} -> {out_plan.label}"
            + (f" (audio {'copied' if sink.audio.copy else 're-encoded'})" if getattr(sink, "audio", None) else ""))

        matter = Matter(config)
        compositor = Compositor(background, config.refine.light_wrap,
                                device="cuda" if segmenter.device == "cuda" else None)
        # Frames the decoder gives as YUV 4:2:0, going to an encoder that takes it, stay YUV:
        # the matte is left as low-resolution coefficients and one compiled pass upsamples it,
        # blends and writes the encoder's planes (I420Compositor). Anything else (alpha out,
        # light wrap, GPU blend, PNG frames, odd sizes) takes the RGB path.
        fast = (getattr(sink, "takes_i420", False) and alpha_sink is None and not transparent
                and not config.refine.light_wrap and compositor.device is None)
        i420 = I420Compositor(background) if fast else None

        def matte_stage(items):
            # the Y plane gives coefficients for the YUV path, the RGB frame an alpha
            yield from matter.stream((frame, prob, frame.yuv[:frame.height] if i420 is not None and frame.yuv is not None
                                      else frame.rgb()) for frame, prob in items)

        def composite_stage(items):
            for frame, matte in items:
                if isinstance(matte, tuple):  # coefficients: the YUV path
                    yield frame, None, i420(frame.image, frame.yuv, matte, frame.time)
                else:
                    yield frame, matte, compositor(frame.rgb(), matte, frame.time)

        bar = tqdm(total=source.frame_count or None, unit="frame", file=sys.stderr, disable=not progress,
                   dynamic_ncols=True, smoothing=0.1, desc="livebg", mininterval=0.5 if sys.stderr.isatty() else 2)

        def encode_stage(items):
            for frame, alpha, image in items:
                if alpha is None:
                    sink.write_i420(image, frame.pts)
                else:
                    sink.write(image, frame.pts)
                if alpha_sink:
                    alpha_sink.write(np.clip(alpha * 255 + 0.5, 0, 255).astype(np.uint8), frame.pts)
                bar.update(1)
            return
            yield

        started = time.perf_counter()
        cpu_started = time.process_time()

        def on_interrupt(_):
            bar.write("livebg: interrupted — finishing the frames in flight and closing the file (Ctrl-C again to abandon it)",
                      file=sys.stderr)  # tqdm.write defaults to stdout

        try:
            pipeline = run_stages(source, [segment_stage(segmenter), matte_stage, composite_stage, encode_stage],
                                  on_interrupt=on_interrupt)
        finally:
            bar.close()
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
        # the encoders' flush counts: x264 holds the last dozen or so frames until close
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        result = VideoResult(out_path, alpha_path, sink.frames, elapsed, pipeline.interrupted, cpu,
                             dict(pipeline.cpu_seconds))
        held = "the file holds the frames done so far and plays" if out_plan.kind == "video" else "the frames done so far"
        note = f" (interrupted: {held})" if result.interrupted else ""
        log(f"wrote {out_plan.label}{f' and {alpha_plan.label}' if alpha_path else ''}: {frames_text(result.frames)} in "
            f"{elapsed:.1f} s ({result.fps:.1f} fps){note}")
        return result
    except BaseException:
        for sink in sinks:
            sink.abort()
        raise
    finally:
        if background is not None:
            background.close()
        source.close()


def collect_images(inputs: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for spec in inputs:
        path = Path(spec).expanduser()
        if path.is_dir():
            entries = list(path.iterdir())
            found = sorted(p for p in entries if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
            if not found:
                raise InputError(f"{path} holds no images: give JPEG/PNG photos or a directory of them")
            photos = set(found)
            rest = [p for p in entries if p not in photos and not p.name.startswith(".")]  # not .DS_Store and the like
            folders = sum(p.is_dir() for p in rest)
            others = len(rest) - folders
            if folders or others:
                skipped = [f"{n} {word}{'s' if n > 1 else ''}" for n, word in ((folders, "folder"), (others, "other file")) if n]
                log(f"{spec}: {len(found)} photo{'s' if len(found) > 1 else ''}; skipped {' and '.join(skipped)} "
                    f"(subfolders are not searched: name them too to include them)")
            files.extend(found)
        elif path.is_file():
            if path.suffix.lower() in VIDEO_EXTENSIONS:
                raise InputError(f"{path} is a video: use `livebg video {spec}` for it (`livebg image` takes photos)")
            files.append(path)
        else:
            raise InputError(f"input not found: {spec} — check the path")
    return files


def image_outputs(files: Sequence[Path], output: str | None, transparent: bool) -> list[Path]:
    """Where each photo goes: one file, or a directory of <name>_livebg.<ext>."""
    ext = ".png" if transparent else None
    if output and Path(output).suffix.lower() in IMAGE_EXTENSIONS and not Path(output).is_dir():
        out = Path(output).expanduser()
        if len(files) > 1:
            raise OutputError(f"{len(files)} photos cannot go into one file {out}: give a directory with -o")
        if not out.parent.is_dir():
            raise OutputError(f"output directory {out.parent} does not exist: create it first or choose another path")
        check_writable(out.parent)
        if transparent and out.suffix.lower() not in (".png", ".webp", ".tif", ".tiff"):
            raise OutputError(f"{out.name} cannot keep transparency: use a .png file")
        return [out]
    directory = Path(output).expanduser() if output else Path(".")
    if output and Path(output).suffix and not directory.exists():
        raise OutputError(f"output extension {Path(output).suffix} is not an image format: use .png or .jpg, or a directory")
    if not directory.exists():  # made when the photos are written (run_images), not by a job that fails first
        if not directory.parent.is_dir():
            raise OutputError(f"output directory {directory.parent} does not exist: create it first or choose another path")
        check_writable(directory.parent)
    else:
        check_writable(directory)
    return unique_names([directory / f"{f.stem}_livebg{ext or ('.png' if f.suffix.lower() == '.png' else '.jpg')}"
                         for f in files])


def unique_names(paths: list[Path]) -> list[Path]:
    """``paths`` with later duplicates numbered (x_livebg.jpg, x_livebg_2.jpg, …): photos named
    alike (x.jpg and x.webp, or a/p.jpg and b/p.jpg) must not overwrite each other's result.
    Compared without case, as macOS and Windows file systems do. (A numbered name cannot equal
    another photo's plain one: those all end in ``_livebg``.)"""
    seen: set[str] = set()
    out = []
    for path in paths:
        candidate, n = path, 1
        while str(candidate).lower() in seen:
            n += 1
            candidate = path.with_name(f"{path.stem}_{n}{path.suffix}")
        seen.add(str(candidate).lower())
        out.append(candidate)
    return out


def run_images(inputs: Sequence[str], output: str | None, config: Config, *,
               segmenter: Segmenter | None = None, progress: bool = True, matting: bool = False) -> list[Path]:
    """Replace the background of photos; keeps resolution and EXIF orientation."""
    config.validate()
    transparent = config.background.bg.strip().lower() == "transparent"
    files = collect_images(inputs)
    outputs = image_outputs(files, output, transparent)
    for path, out in zip(files, outputs):
        if len(files) > 1 and out.stem != f"{path.stem}_livebg":
            log(f"{path.name} -> {out.name}: another photo has the name {path.stem} too")
    inputs_resolved = {f.resolve() for f in files}
    for out in outputs:
        if out.resolve() in inputs_resolved:
            raise OutputError(f"-o {out} is one of the input photos and would be overwritten: choose another path")
        check_not_overwriting(out, "-o", None, config.background.bg)
    images = [read_image(f, error=InputError) for f in files[:1]]  # fail early on a bad first file
    h, w = images[0].shape[:2]
    background = open_background(config.background.bg, (w, h), fit="hold")
    if segmenter is None:
        segmenter, reason = load_segmenter(config.model)
        log(f"{segmenter.describe()} — {reason}")
    if matting:
        from .refine import matting_compiled

        if not matting_compiled():
            log("--matting: pymatting compiles its code on its first run here (about 40 s on 2 cores); later runs reuse it")
    written = []
    # photos are independent: no temporal smoothing between them
    matter = Matter(config.override("smoothing", method="none"))
    compositor = Compositor(background, config.refine.light_wrap)
    directory = outputs[0].parent  # every photo goes into one directory
    made = not directory.exists()
    if made:
        directory.mkdir()
    try:
        for path, out in tqdm(list(zip(files, outputs)), unit="photo", file=sys.stderr,
                              disable=not progress or len(files) < 2, desc="livebg"):
            image = read_image(path, error=InputError)
            prob = segmenter.predict([image])[0]
            if matting:
                from .refine import matte_photo

                alpha, image = matte_photo(image, prob)
            else:
                alpha = matter(prob, image)
            result = compositor(image, alpha, Fraction(0))
            write_image_atomic(out, result)
            written.append(out)
    except BaseException:
        # a batch is one job: a bad photo (or Ctrl-C) leaves none of this run's outputs behind
        for out in written:
            out.unlink(missing_ok=True)
        if made and not any(directory.iterdir()):
            directory.rmdir()
        raise
    finally:
        background.close()
    log(f"wrote {len(written)} photo{'s' if len(written) != 1 else ''}" + (f": {written[0]}" if len(written) == 1 else f" into {written[0].parent}"))
    return written


__all__ = ["run_video", "run_images", "VideoResult", "ALPHA_VIDEO_EXTENSIONS"]
