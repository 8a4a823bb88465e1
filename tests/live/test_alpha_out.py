"""`livebg cam --alpha-out DIR`: the matte composited onto each output frame, by source frame
index, so that live quality can be scored with the mask's age included."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import pyvirtualcam.camera

from livebg.cli import main
from livebg.config import ModelConfig
from livebg.segment import factory
from tests.support.fakes import SlowSegmenter
from tests.support.live_fakes import DOCTOR, REPO, first_frame, recording_backend

pytestmark = pytest.mark.live_timing


@pytest.fixture
def rgb_backend():
    name = "livebg-test-alpha-rgb"
    record = recording_backend(name, native="RGB")
    yield name, record
    pyvirtualcam.camera.BACKENDS.pop(name, None)


def pngs(directory) -> dict[int, np.ndarray]:
    return {int(p.stem): cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in sorted(directory.glob("*.png"))}


def test_each_output_frame_has_the_matte_it_was_composited_with(tmp_path, rgb_backend, capsys):
    name, record = rgb_backend
    out, stats_file = tmp_path / "alpha", tmp_path / "stats.json"
    code = main(["cam", "--source", str(DOCTOR), "--vcam-backend", name, "--duration", "2", "--bg", "#0000ff",
                 "--alpha-out", str(out), "--stats-json", str(stats_file), "--model", "selfie"])
    assert code == 0, capsys.readouterr().err
    stats = json.loads(stats_file.read_text())
    mattes = pngs(out)
    assert len(mattes) == stats["frames_out"] == stats["alpha_out_frames"] == len(record.frames)
    assert sorted(mattes) == list(range(stats["frames_out"]))  # nothing dropped: 0, 1, 2, ...
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]
    for index in (0, len(mattes) // 2, len(mattes) - 1):
        alpha = mattes[index]
        assert alpha.shape == (540, 960) and alpha.dtype == np.uint8
        assert 0.1 < (alpha > 127).mean() < 0.8  # the doctor, not all or nothing
        shown = record.rgb(index).astype(np.int16)
        # the output is the frame over blue by exactly this matte: pure blue where it is 0
        assert np.abs(shown[alpha == 0] - (0, 0, 255)).max() <= 2
    # ... and the first frame itself where it is 255
    full = mattes[0] == 255
    assert np.abs(record.rgb(0).astype(np.int16)[full] - first_frame().astype(np.int16)[full]).max() <= 2


def test_a_slow_model_drops_frames_and_the_names_say_which_were_shown(tmp_path, monkeypatch, capsys, rgb_backend):
    selfie, _ = factory.load_segmenter(ModelConfig(name="selfie"))
    monkeypatch.setattr(factory, "load_segmenter", lambda config, **kw: (SlowSegmenter(selfie, 0.3), "slow on purpose"))
    name, _ = rgb_backend
    out, stats_file = tmp_path / "alpha", tmp_path / "stats.json"
    assert main(["cam", "--source", str(DOCTOR), "--vcam-backend", name, "--duration", "2", "--alpha-out", str(out),
                 "--stats-json", str(stats_file)]) == 0, capsys.readouterr().err
    stats = json.loads(stats_file.read_text())
    indices = sorted(pngs(out))
    assert len(indices) == stats["frames_out"]
    assert stats["dropped"] > 0  # the first mask took 0.3 s: frames were dropped meanwhile...
    assert indices[-1] < stats["frames_in"] and len(indices) == len(set(indices))
    assert indices != list(range(len(indices)))  # ...and the names skip them


@pytest.mark.parametrize("problem", ["not empty", "a file", "no parent"])
def test_bad_alpha_out_is_refused_before_the_camera_starts(tmp_path, capsys, problem):
    target = tmp_path / "alpha"
    if problem == "not empty":
        target.mkdir()
        (target / "00000.png").write_bytes(b"x")
    elif problem == "a file":
        target.write_text("x")
    else:
        target = tmp_path / "missing" / "alpha"
    code = main(["cam", "--source", str(DOCTOR), "--no-vcam", "--duration", "1", "--alpha-out", str(target)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "--alpha-out" in err[0], err
    assert not [p for p in tmp_path.rglob("*") if "partial" in p.name]


def test_ctrl_c_finishes_the_directory(tmp_path):
    out = tmp_path / "alpha"
    stats_path = tmp_path.parent / f"{tmp_path.name}-stats.json"
    child = subprocess.Popen([sys.executable, "-m", "livebg", "cam", "--source", str(DOCTOR), "--no-vcam",
                              "--duration", "60", "--alpha-out", str(out), "--model", "selfie",
                              "--stats-json", str(stats_path)],
                             cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        deadline = time.monotonic() + 60
        while not any(p.name.startswith(".alpha") for p in tmp_path.iterdir()):
            assert child.poll() is None, child.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(1.5)
        child.send_signal(signal.SIGINT)
        code = child.wait(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
    err = child.stderr.read()
    assert code == 0, err
    written = pngs(out)
    stats = json.loads(stats_path.read_text())
    # every frame shown has its matte, by source index (a frame dropped at capture on a busy
    # machine leaves its number out)
    indices = sorted(written)
    assert len(indices) >= 20 and len(indices) == stats["alpha_out_frames"] == stats["frames_out"], stats
    assert indices[0] == 0 and indices[-1] < stats["frames_in"], indices
    assert [p.name for p in tmp_path.iterdir()] == ["alpha"]  # renamed into place, nothing partial left
