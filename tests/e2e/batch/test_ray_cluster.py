"""`livebg batch --ray ADDRESS` on a cluster of two Ray nodes started on this machine (`ray start
--head` and `ray start --address`, one CPU each, on a port and a temporary folder of their own),
so the paths of several nodes run here: one actor per node, chunks spread over both.

Only the processes this test started are stopped, never with `ray stop` (which stops every Ray
process on the machine, a user's own cluster included): each `ray start` runs with a marker in
its environment, which every process it spawns inherits, and the teardown signals exactly the
processes that carry it."""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from livebg.cli import main
from tests.support import write_clip
from tests.support.batch_media import CLIP_FRAMES, compare_to_single

pytest.importorskip("ray")
pytestmark = pytest.mark.ray
RAY = str(Path(sys.executable).with_name("ray"))
MARKER = "LIVEBG_TEST_RAY_NODE"  # in the environment of every process the test's nodes spawn


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray(*args: str, tag: str) -> None:
    env = {**os.environ, MARKER: tag}
    run = subprocess.run([RAY, *args], capture_output=True, text=True, timeout=120, check=False, env=env)
    if run.returncode != 0:  # say why: Ray's own message, not only its exit status
        raise RuntimeError(f"ray {' '.join(args[:2])} exited {run.returncode}:\n{(run.stdout + run.stderr)[-3000:]}")


def _processes() -> dict[int, tuple[int, int, bytes]]:
    """pid -> (parent pid, start time, environment) of every live process (zombies left out)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or another user's
            continue
        if fields[0] != "Z":
            table[int(entry.name)] = (int(fields[1]), int(fields[19]), environ)
    return table


class NodeProcesses:
    """The processes of the test's Ray nodes: those whose environment carries ``MARKER=tag`` and
    their descendants (Ray's agents rename themselves, which hides their environment), each
    remembered with its start time once seen, so a reused pid is never taken for one of them."""

    def __init__(self, tag: str):
        self.needle = f"{MARKER}={tag}".encode()
        self.seen: dict[int, int] = {}

    def alive(self) -> list[int]:
        table = _processes()
        ours = {pid for pid, (_, _, env) in table.items() if self.needle in env.split(b"\0")}
        ours |= {pid for pid, started in self.seen.items() if pid in table and table[pid][1] == started}
        ours.discard(os.getpid())
        grown = True
        while grown:
            children = {pid for pid, (parent, _, _) in table.items() if parent in ours} - ours
            ours |= children
            grown = bool(children)
        self.seen.update({pid: table[pid][1] for pid in ours})
        return sorted(ours)

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM to every one, then SIGKILL to any left after ``grace`` s (a node's GCS server
        takes longer than that to end on SIGTERM; `ray stop --force` sends SIGKILL at once)."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = self.alive()
            deadline = time.monotonic() + grace
            while pids and time.monotonic() < deadline:
                for pid in pids:
                    try:
                        os.kill(pid, sig)
                    except ProcessLookupError:
                        pass
                time.sleep(0.2)
                pids = self.alive()
            if not pids:
                return


def _start_head(temp: str, tag: str, nodes: NodeProcesses) -> str:
    """A head node on a free port (its address); one more try on another port when Ray cannot
    start (another program may take one of the ports it picks in between)."""
    import ray.util

    for attempt in (1, 2):
        port = _free_port()
        try:
            _ray("start", "--head", "--port", str(port), "--num-cpus", "1", "--temp-dir", temp,
                 "--include-dashboard=false", "--disable-usage-stats", tag=tag)
            return f"{ray.util.get_node_ip_address()}:{port}"  # the address Ray's own processes use
        except RuntimeError as exc:
            nodes.stop()
            if attempt == 2:
                raise
            print(f"retrying the head node: {exc}", file=sys.stderr)
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def cluster():
    # Ray 2.60 nodes started by `ray start` authenticate with a token: the nodes and the driver
    # get one of the test's own in their environment (never the user's ~/.ray/auth_token)
    saved = {key: os.environ.get(key) for key in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    os.environ["RAY_AUTH_MODE"] = "token"
    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    temp = tempfile.mkdtemp(prefix="lbray-", dir="/tmp")  # short: Ray's socket paths live under it
    tag = uuid.uuid4().hex
    nodes = NodeProcesses(tag)
    try:
        address = _start_head(temp, tag, nodes)
        _ray("start", "--address", address, "--num-cpus", "1", "--disable-usage-stats", tag=tag)
        time.sleep(2)  # the second node registers
        yield address
    finally:
        nodes.stop()
        left = nodes.alive()
        shutil.rmtree(temp, ignore_errors=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert not left, f"processes of the test's Ray nodes outlived the teardown: {left}"


def test_two_nodes_run_one_batch(cluster, tmp_path):
    """The driver is a process of its own, as `livebg batch --ray ADDRESS` is run on a cluster."""
    clip = write_clip(tmp_path / "talk.mp4", frames=CLIP_FRAMES, preset="veryfast", gop=30, audio=True)
    single = tmp_path / "single.mp4"
    assert main(["video", str(clip), "-o", str(single), "--fast", "-q"]) == 0
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "livebg", "batch", str(clip), "-o", str(out), "--chunk-seconds", "1",
                          "--ray", cluster, "--fast"], capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "2 Ray actors on 2 nodes (1 CPU each)" in run.stderr
    compare_to_single(out / "talk_livebg.mp4", single, seams=[30, 60, 90])


def test_teardown_stops_only_the_processes_it_started(tmp_path):
    """A process outside the test (a user's own Ray node, say) survives; the tagged ones and
    their children (whose environment does not show the tag) end, SIGTERM first and SIGKILL for
    one that ignores it."""
    tag = uuid.uuid4().hex
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
    parent = ("import subprocess, sys, time; subprocess.Popen(['sleep', '600'], env={}); "
              "print('started', flush=True); time.sleep(600)")
    ours = [subprocess.Popen(["sleep", "600"], env={**os.environ, MARKER: tag}),
            subprocess.Popen([sys.executable, "-c", stubborn], env={**os.environ, MARKER: tag}),
            subprocess.Popen([sys.executable, "-c", parent], env={**os.environ, MARKER: tag}, stdout=subprocess.PIPE)]
    theirs = subprocess.Popen(["sleep", "600"], env={**os.environ, MARKER: "someone-else"})
    try:
        assert ours[2].stdout.readline() == b"started\n"
        time.sleep(0.5)  # the stubborn one has set its handler
        nodes = NodeProcesses(tag)
        found = nodes.alive()
        child = [pid for pid in found if pid not in {p.pid for p in ours}]
        assert len(found) == 4 and len(child) == 1, found
        nodes.stop(grace=2)
        for p in ours:
            assert p.wait(timeout=10) is not None
        assert theirs.poll() is None
        assert nodes.alive() == []
        assert child[0] not in _processes()
    finally:
        for p in (*ours, theirs):
            p.kill()
            p.wait()
