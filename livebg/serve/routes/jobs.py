"""/v1/jobs: video jobs (as `livebg video`) started from an upload or a URL, queued for the
server's workers; their state, their events, their result and their deletion, for their owner."""
from __future__ import annotations

import hmac
import shutil
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from livebg.serve.auth import Owner
from livebg.serve.context import Server, ServerContext
from livebg.serve.errors import ApiError
from livebg.serve.events import event_response
from livebg.serve.forms import request_config
from livebg.serve.jobs import Job, QueueFull, new_id
from livebg.serve.media import kind_of, probe_video, safe_name
from livebg.serve.uploads import fetch_url, save_background, save_upload

router = APIRouter()


@router.post("/v1/jobs", status_code=202, summary="Start a video job (as `livebg video`)")
async def create_job(server: Server, owner: Owner,
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
    settings, manager = server.settings, server.manager
    fields = {"bg": bg, "bg_fit": bg_fit, "model": model, "fast": fast, "smoothing": smoothing, "refine": refine,
              "light_wrap": light_wrap, "harmonize": harmonize, "look_ahead": look_ahead, "crf": crf, "preset": preset, "audio": audio}
    config = request_config(settings.base, fields)
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
            await fetch_url(settings, url, job_dir / "input.vid")  # type: ignore[arg-type]
        if await run_in_threadpool(kind_of, job_dir / "input.vid") == "photo":
            raise ApiError(415, f"{name} is a photo: send photos to /v1/images", "unsupported_media")
        await run_in_threadpool(probe_video, job_dir / "input.vid", settings.max_pixels, settings.max_video_seconds,
                                name)
        bg_name = ""
        if bg_file is not None:
            bg_name = (await save_background(settings, bg_file, job_dir)).name
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


def own_job(server: ServerContext, job_id: str, owner: str) -> Job:
    """The job ``job_id`` of ``owner``; a 404 for a job that is gone or someone else's."""
    job = server.manager.get(job_id, owner)
    if job is None:
        raise ApiError(404, f"no job {job_id[:40]}: it finished long ago (results are kept "
                            f"{server.settings.retention_hours:g} h), was deleted, or the id is wrong", "no_such_job")
    return job


@router.get("/v1/jobs", summary="Your jobs, newest first")
async def list_jobs(server: Server, owner: Owner) -> JSONResponse:
    jobs = sorted((j for j in server.manager.all_jobs() if hmac.compare_digest(j.owner, owner)),
                  key=lambda j: j.created, reverse=True)
    return JSONResponse({"jobs": [j.public() for j in jobs]})


@router.get("/v1/jobs/{job_id}", summary="A job's state and progress")
async def get_job(job_id: str, server: Server, owner: Owner) -> JSONResponse:
    return JSONResponse(own_job(server, job_id, owner).public())


@router.get("/v1/jobs/{job_id}/events", summary="The job's state as server-sent events, until it ends")
async def job_events(job_id: str, server: Server, owner: Owner) -> StreamingResponse:
    return event_response(server, own_job(server, job_id, owner), owner)


@router.get("/v1/jobs/{job_id}/result", summary="The finished video (HTTP range requests work)")
async def job_result(job_id: str, server: Server, owner: Owner) -> FileResponse:
    job = own_job(server, job_id, owner)
    if job.state != "done":
        what = {"queued": "is waiting for a worker", "running": "is still running"}.get(job.state, f"is {job.state}")
        raise ApiError(409, f"job {job_id} {what}: its result is there when its state is done", "not_done")
    path = server.manager.job_dir(job_id) / job.result_file
    media_type = "video/quicktime" if path.suffix == ".mov" else "video/mp4"
    return FileResponse(path, media_type=media_type, filename=job.result_name, content_disposition_type="inline")


@router.delete("/v1/jobs/{job_id}", status_code=204, summary="Cancel a job and delete it with its files")
async def delete_job(job_id: str, server: Server, owner: Owner) -> Response:
    server.manager.delete(own_job(server, job_id, owner))
    return Response(status_code=204)
