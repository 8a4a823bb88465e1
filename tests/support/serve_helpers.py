"""A real `livebg serve` for tests: uvicorn on a free loopback port, in a thread of the test
process (``running_server``) or as a child process (``ServeProcess``, for signals and
restarts), plus small media the server tests send it."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import av
import httpx
import numpy as np

from livebg.config import Config, apply_settings
from livebg.serve.settings import ServeSettings
from tests.support import SHARED

PORTRAIT = SHARED / "media" / "portraits" / "doctor-5871743_640.jpg"
DOCTOR = SHARED / "media" / "videos" / "doctor_960x540.mp4"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(settings: ServeSettings) -> Iterator[httpx.Client]:
    """The app on a real uvicorn server in a thread; yields a client bound to its base URL."""
    import uvicorn

    from livebg.serve.app import create_app

    port = free_port()
    settings = replace(settings, port=port)
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client
    finally:
        server.should_exit = True
        thread.join(60)


class ServeProcess:
    """`livebg serve` as a child process (its own signals, restarts on the same --data-dir)."""

    def __init__(self, *args: str, env: dict[str, str] | None = None):
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, "-m", "livebg", "serve", "--port", str(self.port), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, **(env or {})})
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"livebg serve ended: {self.proc.stderr.read() if self.proc.stderr else ''}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError("livebg serve did not answer within 60 s")
            time.sleep(0.2)

    def terminate(self, timeout: float = 60) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def files_under(directory: Path) -> list[Path]:
    """Every file left under ``directory`` (the server's --data-dir), folders not counted."""
    return sorted(p for p in directory.rglob("*") if p.is_file())


def decode_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def image_array(data: bytes) -> np.ndarray:
    import cv2

    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None, "the answer is not an image"
    return image


# -- what the server tests share -----------------------------------------------------------------
def settings(tmp_path, **changes) -> ServeSettings:
    """Small limits, one worker, the selfie model and a data folder under ``tmp_path``."""
    base = apply_settings(Config(), model="selfie")
    values = {"data_dir": tmp_path / "data", "base": base, "max_upload_mb": 5, "max_megapixels": 4,
              "max_video_seconds": 20, "queue_size": 2, "workers": 1, "shutdown_grace": 5, "access_log": False}
    values.update(changes)
    return ServeSettings(**values)


def wait_for(client, job_id: str, states=("done", "failed", "cancelled"), timeout: float = 120, **headers) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}", headers=headers).json()
        if job["state"] in states:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} stayed {job['state']}")


def assert_clean(data_dir) -> None:
    """Nothing of a refused request is left: no uploads, no job folders, no temporary files."""
    assert files_under(data_dir) == []
