"""The ASGI app of `livebg serve`: routes, auth, limits, errors and metrics.

Every error is JSON ``{"error": "<one line that says what to do>", "code": "<machine name>"}``
with a 4xx status for the client's mistakes; nothing of a refused request stays on disk.
"""
from __future__ import annotations

import asyncio
import contextlib
import hmac
import io
import json
import shutil
import time
import zipfile
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
import cv2
import numpy as np
from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from livebg import __version__
from livebg.composite.blend import Compositor
from livebg.composite.factory import open_background
from livebg.config import Config, apply_settings, parse_bg
from livebg.errors import LivebgError, first_line, say
from livebg.jobs.photos import replace_photo
from livebg.matte.matter import Matter
from livebg.segment.weights import describe_models
from livebg.serve.fetch import fetch
from livebg.serve.jobs import Job, JobManager, QueueFull, new_id, owner_of
from livebg.serve.media import (
    OUTPUT_FORMATS,
    PHOTO_FORMATS,
    MediaError,
    check_photo,
    kind_of,
    probe_video,
    read_photo,
    safe_name,
)
from livebg.serve.memory import Trimmer
from livebg.serve.metrics import Metrics
from livebg.serve.models import REQUEST_MODELS, ModelCache
from livebg.serve.settings import ServeSettings

FORM_SLACK = 1_000_000  # bytes of a request beyond its files: the form fields and multipart framing
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
WAITING_PER_SLOT = 8  # photos allowed to wait per processing slot before 429
MAX_FORM_PARTS = 200  # parts of one multipart form (fields and files); the forms here have 15 fields
DRAIN_BYTES = 64_000_000  # a refused upload's rest read (and dropped) so the client sees the answer
EXTRA_THREADS = 6  # worker threads beyond the photo slots: copying uploads, probing, answering files
MAX_EVENT_STREAMS = 64  # event streams open at once
HOUSEKEEPING_SECONDS = 5.0
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
                               "style-src 'self'; script-src 'self'; connect-src 'self' blob:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.headers = status, code, headers or {}


async def client(request: Request) -> str:
    """The owner of this request's jobs; refuses it without a valid token when tokens are set.
    (async: FastAPI would run a plain function in a worker thread, one for each request.)"""
    tokens = request.app.state.settings.tokens
    if not tokens:
        return ""
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise ApiError(401, "this server needs a token: send the header `Authorization: Bearer TOKEN`",
                       "unauthorized", {"WWW-Authenticate": "Bearer"})
    for token in tokens:
        if hmac.compare_digest(given.strip().encode(), token.encode()):
            return owner_of(token)
    raise ApiError(401, "the token is not valid: check it with whoever runs the server", "unauthorized",
                   {"WWW-Authenticate": 'Bearer error="invalid_token"'})


Owner = Annotated[str, Depends(client)]


def error_response(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "code": code}, status_code=status, headers=headers)


# -- ASGI middleware: body size and metrics ----------------------------------------------------
class FormRefused(StarletteHTTPException):
    """A request body refused while it streams in (its size, its number of form parts)."""

    def __init__(self, status: int, message: str, code: str):
        super().__init__(status, message)
        self.code = code


