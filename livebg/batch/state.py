"""The batch's state file in OUT_DIR, for ``--resume``: each job's chunk plan and which chunks
are done, written (atomically) by the one process that drives the batch after every chunk.
That process holds OUT_DIR's lock (filelock) while it runs: a second batch on the same OUT_DIR
is refused at once instead of sharing the state file and the chunks.

A job whose output exists is done (outputs appear only when complete). A chunk is done when
the state lists it and its file is there; a job's chunks count only while its input is the
same file (size and modification time) and its plan the same (the job id covers the input,
output and settings).
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from filelock import FileLock, Timeout

from livebg.errors import OutputError, reason
from livebg.output import remove_partials, write_atomic
from livebg.sources.video import FrameRange

STATE_NAME = ".livebg-batch.json"
WORK_NAME = ".livebg-batch"  # chunk files, one folder per job
LOCK_NAME = ".livebg-batch.lock"  # held by the driver while the batch runs; removed when it ends
VERSION = 1


@dataclass
class JobState:
    input: str
    output: str
    stamp: list[int]  # the input's size and modification time (ns)
    chunks: list[list[int]]  # (start, stop) of each chunk
    done: set[int] = field(default_factory=set)

    def to_json(self) -> dict:
        return {"input": self.input, "output": self.output, "stamp": self.stamp, "chunks": self.chunks,
                "done": sorted(self.done)}


def input_stamp(path: Path) -> list[int]:
    info = path.stat()
    return [info.st_size, info.st_mtime_ns]


class BatchState:
    """The state of one OUT_DIR's batch; ``resume`` False starts afresh (chunks of an earlier
    run are removed). It holds OUT_DIR's lock until ``close()`` (or the end of a ``with``)."""

    def __init__(self, out_dir: Path, *, resume: bool):
        self.path = out_dir / STATE_NAME
        self.work = out_dir / WORK_NAME
        self.jobs: dict[str, JobState] = {}
        self._lock = FileLock(out_dir / LOCK_NAME, timeout=0, thread_local=False)
        try:
            self._lock.acquire()
        except Timeout:
            raise OutputError(f"another livebg batch is running in {out_dir}: wait for it to end, or give "
                              f"another -o folder") from None
        except OSError as exc:
            raise OutputError(f"cannot lock {out_dir / LOCK_NAME} ({exc.strerror or exc}): check the folder's "
                              f"permissions") from None
        if resume:
            self.jobs = self._load()
        else:
            self.path.unlink(missing_ok=True)
            shutil.rmtree(self.work, ignore_errors=True)

    def _load(self) -> dict[str, JobState]:
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("version") != VERSION:
                raise ValueError(f"version {data.get('version')}")
            return {key: JobState(j["input"], j["output"], list(j["stamp"]), [list(c) for c in j["chunks"]], set(j["done"]))
                    for key, j in data["jobs"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise OutputError(f"the state file {self.path} cannot be read ({exc}): delete it and run without --resume") from None

    def chunk_dir(self, job_id: str) -> Path:
        return self.work / job_id

    def chunk_path(self, job_id: str, number: int, ext: str) -> Path:
        return self.chunk_dir(job_id) / f"chunk-{number:05d}{ext}"

    def start_job(self, job_id: str, input_path: Path, output: Path, chunks: list[FrameRange]) -> set[int]:
        """Record a job's plan; returns the chunks already done (kept from an earlier run when
        the plan and the input are the same, and their files are there)."""
        stamp = input_stamp(input_path)
        plan = [[c.start, c.stop] for c in chunks]
        old = self.jobs.get(job_id)
        done: set[int] = set()
        folder = self.chunk_dir(job_id)
        if old is not None and old.stamp == stamp and old.chunks == plan:
            done = {n for n in old.done if any(folder.glob(f"chunk-{n:05d}.*"))}
        elif folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        remove_partials(folder, stale_only=True)
        self.jobs[job_id] = JobState(str(input_path), str(output), stamp, plan, done)
        self.save()
        return done

    def chunk_done(self, job_id: str, number: int) -> None:
        self.jobs[job_id].done.add(number)
        self.save()

    def job_done(self, job_id: str) -> None:
        """The job's output is written: forget it and remove its chunks."""
        self.jobs.pop(job_id, None)
        shutil.rmtree(self.chunk_dir(job_id), ignore_errors=True)
        self.save()

    def save(self) -> None:
        data = {"version": VERSION, "jobs": {k: j.to_json() for k, j in self.jobs.items()}}
        # a stop signal too leaves the old state file whole, and no temporary
        write_atomic(self.path, json.dumps(data, indent=1), error=_state_write_failed)

    def finish(self) -> None:
        """Nothing is left to resume: remove the state file and the work folder."""
        if not self.jobs:
            self.path.unlink(missing_ok=True)
            shutil.rmtree(self.work, ignore_errors=True)

    def clean_partials(self) -> None:
        """Remove the half-written chunk files of workers that were stopped (Ctrl-C)."""
        for job_id in self.jobs:
            remove_partials(self.chunk_dir(job_id))

    def close(self) -> None:
        """Let another batch use OUT_DIR. The lock file goes first, while still held: a driver
        that opened it meanwhile finds its inode unlinked and takes the new one (filelock checks)."""
        if self._lock.is_locked:
            Path(self._lock.lock_file).unlink(missing_ok=True)
            self._lock.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _state_write_failed(path: Path, exc: BaseException) -> OutputError:
    return OutputError(f"cannot write the state file {path} ({reason(exc)}): check the disk space and the folder's "
                       f"permissions")
