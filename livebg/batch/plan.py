"""What a batch is made of: jobs from the command line's inputs and JSONL manifests, each video
probed for the key frames it can be cut at, and the chunks it is cut into.

Only this small metadata travels to the workers (paths, a Config, frame ranges), never frames.
"""
from __future__ import annotations

import bisect
import glob as globlib
import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from livebg.config import SETTINGS, Config, apply_settings
from livebg.errors import ConfigError, InputError
from livebg.jobs.video import default_video_output
from livebg.media.container import open_media, read_failed, video_stream
from livebg.media.probe import frame_rate
from livebg.sinks import ALPHA_VIDEO_EXTENSIONS, VIDEO_EXTENSIONS
from livebg.sources.video import FrameRange

# Pre-roll before each chunk: frames run through the model and the matte before the chunk's
# first frame, so the recurrent state, the smoothing and the look-ahead are warm at the seam.
# Chosen from the seam measurements in docs/scale.md (mean |delta alpha| within 2 s of a seam).
PREROLL_SECONDS = 1.0
DEFAULT_CHUNK_SECONDS = 60.0
# a last piece shorter than this share of --chunk-seconds joins the chunk before it
MIN_LAST_CHUNK = 0.5

# outputs chunks can be joined into (AVI counts frames and keeps no timestamps of its own)
JOINABLE_EXTENSIONS = VIDEO_EXTENSIONS - {".avi"}
# inputs a folder contributes (its subfolders are not searched)
VIDEO_INPUT_EXTENSIONS = VIDEO_EXTENSIONS | {".mpg", ".mpeg", ".ts", ".mts", ".m2ts", ".wmv", ".flv", ".3gp"}