class BodyLimit:
    """Refuses a request body over ``limit`` bytes: at once from Content-Length, or when the
    streamed body passes it (chunked uploads), before the upload is parsed any further; and a
    multipart form of more than MAX_FORM_PARTS parts, counted by its boundary as it streams in
    (before the form parser spools them). A refused body's rest is read and dropped (up to
    DRAIN_BYTES) before the answer goes out: closing a connection with unread data resets it,
    and the client would see no answer at all."""

    def __init__(self, app, limit: int, metrics: Metrics, max_parts: int = MAX_FORM_PARTS):
        self.app, self.limit, self.metrics, self.max_parts = app, limit, metrics, max_parts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT"):
            return await self.app(scope, receive, send)
        limit_mb = (self.limit - FORM_SLACK) / 1e6
        message = f"the upload is over the {limit_mb:g} MB limit: send a smaller file (the server's --max-upload-mb)"
        delimiter = b""
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                self.metrics.rejections.labels(reason="upload_too_large").inc()
                response = error_response(413, message, "upload_too_large", {"Connection": "close"})
                return await response(scope, receive, send)
            if name == b"content-type" and value.lower().startswith(b"multipart/"):
                delimiter = b"--" + _boundary(value)
        received = 0
        parts = 0  # delimiters seen: the parts, and at the end the closing one
        tail = b""
        finished = False

        async def limited():
            nonlocal received, parts, tail, finished
            event = await receive()
            if event["type"] == "http.request":
                body = event.get("body", b"")
                received += len(body)
                finished = not event.get("more_body", False)
                if received > self.limit:  # an HTTPException: the form parser passes it on as it is
                    self.metrics.rejections.labels(reason="upload_too_large").inc()
                    raise FormRefused(413, message, "upload_too_large")
                if len(delimiter) > 2:
                    window = tail + body
                    parts += window.count(delimiter)
                    tail = window[-(len(delimiter) - 1):]
                    if parts - 1 > self.max_parts:
                        self.metrics.rejections.labels(reason="too_many_parts").inc()
                        raise FormRefused(413, f"the form has more than {self.max_parts} parts (fields and files): "
                                               f"send at most {self.max_parts - 20} photos a request, the rest in "
                                               f"further requests", "too_many_parts")
            elif event["type"] == "http.disconnect":
                finished = True
            return event

        async def drained(event):
            nonlocal finished
            if event["type"] == "http.response.start" and not finished:
                dropped = 0
                while not finished and dropped < DRAIN_BYTES:
                    more = await receive()
                    if more["type"] != "http.request":
                        break
                    dropped += len(more.get("body", b""))
                    finished = not more.get("more_body", False)
            await send(event)

        await self.app(scope, limited, drained)


def _boundary(content_type: bytes) -> bytes:
    for param in content_type.split(b";")[1:]:
        key, _, value = param.strip().partition(b"=")
        if key.strip().lower() == b"boundary":
            return value.strip().strip(b'"')
    return b""


class RequestMetrics:
    """Counts requests by route template (not by path: job ids would make endless labels), and
    writes the request log (one ``livebg:`` line a request) unless it is off."""

    def __init__(self, app, metrics: Metrics, log: bool):
        self.app, self.metrics, self.log = app, metrics, log

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = [500]

        async def noted(event):
            if event["type"] == "http.response.start":
                status[0] = event["status"]
            await send(event)

        try:
            await self.app(scope, receive, noted)
        finally:
            route = scope.get("route")
            template = route.path if route is not None else "unmatched"
            self.metrics.requests.labels(method=scope["method"], route=template, status=str(status[0])).inc()
            seconds = time.perf_counter() - started
            self.metrics.latency.labels(method=scope["method"], route=template).observe(seconds)
            if self.log and template not in ("/healthz", "/metrics"):
                peer = (scope.get("client") or ("-",))[0]
                say(f"{peer} {scope['method']} {scope['path']} {status[0]} {seconds:.2f} s")


