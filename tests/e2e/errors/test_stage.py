"""A stage that fails part way through a job: the error reaches the caller promptly (no hang)
and nothing is left in the output directory."""
from __future__ import annotations

import threading
import time
from fractions import Fraction

import pytest

from livebg.config import Config
from livebg.jobs import run_video
from tests.support import ConstantSegmenter, write_clip
from tests.support.cli_process import assert_empty


def test_failing_stage_raises_promptly_and_leaves_nothing(tmp_path):
    source = write_clip(tmp_path / "input.mov", picture="index", frames=200, rate=Fraction(30), size=(96, 64))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    outcome: dict[str, BaseException] = {}

    def job():
        try:
            run_video(str(source), out_dir / "out.mp4", Config(), segmenter=ConstantSegmenter(0.5, fail_at=5),
                      progress=False)
        except BaseException as exc:  # handed to the test thread
            outcome["error"] = exc

    started = time.perf_counter()
    worker = threading.Thread(target=job, daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "run_video hung after the segmenter failed"
    assert time.perf_counter() - started < 30
    error = outcome.get("error")
    assert isinstance(error, RuntimeError) and "on purpose" in str(error), repr(error)
    assert_empty(out_dir)


def test_failing_stage_into_png_directory_leaves_nothing(tmp_path):
    source = write_clip(tmp_path / "input.mov", picture="index", frames=40, rate=Fraction(30), size=(96, 64))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(RuntimeError, match="on purpose"):
        run_video(str(source), out_dir / "frames", Config(), segmenter=ConstantSegmenter(0.5, fail_at=5), progress=False)
    assert_empty(out_dir)
