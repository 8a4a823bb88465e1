"""`livebg batch` on this machine: inputs and manifests, the chunk plan, seams against a single
run, a corrupt input among good ones, --resume after an interrupted batch."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from livebg.batch.chunk import ChunkTask, ChunkWorker
from livebg.batch.local_runner import LocalRunner
from livebg.batch.plan import gather_jobs, plan_chunks, probe, read_manifest
from livebg.batch.run import run_jobs
from livebg.batch.runner import Runner
from livebg.batch.state import LOCK_NAME, STATE_NAME, WORK_NAME
from livebg.cli import main
from livebg.config import Config, apply_settings
from livebg.errors import ConfigError
from livebg.jobs.video import run_video
from tests.support import RVM_FILE, batch_media, write_clip
from tests.support.batch_media import CLIP_FRAMES, compare_to_single
from tests.support.cli_process import run_cli

clip, single = batch_media.clip, batch_media.single  # the shared module fixtures
FAST = ["--fast", "-q"]


def test_chunked_mattes_match_a_single_run_near_the_seams(clip, tmp_path):
    """The frame-range path itself: the alpha of every frame of the chunks against a single run."""
    config = apply_settings(Config(), fast=True)
    run_video(str(clip), tmp_path / "one.mp4", apply_settings(config, alpha_out=f"{tmp_path}/one/"), progress=False)
    chunks = plan_chunks(probe(clip), chunk_seconds=1.0)
    alphas = []
    for n, frames in enumerate(chunks):
        run_video(str(clip), tmp_path / f"c{n}.mp4", apply_settings(config, alpha_out=f"{tmp_path}/c{n}/", audio=False),
                  progress=False, frames=frames)
        alphas += sorted((tmp_path / f"c{n}").glob("*.png"))
    reference = sorted((tmp_path / "one").glob("*.png"))
    assert len(alphas) == len(reference) == CLIP_FRAMES
    import cv2

    diffs = [np.abs(cv2.imread(str(a), 0).astype(np.float32) - cv2.imread(str(b), 0)).mean() / 255
             for a, b in zip(alphas, reference)]
    assert np.mean(diffs) <= 0.005, diffs  # the goal for frames near seams; here every frame


def test_batch_gives_the_frames_timestamps_and_audio_of_a_single_run(clip, single, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["batch", str(clip), "-o", str(out), "--chunk-seconds", "1", "--workers", "2", *FAST]) == 0
    worst = compare_to_single(out / "talk_livebg.mp4", single, seams=[30, 60, 90])
    print("worst frame (mean |diff|, frame, distance from a seam):", worst)
    assert sorted(p.name for p in out.iterdir()) == ["talk_livebg.mp4"]  # no chunks, no state, no partials
    assert "1 written, 0 failed, 0 skipped" in capsys.readouterr().err


@pytest.mark.rvm
def test_rvm_chunks_match_a_single_run(clip, tmp_path):
    """The recurrent model: its state warmed by the pre-roll."""
    model = ["--model", "rvm", "--weights", str(RVM_FILE), "--infer-size", "128", "--no-download", "-q"]
    assert main(["video", str(clip), "-o", str(tmp_path / "one.mp4"), *model]) == 0
    assert main(["batch", str(clip), "-o", str(tmp_path / "out"), "--chunk-seconds", "1", *model]) == 0
    compare_to_single(tmp_path / "out" / "talk_livebg.mp4", tmp_path / "one.mp4", seams=[30, 60, 90])


def test_a_corrupt_input_fails_alone(clip, tmp_path, capsys):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(clip.read_bytes()[:3000])
    out = tmp_path / "out"
    code = main(["batch", str(bad), str(clip), "-o", str(out), "--chunk-seconds", "1", *FAST])
    err = capsys.readouterr().err
    assert code == 3
    assert (out / "talk_livebg.mp4").is_file() and not (out / "broken_livebg.mp4").exists()
    assert f"failed: {bad}:" in err and "1 written, 1 failed" in err
    assert (out / STATE_NAME).is_file()  # kept for --resume


class Interrupting(Runner):
    """A runner that is interrupted (as by Ctrl-C) after ``after`` chunks, and counts the chunks."""

    def __init__(self, inner: Runner, after: int | None = None):
        self.inner, self.after, self.ran = inner, after, []

    def describe(self) -> str:
        return self.inner.describe()

    def run(self, tasks, wanted):
        for event in self.inner.run(tasks, wanted):
            yield event
            if hasattr(event, "error"):
                self.ran.append(event.key)
                if self.after is not None and len(self.ran) == self.after:
                    raise KeyboardInterrupt

    def cancel(self) -> None:
        self.inner.cancel()

    def close(self) -> None:
        self.inner.close()


def test_resume_after_an_interrupted_batch_finishes_only_the_rest(clip, tmp_path):
    other = write_clip(tmp_path / "other.mp4", frames=60, preset="veryfast", gop=30, start=200)
    out = tmp_path / "out"
    out.mkdir()
    jobs = gather_jobs([str(clip), str(other)], [], out, apply_settings(Config(), fast=True))
    first = Interrupting(LocalRunner(1), after=2)
    try:
        summary = run_jobs(jobs, out, first, chunk_seconds=1.0, resume=False, progress=False)
    finally:
        first.close()
    assert summary.interrupted and first.ran == [(jobs[0].id, 0), (jobs[0].id, 1)]
    assert not list(out.glob("*.mp4"))
    assert not list((out / WORK_NAME).rglob(".*livebg-partial*"))
    second = Interrupting(LocalRunner(1))
    try:
        summary = run_jobs(jobs, out, second, chunk_seconds=1.0, resume=True, progress=False)
    finally:
        second.close()
    assert sorted(second.ran) == sorted([(jobs[0].id, 2), (jobs[0].id, 3), (jobs[1].id, 0), (jobs[1].id, 1)])
    assert [r.status for r in summary.runs] == ["written", "written"]
    assert sorted(p.name for p in out.iterdir()) == ["other_livebg.mp4", "talk_livebg.mp4"]
    # and once more: both outputs are there, nothing runs
    third = Interrupting(LocalRunner(1))
    try:
        summary = run_jobs(jobs, out, third, chunk_seconds=1.0, resume=True, progress=False)
    finally:
        third.close()
    assert third.ran == [] and [r.status for r in summary.runs] == ["skipped", "skipped"]


def test_manifest_jobs_have_their_own_settings_and_outputs(clip, tmp_path):
    manifest = tmp_path / "jobs.jsonl"
    manifest.write_text("\n".join([
        json.dumps({"input": str(clip), "output": "a.mkv", "bg": "white", "crf": 30}),
        "# a comment, and a blank line",
        "",
        json.dumps({"input": str(clip)}),
    ]))
    jobs = read_manifest(manifest, tmp_path / "out", apply_settings(Config(), fast=True))
    assert [j.output.name for j in jobs] == ["a.mkv", "talk_livebg.mp4"]
    assert jobs[0].config.background.bg == "white" and jobs[0].config.output.crf == 30
    assert jobs[1].config.output.crf == 20 and jobs[1].config.model.fast
    assert jobs[0].origin == "jobs.jsonl line 1"


@pytest.mark.parametrize("line, message", [
    ("{not json", "jobs.jsonl line 2: not JSON"),
    ('["a.mp4"]', "jobs.jsonl line 2: a line must be a JSON object"),
    ('{"output": "x.mp4"}', 'jobs.jsonl line 2: no "input"'),
    ('{"input": "CLIP", "colour": "red"}', "jobs.jsonl line 2: unknown key 'colour'"),
    ('{"input": "CLIP", "crf": "high"}', "jobs.jsonl line 2: setting [output] crf = 'high' has the wrong type"),
    ('{"input": "CLIP", "crf": 99}', "jobs.jsonl line 2: crf 99 is out of range"),
    ('{"input": "missing.mp4"}', "jobs.jsonl line 2: input not found"),
    ('{"input": "CLIP", "output": "x.png"}', 'jobs.jsonl line 2: "output" x.png: use a video extension'),
])
def test_bad_manifest_lines_are_named_by_number(clip, tmp_path, capsys, line, message):
    manifest = tmp_path / "jobs.jsonl"
    manifest.write_text(json.dumps({"input": str(clip)}) + "\n" + line.replace("CLIP", str(clip)) + "\n" + "{bad\n")
    with pytest.raises(ConfigError) as caught:
        read_manifest(manifest, tmp_path, Config())
    assert str(caught.value).startswith(message) and "(and 1 more bad line)" in str(caught.value)
    assert main(["batch", "--manifest", str(manifest), "-o", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"livebg: error: {message}") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()  # nothing was started


def test_colliding_outputs_are_numbered_and_avi_is_refused(clip, tmp_path, capsys):
    (tmp_path / "b").mkdir()
    twin = tmp_path / "b" / "talk.mp4"
    twin.write_bytes(clip.read_bytes())
    jobs = gather_jobs([str(clip), str(twin)], [], tmp_path / "out", Config())
    assert [j.output.name for j in jobs] == ["talk_livebg.mp4", "talk_livebg_2.mp4"]
    manifest = tmp_path / "jobs.jsonl"
    manifest.write_text(json.dumps({"input": str(clip), "output": "a.avi"}) + "\n")
    assert main(["batch", str(manifest), "-o", str(tmp_path / "out"), "-q"]) == 2
    assert ".avi" in capsys.readouterr().err


def test_a_worker_that_cannot_read_the_input_says_so(clip, tmp_path):
    chunks = plan_chunks(probe(clip), chunk_seconds=1.0)
    task = ChunkTask("job", 1, str(tmp_path / "gone.mp4"), str(tmp_path / "c.mp4"), Config(), chunks[1])
    result = ChunkWorker().run(task, lambda key, frames: None)
    assert "cannot read" in result.error and "shared storage" in result.error


HOLD_OUT_DIR = """
import sys
from pathlib import Path
from livebg.batch.state import BatchState
with BatchState(Path(sys.argv[1]), resume=False) as state:
    state.save()
    print("holding", flush=True)
    sys.stdin.read()  # until the test closes it
"""


def test_a_second_batch_on_the_same_out_dir_is_refused_in_one_line(clip, tmp_path, capsys):
    """Two drivers on one OUT_DIR would share the state file (the second, without --resume,
    deletes it) and the chunks: the second is refused while the first, another process, runs."""
    out = tmp_path / "out"
    out.mkdir()
    first = subprocess.Popen([sys.executable, "-c", HOLD_OUT_DIR, str(out)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "holding"
        state_before = (out / STATE_NAME).read_bytes()
        for resume in ([], ["--resume"]):
            status, line, _ = run_cli(capsys, ["batch", str(clip), "-o", str(out), "--fast", *resume])
            assert status == 2 and line == (f"livebg: error: another livebg batch is running in {out}: wait for it "
                                            f"to end, or give another -o folder")
        assert (out / STATE_NAME).read_bytes() == state_before  # the first batch's state untouched
        assert not (out / WORK_NAME).exists() or not list((out / WORK_NAME).iterdir())
    finally:
        first.communicate("", timeout=60)
    assert first.returncode == 0
    assert not (out / LOCK_NAME).exists()  # the lock goes with the batch that held it