# -- the app ------------------------------------------------------------------------------------
def create_app(settings: ServeSettings, *, models: ModelCache | None = None) -> FastAPI:
    metrics = Metrics()
    models = models or ModelCache()
    data_dir = settings.data_dir
    tmp_dir = data_dir / "tmp"
    workers = settings.workers or 1
    manager = JobManager(data_dir, base=settings.base, models=models, metrics=metrics, workers=workers,
                         queue_size=settings.queue_size, retention_seconds=settings.retention_hours * 3600)
    photo_slots = asyncio.Semaphore(settings.photo_concurrency)
    photo_waiting = [0]
    event_streams = [0]
    trimmer = Trimmer()
    manager.on_finished = trimmer.note  # a video job's buffers are freed when it ends

    async def housekeeping() -> None:
        """Every few seconds, in a worker thread: the pool's idle threads are ended (anyio ends
        a thread idle for 10 s only when the pool is next used) and freed memory goes back to
        the system after a large request or a job (serve/memory.py)."""
        while True:
            await asyncio.sleep(HOUSEKEEPING_SECONDS)
            await run_in_threadpool(trimmer.trim_if_due)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        shutil.rmtree(tmp_dir, ignore_errors=True)  # a killed server's uploads in flight
        tmp_dir.mkdir(parents=True, exist_ok=True)
        # the worker threads of run_in_threadpool, bounded: photos hold at most their slots,
        # the rest is short work (copying uploads, probing, answering files)
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.photo_concurrency + EXTRA_THREADS
        manager.start()
        keeper = asyncio.create_task(housekeeping())
        announce = app.state.announce
        if announce is not None:
            announce()
        yield
        app.state.stopping = True
        keeper.cancel()
        await run_in_threadpool(manager.shutdown, settings.shutdown_grace)
        shutil.rmtree(tmp_dir, ignore_errors=True)

    app = FastAPI(title="livebg", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Replace the background of photos and videos. Errors are JSON "
                              "{\"error\": one line, \"code\": name}. With a token, send `Authorization: Bearer TOKEN`.")
    app.state.announce = None
    app.state.stopping = False
    app.state.manager = manager
    app.state.models = models
    app.state.metrics = metrics
    app.state.settings = settings

    # -- errors ------------------------------------------------------------------------------
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        metrics.rejections.labels(reason=exc.code).inc()
        return error_response(exc.status, str(exc), exc.code, exc.headers)

    @app.exception_handler(MediaError)
    async def _media_error(request: Request, exc: MediaError):
        metrics.rejections.labels(reason=exc.code).inc()
        return error_response(exc.status, str(exc), exc.code)

    @app.exception_handler(LivebgError)
    async def _livebg_error(request: Request, exc: LivebgError):  # a setting livebg refuses
        metrics.rejections.labels(reason="bad_setting").inc()
        return error_response(400, str(exc).replace("--", ""), "bad_setting")

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        metrics.rejections.labels(reason="bad_field").inc()
        return error_response(422, f"{where}: {first.get('msg', 'invalid')}", "bad_field")

    @app.exception_handler(FormRefused)
    async def _form_refused(request: Request, exc: FormRefused):
        return error_response(exc.status_code, str(exc.detail), exc.code, {"Connection": "close"})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        text = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and text == "Not Found":
            text = f"no such route: {request.method} {request.url.path} (see /docs)"
        if exc.status_code == 405:
            text = f"{request.method} is not allowed on {request.url.path} (see /docs)"
        return error_response(exc.status_code, text, "http_error", dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):
        say(f"{request.method} {request.url.path}: {type(exc).__name__}: {first_line(exc, 200)}", error=True)
        return error_response(500, f"internal error ({type(exc).__name__}); the server logged it", "internal")

    # -- settings of a request -------------------------------------------------------------------
    def request_config(fields: dict[str, Any]) -> Config:
        values = {k: v for k, v in fields.items() if v is not None}
        model = values.get("model")
        if model is not None and model not in REQUEST_MODELS:
            raise ApiError(400, f"unknown model {model!r}: choose one of {', '.join(REQUEST_MODELS)}", "bad_setting")
        bg = values.get("bg")
        if bg is not None:
            spec = parse_bg(bg) if not _looks_like_path(bg) else None
            if spec is None or spec.path is not None:
                raise ApiError(400, "bg must be a keyword (white, black, green, gray, blur, blur:N, transparent, none) "
                                    "or a #RRGGBB colour; upload a picture or video as bg_file", "bad_setting")
        if values.get("preset") is not None and values["preset"] not in X264_PRESETS:
            raise ApiError(400, f"unknown preset {values['preset']!r}: choose one of {', '.join(X264_PRESETS)}",
                           "bad_setting")
        return apply_settings(settings.base, **values)

    async def save_upload(upload: UploadFile, dest: Path) -> None:
        """Copy an upload (already spooled to disk by the multipart parser) in chunks."""
        await upload.seek(0)
        await run_in_threadpool(_copy_to, upload.file, dest)

    async def fetch_url(url: str, dest: Path) -> None:
        if not settings.url_input:
            raise ApiError(400, "this server does not fetch URLs: upload the file (the server needs --url-input)",
                           "url_input_off")
        await run_in_threadpool(fetch, url, dest, max_bytes=settings.max_upload_bytes, timeout=settings.url_timeout)

    # -- photos --------------------------------------------------------------------------------
    @app.post("/v1/images", summary="Replace the background of one photo (or several: a zip)",
              responses={200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}, "application/zip": {}}}})
    async def images(owner: Owner,
                     file: Annotated[list[UploadFile] | None, File(description="the photo(s)")] = None,
                     url: Annotated[str | None, Form(description="an http(s) URL instead of a file (--url-input)")] = None,
                     bg_file: Annotated[UploadFile | None, File(description="a background picture")] = None,
                     bg: Annotated[str | None, Form(description="white, black, green, #RRGGBB, gray, blur, blur:N, transparent, none")] = None,
                     model: Annotated[str | None, Form()] = None,
                     fast: Annotated[bool | None, Form(description="the bundled selfie model (model auto)")] = None,
                     matting: Annotated[bool, Form(description="trimap + closed-form matting (slow)")] = False,
                     format: Annotated[str | None, Form(description="png, jpg or webp (default: png for png input "
                                                                     "and transparent output, else jpg)")] = None,
                     alpha_only: Annotated[bool, Form(description="return the alpha matte as a grey PNG")] = False,
                     refine: Annotated[str | None, Form()] = None,
                     light_wrap: Annotated[float | None, Form()] = None,
                     harmonize: Annotated[float | None, Form(description="0..1: the person takes on the background's light")] = None) -> Response:
        if format is not None and format.lower() not in OUTPUT_FORMATS:
            raise ApiError(400, f"unknown format {format!r}: choose png, jpg or webp", "bad_setting")
        config = request_config({"bg": "transparent" if alpha_only else bg, "model": model, "fast": fast,
                                 "refine": refine, "light_wrap": light_wrap, "harmonize": harmonize})
        uploads = list(file or [])
        if not uploads and not url:
            raise ApiError(400, "no photo: upload it as the form field `file` (or give `url`)", "missing_file")
        if uploads and url:
            raise ApiError(400, "give a file or a url, not both", "bad_setting")
        transparent = config.background.bg.strip().lower() == "transparent"
        if transparent and not alpha_only and format and format.lower() in ("jpg", "jpeg"):
            raise ApiError(400, "JPEG cannot keep transparency: ask for format png or webp", "bad_setting")
        if photo_waiting[0] >= settings.photo_concurrency * WAITING_PER_SLOT:
            raise ApiError(429, "too many photos are waiting: try again in a few seconds", "busy", {"Retry-After": "2"})
        photo_waiting[0] += 1
        waiting = True
        scratch = tmp_dir / new_id()
        scratch.mkdir(parents=True)
        try:
            with contextlib.ExitStack() as opened:
                sources: list[tuple[str, Any]] = []
                if url:
                    await fetch_url(url, scratch / "url")
                    fetched = await run_in_threadpool(open, scratch / "url", "rb")
                    sources.append((safe_name(url.split("?")[0], "photo"), opened.enter_context(fetched)))
                for upload in uploads:
                    await upload.seek(0)
                    sources.append((safe_name(upload.filename, "photo"), upload.file))
                if bg_file is not None:
                    config = config.override("background", bg=str(await save_background(bg_file, scratch)))
                async with photo_slots:
                    photo_waiting[0] -= 1
                    waiting = False
                    metrics.photos_in_flight.inc()
                    try:
                        results = await run_in_threadpool(process_photos, sources, config, matting, format, alpha_only)
                    finally:
                        metrics.photos_in_flight.dec()
        finally:
            if waiting:
                photo_waiting[0] -= 1
            shutil.rmtree(scratch, ignore_errors=True)
        metrics.photos.inc(sum(1 for r in results if r.error is None))
        if len(results) == 1:
            only = results[0]
            if only.error is not None:
                raise only.error
            return Response(only.data, media_type=only.media_type,
                            headers={"Content-Disposition": f'inline; filename="{only.name}"'})
        return Response(zip_results(results), media_type="application/zip",
                        headers={"Content-Disposition": 'attachment; filename="livebg.zip"'})

    def process_photos(sources, config: Config, matting: bool, fmt: str | None, alpha_only: bool) -> list[PhotoResult]:
        segmenter = models.get(config.model)
        matter = Matter(config.override("smoothing", method="none"), edge_threshold=segmenter.edge_threshold)
        results = []
        for name, fp in sources:
            try:
                results.append(one_photo(name, fp, config, segmenter, matter, matting, fmt, alpha_only))
            except MediaError as exc:
                results.append(PhotoResult(name, error=exc))
            except LivebgError as exc:
                results.append(PhotoResult(name, error=MediaError(400, f"{name}: {exc}", "bad_photo")))
        return results

    def one_photo(name: str, fp, config: Config, segmenter, matter: Matter, matting: bool, fmt: str | None,
                  alpha_only: bool) -> PhotoResult:
        photo = read_photo(fp, settings.max_pixels, what=name)
        h, w = photo.rgb.shape[:2]
        trimmer.note()  # its buffers are freed with the answer: housekeeping gives them back then
        image: np.ndarray | None
        if alpha_only:
            _, alpha = replace_photo(photo.rgb, segmenter, matter, None, matting)
            image = np.clip(alpha * 255 + 0.5, 0, 255).astype(np.uint8)
            ext = "png"
        else:
            background = open_background(config.background.bg, (w, h), fit="hold")
            try:
                image, _ = replace_photo(photo.rgb, segmenter, matter,
                                         Compositor(background, config.background.light_wrap,
                                                    harmonize=config.background.harmonize), matting)
            finally:
                background.close()
            assert image is not None  # a compositor was given
            ext = fmt or ("png" if photo.format == "PNG" or image.shape[2] == 4 else "jpg")
        media_type, suffix = OUTPUT_FORMATS[ext.lower()]
        return PhotoResult(f"{Path(name).stem}_livebg{suffix}", encode(image, suffix), media_type)

    async def save_background(upload: UploadFile, scratch: Path) -> Path:
        """A background upload, checked by decoding, named so livebg opens it as what it is
        (a photo by its format's extension; a video or an animated GIF plays)."""
        raw = scratch / "bg-upload"
        await save_upload(upload, raw)
        what = f"bg_file {safe_name(upload.filename, 'background')}"
        kind = await run_in_threadpool(kind_of, raw)
        if kind == "photo":
            suffix = PHOTO_FORMATS[await run_in_threadpool(_check_photo_file, raw, settings.max_pixels, what)]
        else:
            await run_in_threadpool(probe_video, raw, settings.max_pixels, settings.max_video_seconds, what)
            suffix = ".vid"
        final = scratch / f"bg{suffix}"
        raw.rename(final)
        return final

    # -- video jobs ------------------------------------------------------------------------------
    @app.post("/v1/jobs", status_code=202, summary="Start a video job (as `livebg video`)")
    async def create_job(request: Request, owner: Owner,
                         file: Annotated[UploadFile | None, File(description="the video")] = None,
                         url: Annotated[str | None, Form(description="an http(s) URL instead of a file (--url-input)")] = None,
                         bg_file: Annotated[UploadFile | None, File(description="a background picture or video")] = None,
                         bg: Annotated[str | None, Form()] = None,
                         bg_fit: Annotated[str | None, Form(description="loop, hold or stretch")] = None,
                         model: Annotated[str | None, Form()] = None,
                         fast: Annotated[bool | None, Form()] = None,
                         smoothing: Annotated[str | None, Form()] = None,
                         refine: Annotated[str | None, Form()] = None,
                         light_wrap: Annotated[float | None, Form()] = None,
                         harmonize: Annotated[float | None, Form(description="0..1: the person takes on the background's light")] = None,
                         look_ahead: Annotated[bool | None, Form()] = None,
                         crf: Annotated[int | None, Form()] = None,
                         preset: Annotated[str | None, Form()] = None,
                         audio: Annotated[bool | None, Form()] = None) -> JSONResponse:
        fields = {"bg": bg, "bg_fit": bg_fit, "model": model, "fast": fast, "smoothing": smoothing, "refine": refine,
                  "light_wrap": light_wrap, "harmonize": harmonize, "look_ahead": look_ahead, "crf": crf, "preset": preset, "audio": audio}
        config = request_config(fields)
        if file is None and not url:
            raise ApiError(400, "no video: upload it as the form field `file` (or give `url`)", "missing_file")
        if file is not None and url:
            raise ApiError(400, "give a file or a url, not both", "bad_setting")
        if manager.queue_full():
            raise QueueFull(manager.retry_after())
        job_id = new_id()
        job_dir = manager.job_dir(job_id)
        job_dir.mkdir(parents=True)
        try:
            name = safe_name(file.filename if file is not None else url.split("?")[0], "video")  # type: ignore[union-attr]
            if file is not None:
                await save_upload(file, job_dir / "input.vid")
            else:
                await fetch_url(url, job_dir / "input.vid")  # type: ignore[arg-type]
            if await run_in_threadpool(kind_of, job_dir / "input.vid") == "photo":
                raise ApiError(415, f"{name} is a photo: send photos to /v1/images", "unsupported_media")
            await run_in_threadpool(probe_video, job_dir / "input.vid", settings.max_pixels, settings.max_video_seconds,
                                    name)
            bg_name = ""
            if bg_file is not None:
                bg_name = (await save_background(bg_file, job_dir)).name
            transparent = config.background.bg.strip().lower() == "transparent"
            settings_used = {k: v for k, v in fields.items() if v is not None}
            job = Job(id=job_id, owner=owner, input_name=name, settings=settings_used,
                      result_name=f"{Path(name).stem}_livebg{'.mov' if transparent else '.mp4'}",
                      input_file="input.vid", bg_file=bg_name, result_file="result.mov" if transparent else "result.mp4")
            manager.job_config(job)  # the settings with the background file: refused now, not in the worker
            manager.submit(job)
        except BaseException:
            shutil.rmtree(job_dir, ignore_errors=True)
            raise
        return JSONResponse(job.public(), status_code=202, headers={"Location": f"/v1/jobs/{job_id}"})

    @app.exception_handler(QueueFull)
    async def _queue_full(request: Request, exc: QueueFull):
        metrics.rejections.labels(reason="queue_full").inc()
        return error_response(429, f"the video queue is full: try again in {exc.retry_after} s", "queue_full",
                              {"Retry-After": str(exc.retry_after)})

    def own_job(job_id: str, owner: str) -> Job:
        job = manager.get(job_id, owner)
        if job is None:
            raise ApiError(404, f"no job {job_id[:40]}: it finished long ago (results are kept "
                                f"{settings.retention_hours:g} h), was deleted, or the id is wrong", "no_such_job")
        return job

    @app.get("/v1/jobs", summary="Your jobs, newest first")
    async def list_jobs(owner: Owner) -> JSONResponse:
        jobs = sorted((j for j in manager.all_jobs() if hmac.compare_digest(j.owner, owner)),
                      key=lambda j: j.created, reverse=True)
        return JSONResponse({"jobs": [j.public() for j in jobs]})

    @app.get("/v1/jobs/{job_id}", summary="A job's state and progress")
    async def get_job(job_id: str, owner: Owner) -> JSONResponse:
        return JSONResponse(own_job(job_id, owner).public())

    async def job_stream(job: Job, owner: str):
        job_id = job.id
        last = None
        quiet_since = time.monotonic()
        while True:
            state = job.public()
            if state != last:
                yield f"event: {state['state']}\ndata: {json.dumps(state)}\n\n"
                last, quiet_since = state, time.monotonic()
                if state["state"] in ("done", "failed", "cancelled"):
                    return
            elif time.monotonic() - quiet_since > 15:
                yield ": still here\n\n"
                quiet_since = time.monotonic()
            if manager.get(job_id, owner) is None:
                yield f"event: deleted\ndata: {json.dumps({'id': job_id, 'state': 'deleted'})}\n\n"
                return
            if app.state.stopping:
                return
            await asyncio.sleep(0.25)

    @app.get("/v1/jobs/{job_id}/events", summary="The job's state as server-sent events, until it ends")
    async def job_events(job_id: str, owner: Owner) -> StreamingResponse:
        job = own_job(job_id, owner)
        if event_streams[0] >= MAX_EVENT_STREAMS:
            raise ApiError(429, f"{MAX_EVENT_STREAMS} event streams are open: poll GET /v1/jobs/{job_id} instead, "
                                f"or try again later", "busy", {"Retry-After": "5"})

        async def stream():
            # counted while it runs: a client that drops ends it (Starlette cancels it), and
            # its finally gives the place back
            event_streams[0] += 1
            try:
                async for event in job_stream(job, owner):
                    yield event
            finally:
                event_streams[0] -= 1

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/v1/jobs/{job_id}/result", summary="The finished video (HTTP range requests work)")
    async def job_result(job_id: str, owner: Owner) -> FileResponse:
        job = own_job(job_id, owner)
        if job.state != "done":
            what = {"queued": "is waiting for a worker", "running": "is still running"}.get(job.state, f"is {job.state}")
            raise ApiError(409, f"job {job_id} {what}: its result is there when its state is done", "not_done")
        path = manager.job_dir(job_id) / job.result_file
        media_type = "video/quicktime" if path.suffix == ".mov" else "video/mp4"
        return FileResponse(path, media_type=media_type, filename=job.result_name, content_disposition_type="inline")

    @app.delete("/v1/jobs/{job_id}", status_code=204, summary="Cancel a job and delete it with its files")
    async def delete_job(job_id: str, owner: Owner) -> Response:
        manager.delete(own_job(job_id, owner))
        return Response(status_code=204)

    # -- about the server ----------------------------------------------------------------------
    @app.get("/v1/models", summary="Models, where their weights come from, and which are here")
    async def list_models(owner: Owner) -> JSONResponse:
        rows = await run_in_threadpool(describe_models)
        default, reason = await run_in_threadpool(models.load, settings.base.model)
        return JSONResponse({"default": {"describe": default.describe(), "reason": reason},
                             "loaded": models.loaded(), "models": rows, "request_names": list(REQUEST_MODELS)})

    @app.get("/healthz", summary="Liveness: the server answers and its workers run")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "stopping" if app.state.stopping else "ok", "version": __version__,
                             "queue_depth": manager.queue_depth(), "workers": workers})

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus(request: Request) -> Response:
        await client(request)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    static = resources.files("livebg.serve") / "static"

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse((static / "index.html").read_text(), headers=PAGE_HEADERS)

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse((static / "docs.html").read_text(), headers=PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST", "DELETE"], allow_headers=["Authorization", "Content-Type"],
                           expose_headers=["Location", "Retry-After", "Content-Disposition"])
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes + FORM_SLACK, metrics=metrics)
    app.add_middleware(RequestMetrics, metrics=metrics, log=settings.access_log)
    return app


