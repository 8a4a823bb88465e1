"""The server's ASGI middlewares, around every route: the request body's limits (its size and
its number of form parts, refused while it streams in) and the request metrics and log."""
from __future__ import annotations

import time

from livebg.errors import say
from livebg.serve.errors import FormRefused, error_response
from livebg.serve.metrics import Metrics

FORM_SLACK = 1_000_000  # bytes of a request beyond its files: the form fields and multipart framing
MAX_FORM_PARTS = 200  # parts of one multipart form (fields and files); the forms here have 15 fields
DRAIN_BYTES = 64_000_000  # a refused upload's rest read (and dropped) so the client sees the answer


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
