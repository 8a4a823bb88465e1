"""Video jobs of the server: a bounded queue, N worker threads, and each job's files and state
on disk under ``DATA_DIR/jobs/ID/`` (``job.json``, the input, the background, the result).

A job's result appears under its final name only when `run_video` has finished it (it writes
to a temporary name and renames), and a job is "done" only after that, so a half-written file
is never served. A restart keeps finished jobs until they expire; jobs that were queued or
running when the server stopped are marked failed.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from livebg.config import Config, apply_settings
from livebg.errors import Cancelled, LivebgError, first_line, say
from livebg.output import remove_partials, write_atomic
from livebg.serve.metrics import Metrics
from livebg.serve.models import ModelCache

STATES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")
SAVE_EVERY = 2.0  # seconds between job.json writes while a job runs (state changes write at once)


def owner_of(token: str | None) -> str:
    """Who owns a job: a hash of the client's token ("" without auth); never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()[:16] if token else ""


def new_id() -> str:
    return secrets.token_urlsafe(18)  # 144 random bits: not guessable


@dataclass
class Job:
    id: str
    owner: str
    input_name: str
    settings: dict[str, Any]
    result_name: str
    state: str = "queued"
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    frames_done: int = 0
    frames_total: int | None = None
    fps: float = 0.0
    error: str = ""
    input_file: str = ""
    bg_file: str = ""
    result_file: str = "result.mp4"

    def eta(self) -> float | None:
        if self.state != "running" or not self.fps or not self.frames_total:
            return None
        return max(0.0, (self.frames_total - self.frames_done) / self.fps)

    def public(self) -> dict[str, Any]:
        eta = self.eta()
        return {
            "id": self.id, "state": self.state, "input": self.input_name,
            "frames_done": self.frames_done, "frames_total": self.frames_total,
            "progress": round(self.frames_done / self.frames_total, 4) if self.frames_total else None,
            "fps": round(self.fps, 2), "eta_seconds": None if eta is None else round(eta, 1),
            "error": self.error or None,
            "created": self.created, "started": self.started, "finished": self.finished,
            "url": f"/v1/jobs/{self.id}", "events_url": f"/v1/jobs/{self.id}/events",
            "result_url": f"/v1/jobs/{self.id}/result" if self.state == "done" else None,
            "result_name": self.result_name if self.state == "done" else None,
        }


class QueueFull(Exception):
    def __init__(self, retry_after: int):
        super().__init__("the video queue is full")
        self.retry_after = retry_after


