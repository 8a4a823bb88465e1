"""`livebg image`: photos in, photos out, at full resolution with EXIF orientation applied."""
from __future__ import annotations

import os
import sys
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from livebg.composite.blend import Compositor
from livebg.composite.factory import open_background
from livebg.config import Config
from livebg.errors import InputError, LivebgError, OutputError, PhotosFailed, first_line
from livebg.frames.images import IMAGE_EXTENSIONS, read_image
from livebg.jobs.common import check_not_overwriting, detail, log
from livebg.matte.foreground import foreground_colour
from livebg.matte.matter import Matter
from livebg.output import is_partial
from livebg.segment.base import Segmenter
from livebg.segment.factory import load_segmenter
from livebg.sinks import VIDEO_EXTENSIONS, check_writable, write_image_atomic


def collect_images(inputs: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for spec in inputs:
        path = Path(spec).expanduser()
        if path.is_dir():
            entries = list(path.iterdir())
            # not macOS's ._IMG_1.jpg companions (resource forks, not pictures) nor livebg's own
            # partial outputs; other hidden photos are photos
            found = sorted(p for p in entries if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
                           and not p.name.startswith("._") and not is_partial(p))
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
    as_dir = output is not None and output.endswith(("/", os.sep))  # a trailing slash means a directory, whatever its name
    if output and not as_dir and Path(output).suffix.lower() in IMAGE_EXTENSIONS and not Path(output).is_dir():
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
    if output and not as_dir and Path(output).suffix and not directory.exists():
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
    first = _first_readable(files)  # the background is sized for it (each photo is fitted)
    h, w = first.shape[:2]
    background = open_background(config.background.spec, (w, h), fit="hold")
    if segmenter is None:
        segmenter, reason = load_segmenter(config.model)
        detail(f"{segmenter.describe()}{getattr(segmenter, 'photo_note', '')} — {reason}")
    if matting:
        from livebg.matte.photo import matting_compiled

        if not matting_compiled():
            log("--matting: pymatting compiles its code on its first run here (about 40 s on 2 cores); later runs reuse it")
    # photos are independent: no temporal smoothing between them
    matter = Matter(config.override("smoothing", method="none"), edge_threshold=segmenter.edge_threshold)
    compositor = Compositor(background, config.background.light_wrap, harmonize=config.background.harmonize)
    if compositor.harmonize_note():
        log(compositor.harmonize_note())
    directory = outputs[0].parent  # every photo goes into one directory
    made = not directory.exists()
    if made:
        directory.mkdir()
    written: list[Path] = []
    failed: list[tuple[Path, str]] = []
    bar = tqdm(list(zip(files, outputs)), unit="photo", file=sys.stderr, disable=not progress or len(files) < 2,
               desc="livebg")
    try:
        # each photo is a job of its own: a bad one is reported and the others are written
        for path, out in bar:
            try:
                _one_photo(path, out, segmenter, matter, compositor, matting)
            except LivebgError as exc:
                failed.append((path, str(exc)))
            except Exception as exc:  # a library's failure on one picture (pymatting, OpenCV)
                failed.append((path, f"{type(exc).__name__}: {first_line(exc, 160)}"))
            else:
                written.append(out)
                continue
            bar.write(f"livebg: {path.name}: {failed[-1][1]}", file=sys.stderr)
    except KeyboardInterrupt:
        log(f"interrupted: {len(written)} photo{'s' if len(written) != 1 else ''} written and kept, "
            f"{len(files) - len(written) - len(failed)} not done")
        raise
    finally:
        bar.close()
        background.close()
        if made and not any(directory.iterdir()):
            directory.rmdir()
    if written:
        detail(f"wrote {len(written)} photo{'s' if len(written) != 1 else ''}"
            + (f": {written[0]}" if len(written) == 1 else f" into {written[0].parent}"))
    if failed:
        names = ", ".join(p.name for p, _ in failed[:5]) + (", …" if len(failed) > 5 else "")
        raise PhotosFailed(f"{len(failed)} of {len(files)} photo{'s' if len(files) != 1 else ''} failed ({names}); "
                           f"{len(written)} written: see the line for each above", failed=failed, written=written)
    return written


def _first_readable(files: Sequence[Path]):
    """The first photo that can be read; the batch fails here only when none can."""
    errors = []
    for path in files:
        try:
            return read_image(path, error=InputError)
        except InputError as exc:
            errors.append(str(exc))
            if len(files) == 1:
                raise
    raise InputError(f"none of the {len(files)} photos can be read (first: {errors[0]})")


def replace_photo(image: np.ndarray, segmenter: Segmenter, matter: Matter, compositor: Compositor | None,
                  matting: bool) -> tuple[np.ndarray | None, np.ndarray]:
    """One photo (RGB uint8): the composited picture (None without a compositor) and its alpha
    (float32 HxW). ``matter`` must not smooth in time: photos are unrelated."""
    camera = image
    prob = segmenter.predict([image])[0].alpha
    alpha = matter(prob, image)
    if matting:
        from livebg.matte.photo import matte_photo

        alpha, image = matte_photo(image, alpha)  # with pymatting's estimate of the foreground's colour
    else:
        image = foreground_colour(image, alpha)  # the old background out of the edge pixels
    if compositor is None:
        return None, alpha
    compositor.reset()  # nothing carries over from the photo before
    # the blend of the colour estimated at the edge (backgrounds made from the frame are made
    # from it, as before); harmonisation measures the room on the photo as taken
    return compositor.blend(image, alpha, compositor.background.frame_at(Fraction(0), image), camera=camera), alpha


def _one_photo(path: Path, out: Path, segmenter: Segmenter, matter: Matter, compositor: Compositor,
               matting: bool) -> None:
    picture, alpha = replace_photo(read_image(path, error=InputError), segmenter, matter, compositor, matting)
    if float(alpha.max()) < 0.5:
        log(f"{path.name}: no person found: the output shows the background only")
    assert picture is not None
    write_image_atomic(out, picture)

