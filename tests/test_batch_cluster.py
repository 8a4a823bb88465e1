"""`livebg batch --ray ADDRESS` on a cluster of two Ray nodes started on this machine (`ray start
--head` and `ray start --address`, one CPU each, on a port and a temporary folder of their own),
so the paths of several nodes run here: one actor per node, chunks spread over both."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from batch_media import compare_to_single, make_clip

from livebg.cli import main

pytest.importorskip("ray")
RAY = str(Path(sys.executable).with_name("ray"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray(*args: str) -> None:
    run = subprocess.run([RAY, *args], capture_output=True, text=True, timeout=120, check=False)
    if run.returncode != 0:  # say why: Ray's own message, not only its exit status
        raise RuntimeError(f"ray {' '.join(args[:2])} exited {run.returncode}:\n{(run.stdout + run.stderr)[-3000:]}")


def _start_head(temp: str) -> str:
    """A head node on a free port (its address); one more try on another port when Ray cannot
    start (another program may take one of the ports it picks in between)."""
    import ray.util

    for attempt in (1, 2):
        port = _free_port()
        try:
            _ray("start", "--head", "--port", str(port), "--num-cpus", "1", "--temp-dir", temp,
                 "--include-dashboard=false", "--disable-usage-stats")
            return f"{ray.util.get_node_ip_address()}:{port}"  # the address Ray's own processes use
        except RuntimeError as exc:
            subprocess.run([RAY, "stop", "--force"], capture_output=True, timeout=120, check=False)
            if attempt == 2:
                raise
            print(f"retrying the head node: {exc}", file=sys.stderr)
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def cluster():
    # Ray 2.60 nodes started by `ray start` authenticate with a token (~/.ray/auth_token): the
    # second node and the driver must be told so
    saved = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "token"
    temp = tempfile.mkdtemp(prefix="lbray-", dir="/tmp")  # short: Ray's socket paths live under it
    try:
        address = _start_head(temp)
        _ray("start", "--address", address, "--num-cpus", "1", "--disable-usage-stats")
        time.sleep(2)  # the second node registers
        yield address
    finally:
        subprocess.run([RAY, "stop", "--force"], capture_output=True, timeout=120, check=False)
        shutil.rmtree(temp, ignore_errors=True)
        if saved is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = saved


def test_two_nodes_run_one_batch(cluster, tmp_path):
    """The driver is a process of its own, as `livebg batch --ray ADDRESS` is run on a cluster."""
    clip = make_clip(tmp_path / "talk.mp4")
    single = tmp_path / "single.mp4"
    assert main(["video", str(clip), "-o", str(single), "--fast", "-q"]) == 0
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "livebg", "batch", str(clip), "-o", str(out), "--chunk-seconds", "1",
                          "--ray", cluster, "--fast"], capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "2 Ray actors on 2 nodes (1 CPU each)" in run.stderr
    compare_to_single(out / "talk_livebg.mp4", single, seams=[30, 60, 90])
