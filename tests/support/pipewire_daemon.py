"""A private PipeWire session for the PipeWire camera's tests and benchmark: a session D-Bus,
``pipewire`` and ``wireplumber`` started as children under a fresh XDG_RUNTIME_DIR (mode 0700)
and stopped after, only these processes; and a reader of a camera node through GStreamer's
``pipewiresrc`` (another client library than livebg's, as the apps are).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

TOOLS = {"dbus-daemon": "dbus-daemon", "pipewire": "pipewire", "wireplumber": "wireplumber",
         "pw-cli": "pipewire-bin", "gst-launch-1.0": "gstreamer1.0-tools"}
INSTALL = ("sudo apt-get install -y pipewire wireplumber dbus-daemon gstreamer1.0-tools "
           "gstreamer1.0-pipewire gstreamer1.0-plugins-base gstreamer1.0-plugins-good")


class PipeWireSession:
    """``with PipeWireSession() as session:`` ``session.env`` is the environment that joins it."""

    def __init__(self, *, timeout: float = 15.0):
        missing = [tool for tool in TOOLS if shutil.which(tool) is None]
        if missing:
            raise RuntimeError(f"the PipeWire tests need {', '.join(missing)}: {INSTALL} (or bash scripts/setup.sh)")
        self.runtime = Path(tempfile.mkdtemp(prefix="livebg-pw-"))
        self.runtime.chmod(0o700)
        self.children: list[subprocess.Popen] = []
        env = {k: v for k, v in os.environ.items()
               if k not in ("PIPEWIRE_REMOTE", "PIPEWIRE_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS")}
        env["XDG_RUNTIME_DIR"] = str(self.runtime)
        try:
            bus = f"unix:path={self.runtime}/bus"
            self._start(["dbus-daemon", "--session", "--nofork", "--nopidfile", f"--address={bus}"], env)
            env["DBUS_SESSION_BUS_ADDRESS"] = bus
            self._wait(lambda: (self.runtime / "bus").exists(), timeout, "the session D-Bus")
            self.env = env
            self._start(["pipewire"], env)
            self._wait(lambda: (self.runtime / "pipewire-0").exists(), timeout, "pipewire")
            self._start(["wireplumber"], env)
            self._wait(self._session_manager_up, timeout, "wireplumber")
        except BaseException:
            self.close()
            raise

    def _start(self, argv: list[str], env: dict) -> None:
        log = open(self.runtime / f"{argv[0]}.log", "wb")
        self.children.append(subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                              stderr=subprocess.STDOUT))
        log.close()

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            for child in self.children:
                if child.poll() is not None:
                    raise RuntimeError(f"{child.args[0]} exited with {child.returncode}: {self.log(child.args[0])}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start within {timeout:.0f} s")
            time.sleep(0.05)

    def _session_manager_up(self) -> bool:
        out = subprocess.run(["pw-cli", "ls", "Client"], env=self.env, capture_output=True, text=True, timeout=10)
        return "WirePlumber" in out.stdout

    def log(self, name: str) -> str:
        path = self.runtime / f"{name}.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def nodes(self) -> str:
        return subprocess.run(["pw-cli", "ls", "Node"], env=self.env, capture_output=True, text=True,
                              timeout=10).stdout

    def wait_for_node(self, name: str, timeout: float = 10.0) -> None:
        self._wait(lambda: f'node.name = "{name}"' in self.nodes(), timeout, f"the node {name}")

    def close(self) -> None:
        for child in reversed(self.children):  # wireplumber, pipewire, then the bus
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(5)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait(5)
        self.children = []
        shutil.rmtree(self.runtime, ignore_errors=True)

    def __enter__(self) -> "PipeWireSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class GstReader:
    """Reads the I420 frames of the camera node ``name`` with ``gst-launch-1.0 pipewiresrc``;
    ``frames`` holds (perf_counter time received, bytes). ``stop(kill=True)`` ends it as a crash would."""

    def __init__(self, env: dict, name: str, width: int, height: int):
        self.frame_bytes = width * height * 3 // 2
        self.frames: list[tuple[float, bytes]] = []
        caps = f"video/x-raw,format=I420,width={width},height={height}"
        self.process = subprocess.Popen(
            ["gst-launch-1.0", "-q", "-e", "pipewiresrc", f"target-object={name}", "always-copy=true", "!", caps, "!",
             "fdsink", "fd=1", "sync=false"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        self._thread = threading.Thread(target=self._read, name="gst-reader", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        while True:
            data = self.process.stdout.read(self.frame_bytes)
            if len(data) < self.frame_bytes:
                return
            self.frames.append((time.perf_counter(), data))

    def wait_frames(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while len(self.frames) < count and time.monotonic() < deadline and self.process.poll() is None:
            time.sleep(0.02)
        return len(self.frames) >= count

    def stop(self, *, kill: bool = False) -> str:
        """Ends the reader; its stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGINT)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._thread.join(5)
        assert self.process.stderr is not None
        return self.process.stderr.read().decode(errors="replace")
