"""`livebg batch` stopped by SIGTERM, as a scheduler, `timeout` or systemd stops it (the signal
to the whole process group, twice): it stops as at the first Ctrl-C, keeps the chunks done and
a whole state file, and `--resume` finishes only the rest."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

from livebg.batch.state import STATE_NAME, WORK_NAME
from tests.support import batch_media, write_clip
from tests.support.batch_media import CLIP_FRAMES

clip = batch_media.clip  # the shared module fixture


def chunks_done(out) -> int:
    try:
        state = json.loads((out / STATE_NAME).read_text())
    except (OSError, ValueError):
        return 0  # not written yet (it is replaced whole, never seen half-written)
    return sum(len(job["done"]) for job in state["jobs"].values())


def test_sigterm_stops_like_ctrl_c_and_resume_finishes_the_rest(clip, tmp_path):
    other = write_clip(tmp_path / "other.mp4", frames=60, preset="veryfast", gop=30, start=200)
    out = tmp_path / "out"
    args = ["batch", str(clip), str(other), "-o", str(out), "--chunk-seconds", "1", "--workers", "1", "--fast"]
    proc = subprocess.Popen([sys.executable, "-m", "livebg", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # its own group: signalled as `timeout` does
    try:
        deadline = time.monotonic() + 120
        while chunks_done(out) < 1:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "no chunk was done in 120 s"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGTERM)  # the driver and its worker
        os.killpg(proc.pid, signal.SIGTERM)  # and again at once, as `timeout` does
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # stopped as at Ctrl-C, then ended by the SIGTERM it was sent
    assert proc.returncode == -signal.SIGTERM, err
    assert "Traceback" not in err, err
    assert "interrupted — stopping the workers; finished jobs are kept" in err, err
    assert "not finished (interrupted: run again with --resume)" in err, err
    state = json.loads((out / STATE_NAME).read_text())  # whole: valid JSON
    done = {key: job["done"] for key, job in state["jobs"].items()}
    assert sum(map(len, done.values())) >= 1
    for key, numbers in done.items():  # every chunk it lists as done is there
        for n in numbers:
            assert list((out / WORK_NAME / key).glob(f"chunk-{n:05d}.*")), (key, n)
    left = [p.name for p in out.rglob("*") if "livebg-partial" in p.name]
    assert left == [], left  # no half-written chunk, output or state file
    written_before = sum(1 for p in out.glob("*.mp4"))
    assert written_before < 2, "the batch ended before the stop: nothing was left to resume"

    # --resume: the rest only, and then nothing of the batch's own is left
    with_resume = subprocess.run([sys.executable, "-m", "livebg", *args, "--resume"], capture_output=True, text=True,
                                 timeout=300)
    assert with_resume.returncode == 0, with_resume.stderr
    assert sorted(p.name for p in out.iterdir()) == ["other_livebg.mp4", "talk_livebg.mp4"]
    frames = int(re.search(r"— (\d+) frames in", with_resume.stderr).group(1))
    assert 0 < frames <= CLIP_FRAMES + 60 - 30  # at least the one chunk done before the stop was not done again
    for name, count in (("talk_livebg.mp4", CLIP_FRAMES), ("other_livebg.mp4", 60)):
        assert len(batch_media.decoded(out / name)[1]) == count


def test_the_first_stop_only_raises_once():
    """Later signals while a batch stops are noted, not raised into its clean-up."""
    from livebg.signals import first_stop_only

    caught: list = []
    raised = 0
    with first_stop_only(caught):
        for _ in range(3):
            try:
                signal.raise_signal(signal.SIGINT)
                time.sleep(0.01)
            except KeyboardInterrupt:
                raised += 1
    assert raised == 1 and len(caught) == 3
