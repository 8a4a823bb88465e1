"""Chunks on a Ray cluster: a pool of actors, each loading its model once.

One actor per GPU (``num_gpus=1``; the model runs there in float16, batched, as ``livebg video``
on CUDA), or on a node without GPUs one actor with all its cores (``--workers N``: N actors
sharing them). Only paths and small metadata go through Ray's object store: every node must
see the inputs and OUT_DIR at the same paths (shared storage, docs/scale.md). An actor whose
process dies is restarted and its chunk run again by Ray (``max_restarts``,
``max_task_retries``); a chunk that raised is given again by the driver; both bounded.

``ray`` is imported only here, and only when ``--ray`` (or RAY_ADDRESS) asks for it.
"""
from __future__ import annotations

import contextlib
import os
import socket
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from livebg.batch.chunk import CRASH_ONCE_ENV, ChunkResult, ChunkTask, ChunkWorker
from livebg.batch.runner import RETRIES, Event, Progress, Runner, gave_up
from livebg.errors import ConfigError, last_line, set_quiet

POLL_SECONDS = 0.25
INSTALL = "pip install 'livebg[cluster]'"


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--ray needs Ray, which is not installed here: {INSTALL}") from None
    return ray


def connect(address: str) -> bool:
    """Join the cluster at ``address`` (``auto``: the one this machine belongs to), or start a
    local instance (``local``). True when this call started or joined it (and should leave it)."""
    ray = import_ray()
    if ray.is_initialized():  # a program (or a test) that set Ray up itself
        return False
    options: dict[str, Any] = {"include_dashboard": False, "logging_level": "WARNING", "log_to_driver": True}
    try:
        ray.init(address=address, **options)
    except ConnectionError as exc:
        raise ConfigError(f"cannot reach a Ray cluster at {address} ({exc}): start one with `ray start --head`, "
                          f"or use --ray local") from None
    return True


class ChunkActor:
    """A Ray actor holding a ChunkWorker (Ray's remote() wraps it at run time)."""

    def __init__(self, threads: int, progress: Any):
        set_quiet(True)
        self.worker = ChunkWorker(threads=threads)
        self.progress = progress

    def run(self, task: ChunkTask) -> ChunkResult:
        return self.worker.run(task, self._report)

    def _report(self, key: tuple[str, int], frames: int) -> None:
        # progress is best effort: a full or lost queue never fails a chunk
        with contextlib.suppress(Exception):
            self.progress.put_nowait((key, frames))

    def host(self) -> str:
        return socket.gethostname()


class RayRunner(Runner):
    def __init__(self, address: str, *, per_node: int = 0):
        self.ray = import_ray()
        self.started = connect(address)
        self.per_node = per_node  # actors on each node without GPUs (0: one)
        self.actors: list[Any] = []
        self.slots: list[tuple[str, str]] = []  # (node id, what the actor has) of each actor, for describe()
        from ray.util.queue import Queue

        self.progress = Queue(actor_options={"num_cpus": 0})
        self._make_actors()

    def _make_actors(self) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        env = {k: os.environ[k] for k in (CRASH_ONCE_ENV,) if k in os.environ}
        actor_class = self.ray.remote(max_restarts=RETRIES, max_task_retries=RETRIES)(ChunkActor)
        for node in self.ray.nodes():
            if not node.get("Alive"):
                continue
            resources = node.get("Resources", {})
            cpus, gpus = int(resources.get("CPU", 0)), int(resources.get("GPU", 0))
            if cpus < 1:
                continue
            if gpus:
                count, options = gpus, {"num_gpus": 1, "num_cpus": max(1, cpus // gpus)}
            else:
                count = max(1, min(self.per_node or 1, cpus))
                options = {"num_cpus": max(1, cpus // count)}
            strategy = NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
            for _ in range(count):
                runtime = {"env_vars": env} if env else None
                self.actors.append(actor_class.options(scheduling_strategy=strategy, runtime_env=runtime, **options)
                                   .remote(options["num_cpus"], self.progress))
                self.slots.append((node["NodeID"], "1 GPU" if gpus else f"{options['num_cpus']} CPU"))
        if not self.actors:
            raise ConfigError("the Ray cluster has no node with a CPU to give: add nodes (`ray start --address ...`)")

    def describe(self) -> str:
        nodes = len({node for node, _ in self.slots})
        each = sorted({what for _, what in self.slots})
        return (f"{len(self.actors)} Ray actor{'s' if len(self.actors) > 1 else ''} on {nodes} node{'s' if nodes > 1 else ''} "
                f"({' or '.join(each)} each)")

    def run(self, tasks: Iterable[ChunkTask], wanted: Callable[[ChunkTask], bool]) -> Iterator[Event]:
        ray = self.ray
        pending = deque(tasks)
        idle = deque(self.actors)
        running: dict[Any, tuple[ChunkTask, Any]] = {}  # object ref -> (task, actor)
        attempts: Counter = Counter()
        while pending or running:
            while pending and idle:
                task = pending.popleft()
                if wanted(task):
                    actor = idle.popleft()
                    running[actor.run.remote(task)] = (task, actor)
            if not running:
                if pending and not idle:  # every actor died
                    for task in pending:
                        yield ChunkResult(task.job_id, task.number, error="no Ray worker is left to run it: "
                                          "check the cluster's nodes (`ray status`)")
                    pending.clear()
                continue
            finished, _ = ray.wait(list(running), num_returns=1, timeout=POLL_SECONDS)
            yield from self._read_progress()
            for ref in finished:
                task, actor = running.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayActorError as exc:  # died more often than it may restart
                    why = f"its Ray worker died: {last_line(exc)}"
                except ray.exceptions.RayError as exc:
                    idle.append(actor)
                    why = last_line(exc)
                else:
                    idle.append(actor)
                    yield result
                    continue
                attempts[task.key] += 1
                if attempts[task.key] > RETRIES:
                    yield gave_up(task, why)
                else:
                    pending.appendleft(task)
        yield from self._read_progress()

    def _read_progress(self) -> Iterator[Progress]:
        for key, frames in self.progress.get_nowait_batch(self.progress.qsize()) if self.progress.qsize() else []:
            yield Progress((key[0], key[1]), frames)

    def cancel(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor, no_restart=True)
        self.actors = []

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor, no_restart=True)
        self.actors = []
        with contextlib.suppress(Exception):  # already gone with the cluster
            self.ray.kill(self.progress.actor)
        if self.started:
            self.ray.shutdown()
            self.started = False