@dataclass(frozen=True)
class Job:
    """One input video and where its output goes, with its own settings (a manifest line's)."""
    input: Path
    output: Path
    config: Config
    origin: str  # how messages name where the job came from: the path, or "jobs.jsonl line 3"

    @property
    def id(self) -> str:
        """Stable across runs for the same input, output and settings (the state file's key)."""
        text = f"{self.input.resolve()}\n{self.output.resolve()}\n{self.config!r}"
        return hashlib.sha1(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class VideoIndex:
    """A video's frames as its packets list them: how many, and where it can be cut; and
    whether it has sound (the join carries it)."""
    frames: int
    rate: Fraction
    cuts: tuple[tuple[int, int], ...]  # (frame index, pts) of the key frames decoding can start at
    has_audio: bool = False


def probe(path: Path) -> VideoIndex:
    """Read the packets of the first video stream (no decoding): the frame count, and the key
    frames after which no packet shows a frame before them (closed GOPs: decoding from there
    gives every later frame, in order). Those are where chunks may start, and where a chunk's
    decoding may begin before its pre-roll."""
    container = open_media(path, name=str(path))
    with container:
        stream = video_stream(container, name=str(path))
        rate = frame_rate(stream)
        has_audio = bool(container.streams.audio)
        order: list[tuple[int, bool]] = []  # (pts, key) in decoding order
        try:
            for packet in container.demux(stream):
                if packet.size == 0 or packet.pts is None:
                    continue
                if packet.is_corrupt:
                    raise InputError(f"{path} is damaged (packet {len(order)}): use a complete copy of the file, "
                                     "or run `livebg video` on it to keep what decodes")
                order.append((int(packet.pts), bool(packet.is_keyframe)))
        except av.FFmpegError as exc:
            raise read_failed(exc, str(path)) from None
    if not order:
        raise InputError(f"{path} has no video frames: give a video that has at least one frame")
    ranked = sorted(pts for pts, _ in order)
    if len(set(ranked)) != len(ranked):  # two frames on one pts: indices by pts are ambiguous
        return VideoIndex(len(order), rate, ((0, ranked[0]),), has_audio)
    cuts = []
    later_min = math.inf
    for pts, key in reversed(order):
        later_min = min(later_min, pts)
        if key and later_min == pts:
            cuts.append((bisect.bisect_left(ranked, pts), pts))
    cuts.sort()
    if not cuts or cuts[0][0] != 0:
        cuts.insert(0, (0, ranked[0]))
    return VideoIndex(len(order), rate, tuple(cuts), has_audio)


def plan_chunks(index: VideoIndex, chunk_seconds: float, preroll_seconds: float = PREROLL_SECONDS) -> list[FrameRange]:
    """Cut at the usable key frames nearest every ``chunk_seconds`` (no chunk shorter than
    MIN_LAST_CHUNK of that); each chunk after the first gets a pre-roll of ``preroll_seconds``
    and decodes from the last usable key frame at or before its pre-roll."""
    step = max(1, round(chunk_seconds * index.rate))
    shortest = step * MIN_LAST_CHUNK
    preroll = max(0, round(preroll_seconds * index.rate))
    frames = [frame for frame, _ in index.cuts]
    starts = [0]
    while index.frames - starts[-1] >= step + shortest:
        lo = bisect.bisect_left(frames, starts[-1] + shortest)
        hi = bisect.bisect_right(frames, index.frames - shortest)
        if lo >= hi:
            break
        target = starts[-1] + step
        i = min(max(bisect.bisect_left(frames, target, lo, hi), lo), hi - 1)
        if i > lo and abs(frames[i - 1] - target) <= abs(frames[i] - target):
            i -= 1
        starts.append(frames[i])
    ranges = []
    for i, start in enumerate(starts):
        stop = starts[i + 1] if i + 1 < len(starts) else index.frames
        roll = min(preroll, start)
        seek_index, seek_pts = index.cuts[bisect.bisect_right(frames, start - roll) - 1]
        ranges.append(FrameRange(start, stop, roll, seek_index, seek_pts if seek_index else None))
    return ranges


# -- inputs ------------------------------------------------------------------------------------
def gather_jobs(inputs: Iterable[str], manifests: Iterable[str], out_dir: Path, config: Config) -> list[Job]:
    """The jobs of a batch: video files, folders of videos (not searched below), quoted globs,
    and JSONL manifests (a ``.jsonl`` among the inputs, or ``--manifest``). Every problem with
    the inputs is found here, before any work. Outputs that would collide are numbered."""
    jobs: list[Job] = []
    for spec in inputs:
        if spec.lower().endswith(".jsonl"):
            jobs += read_manifest(Path(spec), out_dir, config)
            continue
        for path in _expand(spec):
            jobs.append(Job(path, out_dir / default_video_output(str(path), _transparent(config)).name, config, str(path)))
    for manifest in manifests:
        jobs += read_manifest(Path(manifest), out_dir, config)
    if not jobs:
        raise InputError("no inputs: give videos, folders of videos, quoted globs or a JSONL manifest")
    return _numbered(jobs)


def _transparent(config: Config) -> bool:
    return config.background.bg.strip().lower() == "transparent"


def _expand(spec: str) -> list[Path]:
    path = Path(spec).expanduser()
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_INPUT_EXTENSIONS)
        if not found:
            raise InputError(f"{spec} holds no videos ({', '.join(sorted(VIDEO_INPUT_EXTENSIONS))}): give another folder")
        return found
    if any(ch in spec for ch in "*?[") and not path.exists():
        found = sorted(Path(p) for p in globlib.glob(str(path)) if Path(p).is_file())
        if not found:
            raise InputError(f"no files match {spec}: check the pattern (quote it so the shell does not expand it)")
        return found
    if not path.is_file():
        raise InputError(f"input not found: {spec} — check the path")
    return [path]


MANIFEST_KEYS = ("input", "output")


