"""The server's settings: limits, security and where its files live."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from livebg.config import Config


def default_data_dir() -> Path:
    cache = os.environ.get("LIVEBG_CACHE")
    return (Path(cache).expanduser() if cache else Path.home() / ".cache" / "livebg") / "serve"


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    tokens: tuple[str, ...] = ()  # empty: no auth (loopback only)
    workers: int | None = None  # video jobs at once; None: 1
    queue_size: int = 8
    photo_concurrency: int = 2
    max_upload_mb: float = 500.0
    max_megapixels: float = 50.0  # photos and video frames; decompression bombs stop here
    max_video_seconds: float = 600.0
    data_dir: Path = field(default_factory=default_data_dir)
    retention_hours: float = 24.0
    shutdown_grace: float = 30.0
    cors_origins: tuple[str, ...] = ()
    url_input: bool = False
    url_timeout: float = 20.0
    base: Config = field(default_factory=Config)
    access_log: bool = True

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1_000_000)

    @property
    def max_pixels(self) -> int:
        return int(self.max_megapixels * 1_000_000)
