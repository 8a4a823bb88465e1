"""Stopping a job: Ctrl-C and SIGTERM keep the frames done so far, coreutils' `timeout` (the
signal twice at once) is one stop, a second Ctrl-C abandons the file, and livebg's SIGTERM
handler is put back when it returns."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import av
import pytest

from livebg.cli import main
from livebg.signals import SAME_STOP_SECONDS
from tests.support.cli_process import FRAMES, SLOW_ENCODER, LivebgProcess


def test_sigterm_handler_is_restored_and_a_foreign_one_left_alone(tmp_path, shared, monkeypatch):
    photo = shared / "media" / "portraits" / "doctor-5871743_640.jpg"
    before = signal.getsignal(signal.SIGTERM)
    set_signal = signal.signal
    installed = []
    monkeypatch.setattr(signal, "signal", lambda sig, handler: installed.append(handler) or set_signal(sig, handler))
    try:
        set_signal(signal.SIGTERM, signal.SIG_DFL)
        assert main(["image", str(photo), "-o", str(tmp_path / "a.jpg"), "-q"]) == 0
        assert len(installed) == 2 and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # set, then put back

        def host_handler(signum, frame):  # a program that runs livebg's main() and has its own
            pass

        set_signal(signal.SIGTERM, host_handler)
        installed.clear()
        assert main(["image", str(photo), "-o", str(tmp_path / "b.jpg"), "-q"]) == 0
        assert installed == [] and signal.getsignal(signal.SIGTERM) is host_handler
    finally:
        set_signal(signal.SIGTERM, before)


# -- Ctrl-C during `livebg video` ------------------------------------------------------------------

def frames_flowing(proc: LivebgProcess, seconds: float) -> None:
    """Wait for the job's start line (the model is loaded, the pipeline starts right after it),
    then let frames flow for ``seconds``."""
    proc.wait_for(r"760 frames -> OUT\.mp4")
    # the progress bar has counted a frame: the pipeline (and its signal handling) is running,
    # not still warming up after the start line on a loaded machine
    proc.wait_for(r"\| *[1-9][0-9]*/760", timeout=60)
    time.sleep(seconds)
    assert proc.proc.poll() is None, f"the job ended before the interrupt:\n{proc.stderr}"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])  # Ctrl-C; kill or timeout
def test_ctrl_c_keeps_the_frames_done_so_far(tmp_path, shared, sig):
    proc = LivebgProcess(["video", str(shared / "media" / "videos" / "doctor_960x540.mp4"), "-o", "OUT.mp4"], tmp_path)
    frames_flowing(proc, 2.0)
    proc.proc.send_signal(sig)
    status = proc.finish()
    err = proc.stderr
    # Ctrl-C exits 130; after SIGTERM the file is finished too, and then the process still ends
    # by SIGTERM, as whoever sent it expects
    assert status == (130 if sig == signal.SIGINT else -signal.SIGTERM), err
    assert "Traceback" not in err, err
    assert "frames done so far" in err, err
    assert sorted(os.listdir(tmp_path)) == ["OUT.mp4"], os.listdir(tmp_path)
    with av.open(str(tmp_path / "OUT.mp4")) as c:
        stream = c.streams.video[0]
        assert (stream.width, stream.height) == (960, 540)
        decoded = sum(1 for _ in c.decode(stream))
    assert 0 < decoded < 760
    written = int(re.search(r"wrote OUT\.mp4: (\d+) frames", err).group(1))
    assert written == decoded


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_timeout_keeps_the_frames_done_so_far(tmp_path, shared, sig):
    """coreutils' `timeout` signals livebg and then its whole process group, so livebg gets the
    signal twice at once: that is one stop, not "Ctrl-C again". (It abandoned the file in 3 of 5
    runs with stderr going to a file.)"""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    command = ["timeout", "--preserve-status", "-s", sig.name[3:], "8",  # 8 s: the model is loaded by then
               sys.executable, "-c", SLOW_ENCODER.format(seconds=0.04),  # 25 fps at most: 30 s for the whole video
               "video", str(shared / "media" / "videos" / "doctor_960x540.mp4"), "-o", "OUT.mp4"]
    with open(tmp_path / "stderr.txt", "wb") as stderr:
        status = subprocess.run(command, cwd=out_dir, stdout=subprocess.DEVNULL, stderr=stderr, timeout=120).returncode
    err = (tmp_path / "stderr.txt").read_text(errors="replace")
    assert status == 128 + sig, err  # livebg's own status (130 for Ctrl-C; ended by SIGTERM, as asked)
    assert "Traceback" not in err and "nothing was written" not in err, err
    assert os.listdir(out_dir) == ["OUT.mp4"]
    with av.open(str(out_dir / "OUT.mp4")) as c:
        decoded = sum(1 for _ in c.decode(video=0))
    assert 0 < decoded < 760
    assert f"wrote OUT.mp4: {decoded} frames" in err, err


def test_ctrl_c_twice_abandons_the_file(tmp_path, shared):
    # 0.1 s a frame: the frames in flight (a dozen or more) take over a second to drain
    proc = LivebgProcess(["video", str(shared / "media" / "videos" / "doctor_960x540.mp4"), "-o", "OUT.mp4"], tmp_path,
                         frame_seconds=0.1)
    frames_flowing(proc, 1.0)
    proc.proc.send_signal(signal.SIGINT)
    proc.wait_for("Ctrl-C again", timeout=10)  # the first one was taken: now abandon
    time.sleep(SAME_STOP_SECONDS)  # as a person does: sooner is the first signal repeated
    proc.proc.send_signal(signal.SIGINT)
    status = proc.finish()
    err = proc.stderr
    assert status == 130, err
    assert "Traceback" not in err, err
    assert "nothing was written" in err, err
    assert os.listdir(tmp_path) == [], os.listdir(tmp_path)


def test_a_quick_second_ctrl_c_abandons_the_file(tmp_path, shared):
    """Two presses 0.3 s apart (a quick double press) abandon the job; only signals microseconds
    apart (`timeout` signalling the process and then its group) count as one."""
    proc = LivebgProcess(["video", str(shared / "media" / "videos" / "doctor_960x540.mp4"), "-o", "OUT.mp4"], tmp_path,
                         frame_seconds=0.1)
    frames_flowing(proc, 1.0)
    proc.proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.proc.send_signal(signal.SIGINT)
    status = proc.finish()
    assert status == 130, proc.stderr
    assert "nothing was written" in proc.stderr
    assert os.listdir(tmp_path) == []


def test_a_job_started_with_sigint_ignored_still_stops_on_sigint(tmp_path, shared):
    """`livebg video … &` from a script inherits SIGINT ignored: kill -INT used to do nothing."""
    proc = LivebgProcess(["video", str(shared / "media" / "videos" / "doctor_960x540.mp4"), "-o", "OUT.mp4"], tmp_path,
                         ignore_sigint=True)
    frames_flowing(proc, 1.0)
    proc.proc.send_signal(signal.SIGINT)
    status = proc.finish()
    assert status == 130, proc.stderr
    with av.open(str(tmp_path / "OUT.mp4")) as c:
        assert 0 < sum(1 for _ in c.decode(video=0)) < 760


# -- Ctrl-C while the file is being finished ---------------------------------------------------------

@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_while_the_encoder_flushes(tmp_path, media, monkeypatch, capsys, presses):
    """The pipeline's signal handling ended before ``sink.close()``: a first Ctrl-C while x264
    flushed its last frames raised there and the finished job lost its file. Now the first one
    lets the file be finished, whole; a second one (a person's, not the first repeated) abandons
    it and nothing is left."""
    from livebg.sinks.video import VideoFileSink

    close = VideoFileSink.close

    def close_with_ctrl_c(self):
        signal.raise_signal(signal.SIGINT)
        if presses == 2:
            time.sleep(SAME_STOP_SECONDS + 0.1)
            signal.raise_signal(signal.SIGINT)
        return close(self)

    monkeypatch.setattr(VideoFileSink, "close", close_with_ctrl_c)
    out = tmp_path / "out.mp4"
    capsys.readouterr()
    status = main(["video", str(media["valid"]), "--bg", "white", "-o", str(out)])
    err = capsys.readouterr().err
    assert status == 130 and "Traceback" not in err, err
    if presses == 1:
        with av.open(str(out)) as c:
            assert sum(1 for _ in c.decode(video=0)) == FRAMES
        assert f"wrote {out}: {FRAMES} frames" in err, err
        assert sorted(os.listdir(tmp_path)) == ["out.mp4"]
    else:
        assert "nothing was written" in err, err
        assert os.listdir(tmp_path) == []
