"""The server's errors and how each becomes an answer: JSON ``{"error": "<one line that says
what to do>", "code": "<machine name>"}``, a 4xx status for the client's mistakes, and the
refusal counted in the metrics by its reason."""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from livebg.errors import LivebgError, say
from livebg.errors import first_line
from livebg.serve.jobs import QueueFull
from livebg.serve.media import MediaError
from livebg.serve.metrics import Metrics


class ApiError(Exception):
    """A request refused by a route, with its status, code and headers."""

    def __init__(self, status: int, message: str, code: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.headers = status, code, headers or {}


class FormRefused(StarletteHTTPException):
    """A request body refused while it streams in (its size, its number of form parts)."""

    def __init__(self, status: int, message: str, code: str):
        super().__init__(status, message)
        self.code = code


def error_response(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "code": code}, status_code=status, headers=headers)


def _metrics(request: Request) -> Metrics:
    return request.app.state.server.metrics


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    _metrics(request).rejections.labels(reason=exc.code).inc()
    return error_response(exc.status, str(exc), exc.code, exc.headers)


async def _media_error(request: Request, exc: MediaError) -> JSONResponse:
    _metrics(request).rejections.labels(reason=exc.code).inc()
    return error_response(exc.status, str(exc), exc.code)


async def _livebg_error(request: Request, exc: LivebgError) -> JSONResponse:  # a setting livebg refuses
    _metrics(request).rejections.labels(reason="bad_setting").inc()
    return error_response(400, str(exc).replace("--", ""), "bad_setting")


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
    _metrics(request).rejections.labels(reason="bad_field").inc()
    return error_response(422, f"{where}: {first.get('msg', 'invalid')}", "bad_field")


async def _form_refused(request: Request, exc: FormRefused) -> JSONResponse:
    return error_response(exc.status_code, str(exc.detail), exc.code, {"Connection": "close"})


async def _queue_full(request: Request, exc: QueueFull) -> JSONResponse:
    _metrics(request).rejections.labels(reason="queue_full").inc()
    return error_response(429, f"the video queue is full: try again in {exc.retry_after} s", "queue_full",
                          {"Retry-After": str(exc.retry_after)})


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    text = exc.detail if isinstance(exc.detail, str) else "request refused"
    if exc.status_code == 404 and text == "Not Found":
        text = f"no such route: {request.method} {request.url.path} (see /docs)"
    if exc.status_code == 405:
        text = f"{request.method} is not allowed on {request.url.path} (see /docs)"
    return error_response(exc.status_code, text, "http_error", dict(exc.headers or {}))


async def _crash(request: Request, exc: Exception) -> JSONResponse:
    say(f"{request.method} {request.url.path}: {type(exc).__name__}: {first_line(exc, 200)}", error=True)
    return error_response(500, f"internal error ({type(exc).__name__}); the server logged it", "internal")


HANDLERS = ((ApiError, _api_error), (MediaError, _media_error), (LivebgError, _livebg_error),
            (RequestValidationError, _validation), (FormRefused, _form_refused), (QueueFull, _queue_full),
            (StarletteHTTPException, _http), (Exception, _crash))


def add_error_handlers(app: FastAPI) -> None:
    """Every error the routes raise (and any other, as a 500 that the server logs) as its answer."""
    for kind, handler in HANDLERS:
        app.exception_handler(kind)(handler)
