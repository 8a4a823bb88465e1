"""POST /v1/images: the background of one photo replaced (or of several: a zip), answered at
once; photos wait for one of the server's photo slots, and too many waiting is a 429."""
from __future__ import annotations

import contextlib
import shutil
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from livebg.serve.auth import Owner
from livebg.serve.context import Server
from livebg.serve.errors import ApiError
from livebg.serve.forms import request_config
from livebg.serve.jobs import new_id
from livebg.serve.media import OUTPUT_FORMATS, safe_name
from livebg.serve.photos import process_photos, zip_results
from livebg.serve.uploads import fetch_url, save_background

WAITING_PER_SLOT = 8  # photos allowed to wait per processing slot before 429

router = APIRouter()


@router.post("/v1/images", summary="Replace the background of one photo (or several: a zip)",
             responses={200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}, "application/zip": {}}}})
async def images(server: Server, owner: Owner,
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
    settings, metrics = server.settings, server.metrics
    if format is not None and format.lower() not in OUTPUT_FORMATS:
        raise ApiError(400, f"unknown format {format!r}: choose png, jpg or webp", "bad_setting")
    config = request_config(settings.base, {"bg": "transparent" if alpha_only else bg, "model": model, "fast": fast,
                                            "refine": refine, "light_wrap": light_wrap, "harmonize": harmonize})
    uploads = list(file or [])
    if not uploads and not url:
        raise ApiError(400, "no photo: upload it as the form field `file` (or give `url`)", "missing_file")
    if uploads and url:
        raise ApiError(400, "give a file or a url, not both", "bad_setting")
    transparent = config.background.bg.strip().lower() == "transparent"
    if transparent and not alpha_only and format and format.lower() in ("jpg", "jpeg"):
        raise ApiError(400, "JPEG cannot keep transparency: ask for format png or webp", "bad_setting")
    if server.photo_waiting >= settings.photo_concurrency * WAITING_PER_SLOT:
        raise ApiError(429, "too many photos are waiting: try again in a few seconds", "busy", {"Retry-After": "2"})
    server.photo_waiting += 1
    waiting = True
    scratch = server.tmp_dir / new_id()
    scratch.mkdir(parents=True)
    try:
        with contextlib.ExitStack() as opened:
            sources: list[tuple[str, Any]] = []
            if url:
                await fetch_url(settings, url, scratch / "url")
                fetched = await run_in_threadpool(open, scratch / "url", "rb")
                sources.append((safe_name(url.split("?")[0], "photo"), opened.enter_context(fetched)))
            for upload in uploads:
                await upload.seek(0)
                sources.append((safe_name(upload.filename, "photo"), upload.file))
            if bg_file is not None:
                config = config.override("background", bg=str(await save_background(settings, bg_file, scratch)))
            async with server.photo_slots:
                server.photo_waiting -= 1
                waiting = False
                metrics.photos_in_flight.inc()
                try:
                    results = await run_in_threadpool(process_photos, server, sources, config, matting, format,
                                                      alpha_only)
                finally:
                    metrics.photos_in_flight.dec()
    finally:
        if waiting:
            server.photo_waiting -= 1
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
