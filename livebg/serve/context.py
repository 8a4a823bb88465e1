"""What one server holds while it runs (its settings, models, job manager, metrics, the photo
slots and the counters of waiting photos and open event streams), kept on ``app.state.server``
and handed to the routes by FastAPI's dependency injection (``Server``)."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from livebg.serve.jobs import JobManager
from livebg.serve.memory import Trimmer
from livebg.serve.metrics import Metrics
from livebg.serve.models import ModelCache
from livebg.serve.settings import ServeSettings


@dataclass
class ServerContext:
    settings: ServeSettings
    metrics: Metrics
    models: ModelCache
    manager: JobManager
    trimmer: Trimmer
    photo_slots: asyncio.Semaphore
    photo_waiting: int = 0  # photos waiting for a slot (counted on the event loop: no lock)
    event_streams: int = 0  # event streams open now
    stopping: bool = False  # the server is shutting down: streams end, /healthz says so
    workers: int = field(init=False)

    def __post_init__(self) -> None:
        self.workers = self.settings.workers or 1

    @property
    def tmp_dir(self) -> Path:
        """Uploads of requests in flight (emptied when the server starts and stops)."""
        return self.settings.data_dir / "tmp"

    @classmethod
    def build(cls, settings: ServeSettings, models: ModelCache | None = None) -> ServerContext:
        metrics = Metrics()
        models = models or ModelCache()
        manager = JobManager(settings.data_dir, base=settings.base, models=models, metrics=metrics,
                             workers=settings.workers or 1, queue_size=settings.queue_size,
                             retention_seconds=settings.retention_hours * 3600)
        trimmer = Trimmer()
        manager.on_finished = trimmer.note  # a video job's buffers are freed when it ends
        return cls(settings=settings, metrics=metrics, models=models, manager=manager, trimmer=trimmer,
                   photo_slots=asyncio.Semaphore(settings.photo_concurrency))


async def current_server(request: Request) -> ServerContext:
    """The server this request came to (async: FastAPI runs a plain function in a worker thread)."""
    return request.app.state.server


Server = Annotated[ServerContext, Depends(current_server)]
