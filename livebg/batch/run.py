"""The batch driver: plans every job's chunks, hands them to the workers, joins each job's
chunks as soon as all are written, and keeps the state file for ``--resume``.

It runs in one process (the one ``livebg batch`` starts), which alone writes the state file and
the outputs; workers write chunk files only.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from tqdm import tqdm

from livebg.batch.chunk import ChunkTask
from livebg.batch.join import join_chunks
from livebg.batch.plan import PREROLL_SECONDS, Job, plan_chunks, probe
from livebg.batch.runner import Progress, Runner
from livebg.batch.state import BatchState
from livebg.errors import LivebgError, say
from livebg.signals import first_stop_only
from livebg.sources.video import FrameRange


@dataclass
class JobRun:
    job: Job
    chunks: list[FrameRange] = field(default_factory=list)
    done: set[int] = field(default_factory=set)
    status: str = "waiting"  # waiting, written, failed, skipped
    error: str = ""
    damage: str = ""
    has_audio: bool = False
    rate: Fraction = Fraction(30)

    @property
    def frames(self) -> int:
        return sum(c.stop - c.start for c in self.chunks)


@dataclass
class BatchSummary:
    runs: list[JobRun]
    seconds: float
    frames: int  # frames written by this run (chunks done earlier not counted)
    model_frames: int  # frames through the model, pre-roll included
    interrupted: bool = False

    def of(self, status: str) -> list[JobRun]:
        return [r for r in self.runs if r.status == status]


def chunk_extension(output: Path) -> str:
    """Chunk files are written as the output will be, except Matroska's: it keeps times in
    milliseconds and no decoding times, so its chunks are MOV (the join writes the same
    milliseconds a single run's muxer does)."""
    ext = output.suffix.lower()
    return ".mov" if ext == ".mkv" else ext


def run_jobs(jobs: list[Job], out_dir: Path, runner: Runner, *, chunk_seconds: float, resume: bool,
             progress: bool = True, preroll_seconds: float = PREROLL_SECONDS) -> BatchSummary:
    """Run a batch to the end (or to Ctrl-C) and return what happened to each job; a second
    batch on the same OUT_DIR meanwhile is refused (OutputError)."""
    with BatchState(out_dir, resume=resume) as state:
        return _run_jobs(jobs, state, runner, chunk_seconds=chunk_seconds, resume=resume, progress=progress,
                         preroll_seconds=preroll_seconds)


def _run_jobs(jobs: list[Job], state: BatchState, runner: Runner, *, chunk_seconds: float, resume: bool,
              progress: bool, preroll_seconds: float) -> BatchSummary:
    started = time.perf_counter()
    runs = [JobRun(job) for job in jobs]
    tasks: list[ChunkTask] = []
    by_id: dict[str, JobRun] = {}
    for run in runs:
        job = run.job
        if resume and job.output.exists():
            run.status = "skipped"
            if job.id in state.jobs:  # written just before the stop: its chunks are not needed
                state.job_done(job.id)
            continue
        try:
            index = probe(job.input)
            run.has_audio = index.has_audio
        except LivebgError as exc:
            run.status, run.error = "failed", str(exc)
            continue
        run.rate = index.rate
        run.chunks = plan_chunks(index, chunk_seconds, preroll_seconds)
        run.done = state.start_job(job.id, job.input, job.output, run.chunks)
        by_id[job.id] = run
        chunk_config = job.config.override("output", audio=False)
        for number, frames in enumerate(run.chunks):
            if number not in run.done:
                path = state.chunk_path(job.id, number, chunk_extension(job.output))
                tasks.append(ChunkTask(job.id, number, str(job.input), str(path), chunk_config, frames))
    total = sum(r.frames for r in by_id.values())
    already = sum(r.chunks[n].stop - r.chunks[n].start for r in by_id.values() for n in r.done)
    chunk_total = sum(len(r.chunks) for r in by_id.values())
    interval = 0.5 if sys.stderr.isatty() else 2
    bar = tqdm(total=total, initial=already, unit="frame", file=sys.stderr, disable=not progress, dynamic_ncols=True,
               smoothing=0.1, desc="livebg batch", mininterval=interval)
    running: dict[tuple[str, int], int] = {}  # frames written so far by each running chunk
    written = model_frames = 0

    shown = 0.0

    def show(force: bool = False) -> None:
        nonlocal shown
        if not progress or (not force and time.monotonic() - shown < interval):
            return
        shown = time.monotonic()
        jobs_done = sum(r.status in ("written", "failed") for r in by_id.values())
        chunks_done = sum(len(r.done) for r in by_id.values())
        bar.n = already + written + sum(running.values())
        bar.set_postfix_str(f"jobs {jobs_done}/{len(by_id)}, chunks {chunks_done}/{chunk_total}", refresh=False)
        bar.refresh()

    def finish_job(run: JobRun) -> None:
        chunks = [state.chunk_path(run.job.id, n, chunk_extension(run.job.output)) for n in range(len(run.chunks))]
        try:
            join_chunks(chunks, run.job.output, audio_from=run.job.input if run.has_audio and run.job.config.output.audio else None,
                        rate=run.rate)
        except LivebgError as exc:
            run.status, run.error = "failed", str(exc)
            return
        run.status = "written"
        state.job_done(run.job.id)

    def drive() -> None:
        nonlocal written, model_frames
        for run in by_id.values():
            if len(run.done) == len(run.chunks):  # every chunk done in an earlier run
                finish_job(run)
        show(force=True)
        for event in runner.run(tasks, lambda task: by_id[task.job_id].status == "waiting"):
            if isinstance(event, Progress):
                running[event.key] = event.frames
            else:
                running.pop(event.key, None)
                run = by_id[event.job_id]
                if event.error:
                    if run.status == "waiting":
                        run.status, run.error = "failed", event.error
                else:
                    written += event.frames
                    model_frames += event.model_frames
                    if event.damage:
                        run.damage = run.damage or event.damage
                    run.done.add(event.number)
                    state.chunk_done(run.job.id, event.number)
                    if run.status == "waiting" and len(run.done) == len(run.chunks):
                        finish_job(run)
            show(force=not isinstance(event, Progress))
        show(force=True)

    interrupted = False
    # Ctrl-C or SIGTERM (a scheduler's stop, `timeout`, systemd): the first one stops the
    # workers; the chunks done and the jobs written stay, as the state file says (it is
    # replaced whole after each chunk), and --resume goes on. Later signals cannot cut the stop short.
    with first_stop_only([]):
        try:
            drive()
        except KeyboardInterrupt:
            interrupted = True
            bar.write("livebg: interrupted — stopping the workers; finished jobs are kept (--resume goes on)",
                      file=sys.stderr)
            runner.cancel()
            state.clean_partials()
        finally:
            bar.close()
    if not interrupted and not any(r.status == "failed" for r in runs):
        state.finish()
    return BatchSummary(runs, time.perf_counter() - started, written, model_frames, interrupted)


def report(summary: BatchSummary) -> None:
    """The batch's last lines: each failed job with its one-line error, then the counts."""
    for run in summary.of("written"):
        note = f" (the input is damaged: {run.damage})" if run.damage else ""
        say(f"wrote {run.job.output}{note}", detail=not note)
    for run in summary.of("failed"):
        say(f"failed: {run.job.origin}: {run.error}")
    left = [r for r in summary.runs if r.status == "waiting"]
    fps = summary.frames / summary.seconds if summary.seconds > 0 else 0.0
    parts = [f"{len(summary.of('written'))} written", f"{len(summary.of('failed'))} failed",
             f"{len(summary.of('skipped'))} skipped (output already there)"]
    if left:
        parts.append(f"{len(left)} not finished (interrupted: run again with --resume)")
    preroll = summary.model_frames - summary.frames
    overhead = f", pre-roll {preroll / summary.frames:.1%} more frames through the model" if summary.frames and preroll else ""
    say(f"batch: {', '.join(parts)} — {summary.frames} frames in {summary.seconds:.1f} s ({fps:.1f} fps){overhead}")
