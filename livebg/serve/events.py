"""A job's state as server-sent events: an event at each change until the job ends (or is
deleted, or the server stops), a comment every 15 s of quiet, at most MAX_EVENT_STREAMS open."""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from fastapi.responses import StreamingResponse

from livebg.serve.context import ServerContext
from livebg.serve.errors import ApiError
from livebg.serve.jobs import Job

MAX_EVENT_STREAMS = 64  # event streams open at once
POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0


async def job_stream(server: ServerContext, job: Job, owner: str) -> AsyncIterator[str]:
    """The events of one job, as SSE text."""
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
        elif time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
            yield ": still here\n\n"
            quiet_since = time.monotonic()
        if server.manager.get(job_id, owner) is None:
            yield f"event: deleted\ndata: {json.dumps({'id': job_id, 'state': 'deleted'})}\n\n"
            return
        if server.stopping:
            return
        await asyncio.sleep(POLL_SECONDS)


def event_response(server: ServerContext, job: Job, owner: str) -> StreamingResponse:
    """The job's event stream as an answer; 429 when MAX_EVENT_STREAMS are open."""
    if server.event_streams >= MAX_EVENT_STREAMS:
        raise ApiError(429, f"{MAX_EVENT_STREAMS} event streams are open: poll GET /v1/jobs/{job.id} instead, "
                            f"or try again later", "busy", {"Retry-After": "5"})

    async def stream() -> AsyncIterator[str]:
        # counted while it runs: a client that drops ends it (Starlette cancels it), and
        # its finally gives the place back
        server.event_streams += 1
        try:
            async for event in job_stream(server, job, owner):
                yield event
        finally:
            server.event_streams -= 1

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
