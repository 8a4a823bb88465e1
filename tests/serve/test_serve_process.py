"""`livebg serve` as a process: refusals before binding, the startup line, SIGTERM with a job
running, and a restart on the same --data-dir that keeps finished results."""
from __future__ import annotations

import signal
import socket
import time

import httpx
import pytest

from tests.support import write_clip
from tests.support.cli_process import run_cli
from tests.support.serve_helpers import DOCTOR, ServeProcess, decode_count, files_under

TOKEN = "a-long-enough-token-0123456789"


@pytest.mark.parametrize("args, words", [
    (["--host", "0.0.0.0"], ["--token", "127.0.0.1"]),
    (["--host", "0.0.0.0", "--token", "short"], ["at least 16", "secrets.token_urlsafe"]),
    (["--queue-size", "0"], ["--queue-size", "at least 1"]),
    (["--max-upload-mb", "0"], ["--max-upload-mb"]),
    (["--port", "70000"], ["--port"]),
])
def test_refusals_before_binding(capsys, args, words):
    status, line, _ = run_cli(capsys, ["serve", *args])
    assert status == 2
    for word in words:
        assert word in line, (word, line)


def test_a_taken_port_is_one_line(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        status, line, _ = run_cli(capsys, ["serve", "--port", str(port)])
    assert status == 2 and "is taken" in line and "--port" in line


def wait_state(url: str, job_id: str, states: tuple[str, ...], timeout: float = 120, headers=None) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = httpx.get(f"{url}/v1/jobs/{job_id}", headers=headers).json()
        if job["state"] in states:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job stayed {job['state']}")


def test_sigterm_fails_the_running_job_and_a_restart_keeps_finished_results(tmp_path):
    data = tmp_path / "data"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    clip = write_clip(tmp_path / "clip.mp4", frames=24, rate=30)
    server = ServeProcess("--data-dir", str(data), "--token", TOKEN, "--shutdown-grace", "0", "--model", "selfie")
    try:
        finished = httpx.post(f"{server.url}/v1/jobs", files={"file": ("clip.mp4", clip.read_bytes())},
                              headers=auth, timeout=60).json()
        wait_state(server.url, finished["id"], ("done",), headers=auth)
        long = httpx.post(f"{server.url}/v1/jobs", files={"file": ("doctor.mp4", DOCTOR.read_bytes())},
                          headers=auth, timeout=60).json()
        wait_state(server.url, long["id"], ("running",), headers=auth)
        status, err = server.terminate()
    finally:
        server.kill()
    assert status == -signal.SIGTERM, err  # it ends by the signal it was sent, as `livebg video` does
    assert "model selfie" in err and "on cpu" in err and "serving on http://127.0.0.1:" in err
    assert f"job {long['id']}: failed" in err and "POST /v1/jobs 202" in err
    # nothing half-written stays: the long job's input and partial output are gone
    leftovers = [p.name for p in files_under(data / "jobs" / long["id"])]
    assert leftovers == ["job.json"], leftovers

    again = ServeProcess("--data-dir", str(data), "--token", TOKEN, "--model", "selfie")
    try:
        kept = httpx.get(f"{again.url}/v1/jobs/{finished['id']}", headers=auth).json()
        assert kept["state"] == "done"
        result = httpx.get(f"{again.url}{kept['result_url']}", headers=auth)
        (tmp_path / "kept.mp4").write_bytes(result.content)
        assert decode_count(tmp_path / "kept.mp4") == 24
        stopped = httpx.get(f"{again.url}/v1/jobs/{long['id']}", headers=auth).json()
        assert stopped["state"] == "failed" and "server stopped" in stopped["error"]
        assert httpx.get(f"{again.url}/v1/jobs/{long['id']}/result", headers=auth).status_code == 409
    finally:
        again.terminate()
