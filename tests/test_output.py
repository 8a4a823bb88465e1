"""Two jobs, one output path: each writes under a temporary name of its own, the last rename
wins whole, and partial files left by a killed run are removed (and said) on the next run."""
from __future__ import annotations

import subprocess
import sys
import time
from fractions import Fraction

import av

from livebg.output import PARTIAL_TAG, partial_path
from tests.support import REPO, write_clip


def frames_in(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_two_jobs_writing_the_same_output_both_finish_and_the_file_is_whole(tmp_path):
    clip = write_clip(tmp_path / "in.mp4", picture="index", frames=40, rate=Fraction(25), size=(320, 180))
    out = tmp_path / "same.mp4"
    command = [sys.executable, "-m", "livebg", "video", str(clip), "-o", str(out), "--bg", "white"]
    jobs = [subprocess.Popen(command, cwd=REPO, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(job.wait(timeout=300), job.stderr.read()) for job in jobs]
    for status, err in results:
        assert status == 0, err
        assert f"wrote {out}" in err
    assert frames_in(out) == 40  # whole: one job's file, not a mix
    assert [p.name for p in tmp_path.iterdir() if PARTIAL_TAG in p.name] == []


def test_temporary_names_are_unique_per_job():
    final = REPO / "x.mp4"
    a, b = partial_path(final), partial_path(final)
    assert a != b and a.parent == final.parent and a.suffix == ".mp4" and a.name.startswith(".x")


def test_partials_of_a_killed_run_are_removed_and_said(tmp_path):
    clip = write_clip(tmp_path / "in.mp4", picture="index", frames=5, rate=Fraction(25), size=(160, 96))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    # a run killed with -9 left these (its process id is no more), and a running job has one
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = out_dir / f".old{PARTIAL_TAG}{dead.stdout.strip()}-abcd1234.mp4"
    stale.write_bytes(b"half a file")
    stale_frames = out_dir / f".frames{PARTIAL_TAG}{dead.stdout.strip()}-abcd1235"
    stale_frames.mkdir()
    (stale_frames / "00000.png").write_bytes(b"png")
    import os

    running = out_dir / f".busy{PARTIAL_TAG}{os.getppid()}-abcd1236.mp4"  # pytest's parent: alive
    running.write_bytes(b"being written")
    hour_ago = time.time() - 3600
    for path in (stale, stale_frames):
        os.utime(path, (hour_ago, hour_ago))
    # a process id unknown here but a file written just now: maybe a job on another machine
    # writing into a shared folder; kept
    recent = out_dir / f".other{PARTIAL_TAG}{dead.stdout.strip()}-abcd1237.mp4"
    recent.write_bytes(b"someone else's")
    result = subprocess.run([sys.executable, "-m", "livebg", "video", str(clip), "-o", str(out_dir / "new.mp4"),
                             "--bg", "white", "-q"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "removed 2 partial files" in result.stderr and "killed" in result.stderr
    assert not stale.exists() and not stale_frames.exists()
    assert running.exists() and recent.exists()
    assert frames_in(out_dir / "new.mp4") == 5
