"""`livebg batch --ray` on a local Ray instance (one for the module: Ray is slow to start):
seams against a single run, a worker killed mid-chunk, a corrupt input among good ones."""
from __future__ import annotations

import pytest

from livebg.batch.chunk import CRASH_ONCE_ENV
from livebg.cli import main
from tests.support import batch_media
from tests.support.batch_media import compare_to_single

pytestmark = pytest.mark.ray

ray = pytest.importorskip("ray")
clip, single = batch_media.clip, batch_media.single  # the shared module fixtures
FAST = ["--fast", "-q"]


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


def test_ray_batch_gives_the_frames_timestamps_and_audio_of_a_single_run(clip, single, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["batch", str(clip), "-o", str(out), "--chunk-seconds", "1", "--ray", "local", "--workers", "2",
                 "--fast"]) == 0
    print("worst frame (mean |diff|, frame, distance from a seam):",
          compare_to_single(out / "talk_livebg.mp4", single, seams=[30, 60, 90]))
    err = capsys.readouterr().err
    assert "2 Ray actors on 1 node (1 CPU each)" in err and "chunks 4/4" in err
    assert sorted(p.name for p in out.iterdir()) == ["talk_livebg.mp4"]


def test_a_worker_killed_mid_chunk_is_retried(clip, single, tmp_path, monkeypatch, capsys):
    marker = tmp_path / "crashed"
    monkeypatch.setenv(CRASH_ONCE_ENV, f"2:{marker}")  # the actor's process ends halfway through chunk 2
    out = tmp_path / "out"
    assert main(["batch", str(clip), "-o", str(out), "--chunk-seconds", "1", "--ray", "local", *FAST]) == 0
    assert marker.exists()  # it did die
    compare_to_single(out / "talk_livebg.mp4", single, seams=[30, 60, 90])
    assert sorted(p.name for p in out.iterdir()) == ["talk_livebg.mp4"]


def test_a_corrupt_input_fails_alone_on_ray(clip, tmp_path, capsys):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + clip.read_bytes()[5000:9000])
    out = tmp_path / "out"
    code = main(["batch", str(clip), str(bad), "-o", str(out), "--chunk-seconds", "1", "--ray", "local", *FAST])
    err = capsys.readouterr().err
    assert code == 3
    assert (out / "talk_livebg.mp4").is_file() and not (out / "broken_livebg.mp4").exists()
    assert f"failed: {bad}:" in err and "1 written, 1 failed" in err