def read_manifest(path: Path, out_dir: Path, config: Config) -> list[Job]:
    """Jobs from a JSONL file: one JSON object a line, ``{"input": ..., "output": ..., <setting>:
    <value>, ...}`` with the settings under the command line's names (``bg``, ``crf``,
    ``bg_fit`` ...) overriding the command line's. Relative inputs are found beside the
    manifest, relative outputs in OUT_DIR. Every bad line is named by its number."""
    try:
        lines = path.expanduser().read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"manifest not found: {path} — check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the manifest {path} ({exc}): give a UTF-8 JSONL file") from None
    jobs, problems = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{path.name} line {number}"
        try:
            jobs.append(_manifest_job(line, path, out_dir, config, where))
        except (ConfigError, InputError) as exc:
            problems.append(f"{where}: {exc}")
    if problems:
        more = f" (and {len(problems) - 1} more bad line{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
        raise ConfigError(problems[0] + more)
    if not jobs:
        raise InputError(f"the manifest {path} lists no jobs: one JSON object a line, such as "
                         '{"input": "talk.mp4", "bg": "office.jpg"}')
    return jobs


def _manifest_job(line: str, manifest: Path, out_dir: Path, config: Config, where: str) -> Job:
    try:
        entry: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not JSON ({exc.msg} at column {exc.colno}): write one object a line, "
                          '{"input": "a.mp4", "bg": "beach.jpg"}') from None
    if not isinstance(entry, dict):
        raise ConfigError('a line must be a JSON object such as {"input": "a.mp4"}')
    if not isinstance(entry.get("input"), str) or not entry["input"].strip():
        raise ConfigError('no "input": every line names its video, {"input": "a.mp4", ...}')
    unknown = sorted(set(entry) - set(MANIFEST_KEYS) - set(SETTINGS))
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r}: use input, output and the settings "
                          f"({', '.join(sorted(SETTINGS))})")
    settings = {k: v for k, v in entry.items() if k in SETTINGS}
    if "alpha_out" in settings:
        raise ConfigError("alpha_out is not available in a batch: run `livebg video --alpha-out` for that video")
    base = manifest.expanduser().parent
    if isinstance(settings.get("bg"), str):
        bg = Path(settings["bg"]).expanduser()
        if not bg.is_absolute() and (base / bg).exists():
            settings["bg"] = str(base / bg)
    job_config = apply_settings(config, **settings)
    source = Path(entry["input"]).expanduser()
    source = source if source.is_absolute() else base / source
    if not source.is_file():
        raise InputError(f"input not found: {source} — check the path (relative inputs are read beside the manifest)")
    output = entry.get("output")
    if output is not None and (not isinstance(output, str) or not output.strip()):
        raise ConfigError('"output" must be a file name such as "a_livebg.mp4"')
    if output is None:
        target = out_dir / default_video_output(str(source), _transparent(job_config)).name
    else:
        target = Path(output).expanduser()
        target = target if target.is_absolute() else out_dir / target
        if target.suffix.lower() not in VIDEO_EXTENSIONS:
            raise ConfigError(f'"output" {output}: use a video extension ({", ".join(sorted(JOINABLE_EXTENSIONS))})')
        if target.suffix.lower() not in JOINABLE_EXTENSIONS:
            raise ConfigError(f'"output" {output}: AVI keeps no timestamps, so chunks cannot be joined into it: '
                              f'use .mp4, .mkv or .mov')
        if _transparent(job_config) and target.suffix.lower() not in ALPHA_VIDEO_EXTENSIONS:
            raise ConfigError(f'"output" {output} cannot keep transparency: use .mov (ProRes 4444) or .webm (VP9)')
    return Job(source, target, job_config, where)


def _numbered(jobs: list[Job]) -> list[Job]:
    """Jobs whose outputs would be the same file get _2, _3 ... in input order (stable across
    runs, so --resume finds them); an output that is its own input is refused."""
    seen: dict[Path, int] = {}
    out = []
    for job in jobs:
        if job.output.resolve() == job.input.resolve():
            raise ConfigError(f"{job.origin}: the output {job.output} is the input itself: choose another name")
        key = job.output.resolve()
        count = seen.get(key, 0) + 1
        seen[key] = count
        if count > 1:
            renamed = job.output.with_name(f"{job.output.stem}_{count}{job.output.suffix}")
            seen[renamed.resolve()] = 1
            job = Job(job.input, renamed, job.config, job.origin)
        out.append(job)
    return out
