"""The ASGI app of `livebg serve`, assembled: one server's context, its start and stop, the
routers, the error handlers and the middlewares.

Every error is JSON ``{"error": "<one line that says what to do>", "code": "<machine name>"}``
with a 4xx status for the client's mistakes (serve/errors.py); nothing of a refused request
stays on disk.
"""
from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.staticfiles import StaticFiles

from livebg import __version__
from livebg.serve.context import ServerContext
from livebg.serve.errors import add_error_handlers
from livebg.serve.middleware import FORM_SLACK, BodyLimit, RequestMetrics
from livebg.serve.models import ModelCache
from livebg.serve.routes import images, jobs, server
from livebg.serve.settings import ServeSettings

EXTRA_THREADS = 6  # worker threads beyond the photo slots: copying uploads, probing, answering files
HOUSEKEEPING_SECONDS = 5.0
DESCRIPTION = ("Replace the background of photos and videos. Errors are JSON {\"error\": one line, \"code\": name}. "
               "With a token, send `Authorization: Bearer TOKEN`.")


async def housekeeping(context: ServerContext) -> None:
    """Every few seconds, in a worker thread: the pool's idle threads are ended (anyio ends a
    thread idle for 10 s only when the pool is next used) and freed memory goes back to the
    system after a large request or a job (serve/memory.py)."""
    while True:
        await asyncio.sleep(HOUSEKEEPING_SECONDS)
        await run_in_threadpool(context.trimmer.trim_if_due)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    context: ServerContext = app.state.server
    settings = context.settings
    shutil.rmtree(context.tmp_dir, ignore_errors=True)  # a killed server's uploads in flight
    context.tmp_dir.mkdir(parents=True, exist_ok=True)
    # the worker threads of run_in_threadpool, bounded: photos hold at most their slots,
    # the rest is short work (copying uploads, probing, answering files)
    anyio.to_thread.current_default_thread_limiter().total_tokens = settings.photo_concurrency + EXTRA_THREADS
    context.manager.start()
    keeper = asyncio.create_task(housekeeping(context))
    announce = app.state.announce
    if announce is not None:
        announce()
    yield
    context.stopping = True
    keeper.cancel()
    await run_in_threadpool(context.manager.shutdown, settings.shutdown_grace)
    shutil.rmtree(context.tmp_dir, ignore_errors=True)


def create_app(settings: ServeSettings, *, models: ModelCache | None = None) -> FastAPI:
    """The app of one server with ``settings`` (``models``: a cache already holding the default)."""
    context = ServerContext.build(settings, models)
    app = FastAPI(title="livebg", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description=DESCRIPTION)
    app.state.server = context
    app.state.announce = None  # `livebg serve` sets it: the line that says where it listens
    app.state.manager = context.manager
    app.state.models = context.models
    app.state.metrics = context.metrics
    app.state.settings = settings

    add_error_handlers(app)
    app.include_router(images.router)
    app.include_router(jobs.router)
    app.include_router(server.router)
    app.mount("/static", StaticFiles(directory=str(server.STATIC)), name="static")

    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST", "DELETE"], allow_headers=["Authorization", "Content-Type"],
                           expose_headers=["Location", "Retry-After", "Content-Disposition"])
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes + FORM_SLACK, metrics=context.metrics)
    app.add_middleware(RequestMetrics, metrics=context.metrics, log=settings.access_log)
    return app
