"""Running the livebg CLI in tests and checking how it fails: in this process (``run_cli``: the
exit status and the one ``livebg: error:`` line) or as a child process (``LivebgProcess``, for
signals), and the broken inputs the error tests give it (``make_bad_media``, the ``media``
fixture in conftest.py)."""
from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np

from livebg.cli import main
from tests.support.clips import write_clip, write_tone

SIZE = (160, 120)
FRAMES = 60  # frames of the valid noise video the bad inputs are made from


def write_audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=48000)
        stream.layout = "stereo"
        write_tone(out, stream, 1.0)
    return path


def write_zero_frames(path: Path) -> Path:
    """A container with a 64x48 video stream and no packets (AVI keeps the empty stream; MP4 drops it)."""
    out = av.open(str(path), "w")
    stream = out.add_stream("mpeg4", rate=30)
    stream.width, stream.height = 64, 48
    stream.pix_fmt = "yuv420p"
    out.start_encoding()
    out.close()
    return path


def make_bad_media(d: Path, shared: Path) -> dict[str, Path]:
    """In directory ``d``: a valid noise video (``valid``, moov at the end) and the broken videos,
    backgrounds and models made from it and from ../shared, by name."""
    valid = write_clip(d / "valid.mp4", picture="noise", frames=FRAMES, size=SIZE, rate=30, crf=30)  # moov at the end
    data = valid.read_bytes()
    assert data.find(b"moov") > data.find(b"mdat") > 0, "the fixture needs the moov atom at the end"
    files = {"valid": valid}
    files["text"] = d / "notes.mp4"
    files["text"].write_text("these are notes, not a video\n" * 40)
    files["truncated"] = d / "truncated.mp4"  # first half: the index (moov) is gone
    files["truncated"].write_bytes(data[: len(data) // 2])
    garbled = bytearray(data)
    n = len(data)
    garbled[n // 3: n // 3 + n // 6] = np.random.default_rng(1).integers(0, 256, n // 6, dtype=np.uint8).tobytes()
    files["garbled"] = d / "garbled.mp4"  # index intact, a sixth of the frame data replaced by noise
    files["garbled"].write_bytes(bytes(garbled))
    fast = write_clip(d / "faststart.mp4", picture="noise", frames=FRAMES, size=SIZE, rate=30, crf=30,
                      faststart=True).read_bytes()
    assert fast.find(b"moov") < fast.find(b"mdat")
    files["cut"] = d / "cut.mp4"  # index first, then half the frames: decodes until it runs out
    files["cut"].write_bytes(fast[: len(fast) // 2])
    with av.open(str(d / "faststart.mp4")) as c:
        positions = [p.pos for p in c.demux(video=0) if p.size]
    files["cut_at_packet"] = d / "cut_at_packet.mp4"  # cut exactly between two frames
    files["cut_at_packet"].write_bytes(fast[: positions[FRAMES // 2]])
    files["audio"] = write_audio_only(d / "song.m4a")
    files["zero"] = write_zero_frames(d / "empty.avi")
    with av.open(str(files["zero"])) as c:  # guard the fixture: a video stream, and no frames in it
        assert c.streams.video and c.streams.video[0].codec_context.width == 64
        assert sum(1 for _ in c.demux(video=0) if _.size) == 0
    bg = (shared / "media" / "backgrounds" / "porch-691330_1280.jpg").read_bytes()
    files["bad_bg"] = d / "corrupt.jpg"
    files["bad_bg"].write_bytes(bg[: len(bg) // 2])
    model = (shared / "models" / "mediapipe_selfie_256x256.onnx").read_bytes()
    files["bad_model"] = d / "cut.onnx"  # a download that stopped half way
    files["bad_model"].write_bytes(model[: len(model) // 2])
    files["text_model"] = d / "notes.onnx"
    files["text_model"].write_text("not a model\n")
    return files


def run_cli(capsys, args: list[str]) -> tuple[int, str, str]:
    """(exit status, the error line, all of stderr) of livebg.cli.main(args)."""
    capsys.readouterr()
    try:
        status = main([*args, "-q"])
    except SystemExit as exc:  # argparse errors
        status = exc.code
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("livebg: error:")]
    assert status != 0, f"exit status 0 for {args}; stderr:\n{err}"
    assert "Traceback" not in err, err
    assert len(errors) == 1, f"expected exactly one error line, got:\n{err}"
    return status, errors[0], err


def assert_empty(directory: Path) -> None:
    left = sorted(p.name for p in directory.iterdir())
    assert left == [], f"left behind in {directory}: {left}"


def assert_says(line: str, *needles: str) -> None:
    for needle in needles:
        assert needle.lower() in line.lower(), f"{needle!r} missing from: {line}"


# -- livebg as a child process (signals) -----------------------------------------------------------

SLOW_ENCODER = """
import sys, time
from livebg.cli import main
from livebg.sinks import VideoFileSink
write = VideoFileSink.write_i420
def slow_write(self, *args, **kwargs):
    time.sleep({seconds})
    return write(self, *args, **kwargs)
VideoFileSink.write_i420 = slow_write
sys.exit(main(sys.argv[1:]))
"""


class LivebgProcess:
    """`python -m livebg video …` in a subprocess, its stderr collected by a reader thread."""

    def __init__(self, args: list[str], cwd: Path, *, frame_seconds: float = 0.0, ignore_sigint: bool = False):
        """``frame_seconds``: the encoder takes at least this long a frame (a slow job, whose
        drain after a Ctrl-C lasts long enough for a second one). ``ignore_sigint``: start it
        with SIGINT ignored, as a non-interactive shell starts `livebg video … &`."""
        import signal

        command = [sys.executable, "-m", "livebg", *args]
        if frame_seconds:
            command[1:3] = ["-c", SLOW_ENCODER.format(seconds=frame_seconds)]
        setup = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None
        self.proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     preexec_fn=setup)
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for chunk in iter(lambda: self.proc.stderr.read1(4096), b""):
            self._chunks.append(chunk)

    @property
    def stderr(self) -> str:
        return b"".join(self._chunks).decode(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.stderr)
            if match:
                return match
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"{pattern!r} never appeared on stderr:\n{self.stderr}")

    def finish(self, timeout: float = 60) -> int:
        try:
            status = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        return status
