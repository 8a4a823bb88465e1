"""A request's files brought to disk: uploads (already spooled by the multipart parser) copied
in chunks, URLs fetched (with --url-input), and a background upload checked by decoding."""
from __future__ import annotations

import shutil
from pathlib import Path

from fastapi import UploadFile
from fastapi.concurrency import run_in_threadpool

from livebg.serve.errors import ApiError
from livebg.serve.fetch import fetch
from livebg.serve.media import (
    PHOTO_FORMATS,
    check_photo,
    kind_of,
    probe_video,
    safe_name,
)
from livebg.serve.settings import ServeSettings


async def save_upload(upload: UploadFile, dest: Path) -> None:
    """Copy an upload (already spooled to disk by the multipart parser) in chunks."""
    await upload.seek(0)
    await run_in_threadpool(_copy_to, upload.file, dest)


async def fetch_url(settings: ServeSettings, url: str, dest: Path) -> None:
    if not settings.url_input:
        raise ApiError(400, "this server does not fetch URLs: upload the file (the server needs --url-input)",
                       "url_input_off")
    await run_in_threadpool(fetch, url, dest, max_bytes=settings.max_upload_bytes, timeout=settings.url_timeout)


async def save_background(settings: ServeSettings, upload: UploadFile, scratch: Path) -> Path:
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


def _copy_to(source, dest: Path) -> None:
    with open(dest, "wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)


def _check_photo_file(path: Path, max_pixels: int, what: str) -> str:
    with open(path, "rb") as fp:
        return check_photo(fp, max_pixels, what=what)
