"""Prometheus metrics of one server (a registry of its own, so two apps in one process, as in
the tests, do not share counters)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("livebg_http_requests_total", "HTTP requests by route and status",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("livebg_http_request_seconds", "HTTP request latency by route", ["method", "route"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.queue_depth = Gauge("livebg_jobs_queue_depth", "video jobs waiting for a worker", registry=r)
        self.jobs = Gauge("livebg_jobs", "video jobs known to the server, by state", ["state"], registry=r)
        self.frames = Counter("livebg_frames_processed_total", "video frames written by jobs", registry=r)
        self.photos = Counter("livebg_photos_processed_total", "photos answered by /v1/images", registry=r)
        self.photos_in_flight = Gauge("livebg_photos_in_flight", "photos being processed now", registry=r)
        self.rejections = Counter("livebg_rejections_total", "requests refused, by reason", ["reason"], registry=r)
