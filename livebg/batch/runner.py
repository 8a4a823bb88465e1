"""What the batch driver asks of a pool of workers, local processes or Ray actors: run chunk
tasks, report frames as they are written, and the result of each chunk, trying again (a
bounded number of times) a chunk whose worker died or failed unexpectedly.
"""
from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from livebg.batch.chunk import ChunkResult, ChunkTask

# times a chunk is tried again after its worker died or raised something unexpected (errors
# livebg explains, such as a corrupt input, are not tried again: they would fail the same way)
RETRIES = 2


@dataclass(frozen=True)
class Progress:
    key: tuple[str, int]  # (job id, chunk number)
    frames: int  # frames the chunk has written so far (from 0 again when it is tried again)


Event = ChunkResult | Progress


class Runner(abc.ABC):
    """A pool of workers. ``run`` gives every task to a worker as one comes free, skipping those
    ``wanted`` no longer wants when their turn comes (their job failed), and yields Progress
    and, for each task run, its ChunkResult (``error`` set when it failed for good)."""

    @abc.abstractmethod
    def describe(self) -> str:
        """One line: where the chunks run, how many at a time."""

    @abc.abstractmethod
    def run(self, tasks: Iterable[ChunkTask], wanted: Callable[[ChunkTask], bool]) -> Iterator[Event]: ...

    @abc.abstractmethod
    def cancel(self) -> None:
        """Stop every running chunk now (Ctrl-C); their half-written files are left to the driver."""

    def close(self) -> None:
        """Release the workers; safe to call twice."""


def gave_up(task: ChunkTask, why: str) -> ChunkResult:
    return ChunkResult(task.job_id, task.number, error=f"chunk {task.number} failed {RETRIES + 1} times ({why}): "
                                                        f"see the worker's messages above")
