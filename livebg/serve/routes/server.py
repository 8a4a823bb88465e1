"""About the server itself: its models, its health, its metrics, and the web page and API docs
(served from serve/static, nothing from elsewhere)."""
from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from livebg import __version__
from livebg.segment.weights import describe_models
from livebg.serve.auth import Owner, client
from livebg.serve.context import Server
from livebg.serve.models import REQUEST_MODELS

STATIC = resources.files("livebg.serve") / "static"
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
                               "style-src 'self'; script-src 'self'; connect-src 'self' blob:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter()


@router.get("/v1/models", summary="Models, where their weights come from, and which are here")
async def list_models(server: Server, owner: Owner) -> JSONResponse:
    models = server.models
    rows = await run_in_threadpool(describe_models)
    default, reason = await run_in_threadpool(models.load, server.settings.base.model)
    return JSONResponse({"default": {"describe": default.describe(), "reason": reason},
                         "loaded": models.loaded(), "models": rows, "request_names": list(REQUEST_MODELS)})


@router.get("/healthz", summary="Liveness: the server answers and its workers run")
async def healthz(server: Server) -> JSONResponse:
    return JSONResponse({"status": "stopping" if server.stopping else "ok", "version": __version__,
                         "queue_depth": server.manager.queue_depth(), "workers": server.workers})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus(request: Request, server: Server) -> Response:
    await client(request)
    return Response(generate_latest(server.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page() -> HTMLResponse:
    return HTMLResponse((STATIC / "index.html").read_text(), headers=PAGE_HEADERS)


@router.get("/docs", response_class=HTMLResponse, include_in_schema=False)
async def docs() -> HTMLResponse:
    return HTMLResponse((STATIC / "docs.html").read_text(), headers=PAGE_HEADERS)
