"""One chunk of one video, run in a worker that keeps its models loaded between chunks.

A chunk is ``run_video`` over a frame range: the pre-roll warms the model and the matte, and
only the chunk's own frames are encoded, without audio (``join.py`` muxes it once over the
whole). Workers are local processes (``local_runner.py``) or Ray actors (``ray_runner.py``);
both hold a ``ChunkWorker``.
"""
from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from livebg.config import Config, ModelConfig
from livebg.errors import InputError, LivebgError, OutputError
from livebg.jobs.video import run_video
from livebg.segment.base import Segmenter
from livebg.segment.factory import load_segmenter
from livebg.sources.video import FrameRange

# Test hook: "N:MARKER" makes the worker process end itself (os._exit) halfway through chunk N,
# once: only while the file MARKER does not exist (it is created first). The batch tests use it
# to check that a chunk whose worker died is run again.
CRASH_ONCE_ENV = "LIVEBG_BATCH_CRASH_ONCE"
REPORT_SECONDS = 0.5  # how often a running chunk reports its frames


@dataclass(frozen=True)
class ChunkTask:
    """What a worker needs for one chunk: paths and small metadata, never frames."""
    job_id: str
    number: int  # the chunk's place in its job, from 0
    input: str
    path: str  # the chunk file to write (in OUT_DIR's work folder)
    config: Config
    frames: FrameRange

    @property
    def key(self) -> tuple[str, int]:
        return self.job_id, self.number

    @property
    def size(self) -> int:
        """Frames the chunk writes."""
        return self.frames.stop - self.frames.start


@dataclass(frozen=True)
class ChunkResult:
    job_id: str
    number: int
    frames: int = 0
    seconds: float = 0.0
    model_frames: int = 0  # frames through the model: the chunk's and its pre-roll's
    damage: str = ""  # frames decoded from damaged data ("": none)
    error: str = ""  # a LivebgError's one line: the job fails, the chunk is not tried again

    @property
    def key(self) -> tuple[str, int]:
        return self.job_id, self.number


Report = Callable[[tuple[str, int], int], None]  # (chunk key, frames written so far)


class ChunkWorker:
    """Runs chunks one after another in one process, loading each model once (one per model
    setting met) and reusing it: a job takes a stream of its own from it (``run_video``)."""

    def __init__(self, *, threads: int = 0):
        self.threads = threads  # ONNX Runtime threads when the settings leave them automatic
        self._models: dict[ModelConfig, Segmenter] = {}

    def segmenter(self, config: ModelConfig) -> Segmenter:
        if config not in self._models:
            self._models[config] = load_segmenter(config)[0]
        return self._models[config]

    def run(self, task: ChunkTask, report: Report) -> ChunkResult:
        """Write the task's chunk file. A LivebgError (the input, the output, the settings)
        comes back in ``error``, since running it again would fail the same way; anything else
        is raised, for the runner to try the chunk again."""
        try:
            return self._run(task, report)
        except LivebgError as exc:
            return ChunkResult(task.job_id, task.number, error=str(exc))

    def _run(self, task: ChunkTask, report: Report) -> ChunkResult:
        check_shared_storage(task)
        config = task.config
        if self.threads and not config.model.threads:
            config = replace(config, model=replace(config.model, threads=self.threads))
        crash_at = _crash_hook(task)
        last = time.monotonic()

        def on_frame(done: int, total: int | None) -> None:
            nonlocal last
            if crash_at is not None and done == crash_at:
                os._exit(1)
            now = time.monotonic()
            if now - last >= REPORT_SECONDS:
                last = now
                report(task.key, done)

        result = run_video(task.input, task.path, config, segmenter=self.segmenter(config.model), progress=False,
                           on_frame=on_frame, frames=task.frames)
        report(task.key, result.frames)
        if result.frames != task.size:
            Path(task.path).unlink(missing_ok=True)
            raise InputError(f"{task.input} is truncated or corrupt: chunk {task.number} gave {result.frames} of its "
                             f"{task.size} frames ({result.damage or 'the file ends early'}): use a complete copy of "
                             f"the file, or run `livebg video` on it to keep what decodes")
        return ChunkResult(task.job_id, task.number, result.frames, result.seconds,
                           task.size + task.frames.preroll, result.damage)


def check_shared_storage(task: ChunkTask) -> None:
    """Refuse at once, naming the machine, when this worker cannot read the input or write the
    chunk: every worker must see the inputs and OUT_DIR at the same paths."""
    host = socket.gethostname()
    hint = "every worker must see the inputs and the output folder at the same paths (shared storage, see docs/scale.md)"
    if not os.access(task.input, os.R_OK):
        raise InputError(f"{host} cannot read {task.input}: {hint}")
    folder = Path(task.path).parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{host} cannot write into {folder}: {hint}")


def _crash_hook(task: ChunkTask) -> int | None:
    """The frame count at which this chunk ends its process (CRASH_ONCE_ENV), else None."""
    value = os.environ.get(CRASH_ONCE_ENV, "")
    number, _, marker = value.partition(":")
    if not marker or not number.isdigit() or int(number) != task.number or os.path.exists(marker):
        return None
    Path(marker).touch()
    return max(1, task.size // 2)