class JobManager:
    def __init__(self, data_dir: Path, *, base: Config, models: ModelCache, metrics: Metrics, workers: int,
                 queue_size: int, retention_seconds: float):
        self.root = data_dir / "jobs"
        self.root.mkdir(parents=True, exist_ok=True)
        self.base = base
        self.models = models
        self.metrics = metrics
        self.workers = workers
        self.retention = retention_seconds
        self.queue_size = queue_size
        # the ids of the live queued jobs, oldest first: a job leaves it when a worker takes it
        # or when it is deleted, so a deleted job's slot is free at once
        self._waiting: deque[str] = deque()
        self._jobs: dict[str, Job] = {}
        self._cancel: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)  # a job was queued, or the server stops
        self._threads: list[threading.Thread] = []
        self._closing = threading.Event()
        self._saved: dict[str, float] = {}
        self.on_finished: Callable[[], None] = lambda: None  # after each job a worker ran (memory trim)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._recover()
        for n in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"livebg-job-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        janitor = threading.Thread(target=self._janitor, name="livebg-janitor", daemon=True)
        janitor.start()
        self._threads.append(janitor)

    def shutdown(self, grace: float) -> None:
        """Stop taking jobs; queued ones fail at once, running ones get ``grace`` seconds to
        finish and are then cancelled and marked failed (their partial files removed)."""
        with self._ready:
            self._closing.set()
            waiting = list(self._waiting)
            self._waiting.clear()
            self._ready.notify_all()
        for job_id in waiting:
            self._finish(job_id, "failed", error="the server stopped before the job ran: submit it again")
        deadline = time.monotonic() + grace
        for thread in self._threads:
            if thread.name.startswith("livebg-job"):
                thread.join(max(0.0, deadline - time.monotonic()))
        for event in list(self._cancel.values()):
            event.set()
        for thread in self._threads:
            if thread.name.startswith("livebg-job"):
                thread.join(10)

    def _recover(self) -> None:
        for job_dir in sorted(self.root.iterdir()):
            meta = job_dir / "job.json"
            try:
                job = Job(**json.loads(meta.read_text()))
            except (OSError, ValueError, TypeError):
                shutil.rmtree(job_dir, ignore_errors=True)  # a job whose record never got written
                continue
            if job.state in ("queued", "running"):
                job.state, job.finished = "failed", time.time()
                job.error = "the server stopped before the job finished: submit it again"
                for name in (job.input_file, job.bg_file):
                    if name:
                        (job_dir / name).unlink(missing_ok=True)
                remove_partials(job_dir)
            self._jobs[job.id] = job
            self._save(job)
        self._count_states()

    # -- the API's side ----------------------------------------------------------------------
    def job_dir(self, job_id: str) -> Path:
        return self.root / job_id

    def submit(self, job: Job) -> None:
        """Queue a job, or raise QueueFull when ``queue_size`` live jobs are already waiting
        (the job's folder is then removed)."""
        with self._ready:
            full = self._closing.is_set() or len(self._waiting) >= self.queue_size
            if not full:
                self._jobs[job.id] = job
                self._cancel[job.id] = threading.Event()
                self._save(job, force=True)  # its record first: a worker may take it at once
                self._waiting.append(job.id)
                self._ready.notify()
        if full:
            shutil.rmtree(self.job_dir(job.id), ignore_errors=True)
            raise QueueFull(5 if self._closing.is_set() else self.retry_after())
        self._count_states()

    def retry_after(self) -> int:
        """Seconds until a worker is likely free: the soonest running job's ETA (at least 1)."""
        etas = [eta for job in self._jobs.values() if (eta := job.eta()) is not None]
        return max(1, int(min(etas) + 1)) if etas else 10

    def get(self, job_id: str, owner: str) -> Job | None:
        job = self._jobs.get(job_id)
        if job is None or not secrets.compare_digest(job.owner, owner):
            return None  # another client's job is as unknown as a missing one
        return job

    def queue_full(self) -> bool:
        return len(self._waiting) >= self.queue_size

    def all_jobs(self) -> list[Job]:
        return list(self._jobs.values())

    def queue_depth(self) -> int:
        """Live jobs waiting for a worker (a deleted one no longer counts)."""
        return len(self._waiting)

    def delete(self, job: Job) -> None:
        """Cancel (when queued or running) and remove the job and its files; a queued job's
        place in the queue is free at once."""
        with self._lock:
            event = self._cancel.pop(job.id, None) if job.state == "queued" else self._cancel.get(job.id)
            running = job.state == "running"
            if job.state == "queued":
                job.state = "cancelled"
                with contextlib.suppress(ValueError):
                    self._waiting.remove(job.id)
            self._jobs.pop(job.id, None)
        if event is not None:
            event.set()
        if not running:  # a running job's worker removes its folder when run_video has let go of it
            shutil.rmtree(self.job_dir(job.id), ignore_errors=True)
        self._count_states()

    # -- workers -----------------------------------------------------------------------------
    def _work(self) -> None:
        from livebg.jobs.video import run_video

        while True:
            with self._ready:
                while not self._waiting and not self._closing.is_set():
                    self._ready.wait()
                if self._closing.is_set():
                    return
                job_id = self._waiting.popleft()
                job = self._jobs[job_id]
                cancel = self._cancel[job_id]
                job.state, job.started = "running", time.time()
            self._save(job, force=True)
            job_dir = self.job_dir(job_id)
            try:
                config = self.job_config(job)
                segmenter = self.models.get(config.model)
                started = time.monotonic()

                def on_frame(done: int, total: int | None, job: Job = job, started: float = started) -> None:
                    job.frames_done, job.frames_total = done, total or job.frames_total
                    job.fps = done / max(1e-6, time.monotonic() - started)
                    self.metrics.frames.inc()
                    self._save(job)

                run_video(str(job_dir / job.input_file), job_dir / job.result_file, config,
                                   segmenter=segmenter, progress=False, on_frame=on_frame, cancel=cancel)
                self._finish(job_id, "done")
            except Cancelled:
                if self._closing.is_set() and job_id in self._jobs:
                    self._finish(job_id, "failed", error="the server stopped while the job ran: submit it again")
                else:
                    self._finish(job_id, "cancelled")
            except LivebgError as exc:
                self._finish(job_id, "failed", error=self._client_text(job, str(exc)))
            except Exception as exc:  # noqa: BLE001 - a library's failure: the job fails, the server goes on
                self._finish(job_id, "failed", error=f"{type(exc).__name__}: {first_line(exc, 200)}")
                say(f"job {job_id} failed: {type(exc).__name__}: {first_line(exc, 200)}", error=True)
            finally:
                if job_id not in self._jobs:  # deleted while it ran
                    shutil.rmtree(job_dir, ignore_errors=True)
                self.on_finished()

    def job_config(self, job: Job) -> Config:
        """The job's settings over the server's; strict: damage found while decoding (checked
        only in part at upload) fails the job rather than serving a result with garbled frames."""
        settings = {"strict": True, **job.settings}
        if job.bg_file:
            settings["bg"] = str(self.job_dir(job.id) / job.bg_file)
        return apply_settings(self.base, **settings)

    def _client_text(self, job: Job, text: str) -> str:
        """An error line as the client may see it: the server's paths replaced by the names the
        client gave (the input's file name, ``bg_file``)."""
        job_dir = self.job_dir(job.id)
        if job.input_file:
            text = text.replace(str(job_dir / job.input_file), job.input_name)
        if job.bg_file:
            text = text.replace(str(job_dir / job.bg_file), "bg_file")
        return text.replace(str(job_dir) + "/", "").replace(str(self.root), "data")

    def _finish(self, job_id: str, state: str, error: str = "") -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            self._cancel.pop(job_id, None)
        if job is None:
            return
        job.state, job.finished, job.error = state, time.time(), error
        job_dir = self.job_dir(job_id)
        for name in (job.input_file, job.bg_file):  # the result is all a finished job keeps
            if name:
                (job_dir / name).unlink(missing_ok=True)
        remove_partials(job_dir)
        if state != "done":
            (job_dir / job.result_file).unlink(missing_ok=True)
        self._save(job, force=True)
        self._count_states()
        took = f" in {job.finished - job.started:.1f} s" if job.started else ""
        say(f"job {job_id}: {state}{took}, {job.frames_done} frames" + (f": {error}" if error else ""))

    # -- records ----------------------------------------------------------------------------
    def _save(self, job: Job, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._saved.get(job.id, 0.0) < SAVE_EVERY:
            return
        self._saved[job.id] = now
        job_dir = self.job_dir(job.id)
        if not job_dir.is_dir():
            return
        try:
            write_atomic(job_dir / "job.json", json.dumps(asdict(job)), error=None)
        except OSError as exc:
            say(f"cannot save job {job.id}'s state ({exc.strerror}): check --data-dir", error=True)
        self._count_states()

    def _count_states(self) -> None:
        counts = dict.fromkeys(STATES, 0)
        for job in list(self._jobs.values()):
            counts[job.state] = counts.get(job.state, 0) + 1
        for state, n in counts.items():
            self.metrics.jobs.labels(state=state).set(n)
        self.metrics.queue_depth.set(len(self._waiting))

    def _janitor(self) -> None:
        while not self._closing.wait(30):
            self.expire()

    def expire(self, now: float | None = None) -> list[str]:
        """Remove finished jobs older than the retention time; returns their ids."""
        now = time.time() if now is None else now
        gone = []
        for job in list(self._jobs.values()):
            if job.state in FINISHED and job.finished is not None and now - job.finished > self.retention:
                with self._lock:
                    self._jobs.pop(job.id, None)
                shutil.rmtree(self.job_dir(job.id), ignore_errors=True)
                gone.append(job.id)
        if gone:
            self._count_states()
        return gone