def _copy_to(source, dest: Path) -> None:
    with open(dest, "wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)


def _check_photo_file(path: Path, max_pixels: int, what: str) -> str:
    with open(path, "rb") as fp:
        return check_photo(fp, max_pixels, what=what)


def _looks_like_path(bg: str) -> bool:
    text = bg.strip()
    return "/" in text or "\\" in text or text.startswith(("~", ".")) or (len(text) > 2 and text[1] == ":")


def encode(image: np.ndarray, suffix: str) -> bytes:
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR if image.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    params = {".jpg": [cv2.IMWRITE_JPEG_QUALITY, 95], ".webp": [cv2.IMWRITE_WEBP_QUALITY, 95]}.get(suffix, [])
    ok, data = cv2.imencode(suffix, image, params)
    if not ok:
        raise MediaError(500, f"could not encode the result as {suffix}", "encode_failed")
    return data.tobytes()


@dataclass
class PhotoResult:
    name: str
    data: bytes = b""
    media_type: str = ""
    error: MediaError | None = None


def zip_results(results: list[PhotoResult]) -> bytes:
    """Several photos: each result in a zip, and failed.json naming the ones that failed."""
    buffer = io.BytesIO()
    failed = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        names: set[str] = set()
        for result in results:
            name, data, error = result.name, result.data, result.error
            if error is not None:
                failed.append({"file": name, "error": str(error), "code": error.code})
                continue
            stem, dot, ext = name.rpartition(".")
            candidate, n = name, 1
            while candidate.lower() in names:
                n += 1
                candidate = f"{stem}_{n}{dot}{ext}"
            names.add(candidate.lower())
            archive.writestr(candidate, data)
        if failed:
            archive.writestr("failed.json", json.dumps(failed, indent=1))
    return buffer.getvalue()
