"""`livebg cam` end to end: a video replayed as a camera, a recording virtual camera, faults, signals."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from livebg.cli import main
from livebg.config import ModelConfig
from livebg.segment import factory as segmentation
from livebg.sources import capture
from tests.support import live_fakes
from tests.support.fakes import SlowSegmenter
from tests.support.live_fakes import DOCTOR, REPO, register_flaky_camera

pytestmark = pytest.mark.live_timing

SOURCE_FPS = 30000 / 1001


@pytest.fixture
def recording_backend():
    """live_fakes.recording_backend, unregistered again after the test."""
    import pyvirtualcam.camera

    names = []

    def register(name: str, **kwargs):
        names.append(name)
        return live_fakes.recording_backend(name, **kwargs)

    yield register
    for name in names:
        pyvirtualcam.camera.BACKENDS.pop(name, None)


@pytest.fixture(scope="module")
def selfie():
    segmenter, _ = segmentation.load_segmenter(ModelConfig(name="selfie"))
    return segmenter


def run_cam(tmp_path, *args: str) -> tuple[int, dict]:
    stats = tmp_path / "stats.json"
    code = main(["cam", "--stats-json", str(stats), *args])
    return code, (json.loads(stats.read_text()) if stats.exists() else {})


def test_virtual_camera_gets_the_composited_person_at_the_source_rate(tmp_path, selfie, capsys, recording_backend):
    record = recording_backend("livebg-test-i420", native="I420")
    code, stats = run_cam(tmp_path, "--source", str(DOCTOR), "--vcam-backend", "livebg-test-i420",
                          "--duration", "3", "--bg", "#0000ff")
    err = capsys.readouterr().err
    assert code == 0, err
    assert "model selfie" in err and "on cpu" in err  # the startup line names the model and device
    assert f"frames_in={stats['frames_in']} frames_out={stats['frames_out']} dropped={stats['dropped']}" in err
    # opened at the capture's size and rate, in the backend's native pixel format
    assert record.opened[-1] == {"width": 960, "height": 540, "fps": pytest.approx(SOURCE_FPS, rel=1e-3),
                                 "fmt": "I420", "device": None}
    assert stats["pixel_format"] == "I420"
    assert record.closed == len(record.opened)  # every camera that was opened was released
    assert all(fmt == "I420" and data.size == 960 * 540 * 3 // 2 for _, fmt, data in record.frames)
    n = len(record.frames)
    assert n == stats["frames_out"] == stats["vcam_frames"]
    assert stats["frames_in"] >= 0.8 * 3 * SOURCE_FPS
    times = [t for t, _, _ in record.frames]
    rate = (n - 1) / (times[-1] - times[0])
    assert 0.8 * SOURCE_FPS < rate < 1.1 * SOURCE_FPS, rate
    # each sent frame is a new one: the source has no repeated frames, so neither may the output
    repeats = [i for i in range(1, n) if np.array_equal(record.frames[i][2], record.frames[i - 1][2])]
    assert not repeats
    # the person is there, on blue: the non-blue region is where the model itself finds a person
    for i in (5, n // 2, n - 1):
        rgb = record.rgb(i)
        background = np.abs(rgb.astype(np.int16) - (0, 0, 255)).max(axis=2) < 40
        prob = selfie.predict([rgb])[0].alpha
        person = cv2.resize(prob, (960, 540), interpolation=cv2.INTER_LINEAR) > 0.5
        foreground = ~background
        iou = (foreground & person).sum() / (foreground | person).sum()
        assert 0.1 < person.mean() < 0.8
        assert iou > 0.85, (i, iou)


def test_slow_segmentation_keeps_the_camera_rate_with_older_masks(tmp_path, selfie, monkeypatch, capsys, recording_backend):
    monkeypatch.setattr(segmentation, "load_segmenter", lambda config, **kwargs: (SlowSegmenter(selfie, 0.25), "slow on purpose"))
    record = recording_backend("livebg-test-slowseg", native="RGB", keep_frames=False)
    code, stats = run_cam(tmp_path, "--source", str(DOCTOR), "--vcam-backend", "livebg-test-slowseg",
                          "--duration", "3", "--bg", "white")
    assert code == 0, capsys.readouterr().err
    assert stats["fps"] > 0.85 * SOURCE_FPS  # the output keeps the camera's rate...
    # only the frames that came while the very first mask was computed (0.25 s) may be dropped
    assert stats["dropped"] <= 0.25 * SOURCE_FPS + 4
    assert stats["frames_out"] >= stats["frames_in"] - stats["dropped"] - 2
    assert stats["masks"] <= 3 / 0.25 + 3  # ...while the model saw only every 8th frame or so
    assert 200 <= stats["mask_age_p95_ms"] <= 700  # and the age of the mask used is reported
    assert stats["latency_p95_ms"] < 100  # latency does not wait for the model
    assert len(record.frames) == stats["frames_out"]


def test_slow_consumer_drops_the_oldest_frames_and_latency_stays_bounded(tmp_path, capsys, recording_backend):
    record = recording_backend("livebg-test-slowsink", native="RGB", send_delay=0.1, keep_frames=False)
    code, stats = run_cam(tmp_path, "--source", str(DOCTOR), "--vcam-backend", "livebg-test-slowsink",
                          "--duration", "3", "--bg", "white")
    assert code == 0, capsys.readouterr().err
    assert stats["frames_out"] <= 32  # ~10 a second get through a sink that takes 100 ms a frame
    assert stats["dropped"] >= stats["frames_in"] - stats["frames_out"] - 2  # the rest are counted as dropped
    assert stats["dropped"] >= 40
    # latest frame wins: at most two frames wait, so latency stays near 2 frame intervals + the sink's time
    assert stats["latency_max_ms"] < 400, stats
    assert len(record.frames) == stats["frames_out"]


def test_camera_that_stops_is_reopened_then_the_program_exits_cleanly(tmp_path, monkeypatch, capsys, recording_backend):
    monkeypatch.setattr(capture, "REOPEN_DELAY", 0.05)
    monkeypatch.setattr(capture, "REOPEN_SECONDS", 1.0)
    flaky = register_flaky_camera(opens=2)  # the first open and one reopen work; later ones fail
    record = recording_backend("livebg-test-flaky", native="RGB", keep_frames=False)
    code, stats = run_cam(tmp_path, "--source", "flaky://10", "--vcam-backend", "livebg-test-flaky", "--duration", "20")
    err = capsys.readouterr().err
    assert code == 2
    assert "camera flaky://10 stopped delivering frames; reopening (trying for up to 1 s)" in err
    assert "reopened after" in err
    assert err.strip().splitlines()[-1].startswith("livebg: error: camera flaky://10 stopped delivering frames and could not be reopened")
    assert stats["frames_in"] == 20 and stats["reopens"] == 1
    assert "frames_in=20 " in err  # the summary is printed before the error
    assert flaky.closed == flaky.opened == 2  # the camera was released every time
    assert record.closed == len(record.opened)


def test_missing_camera_and_missing_virtual_camera_give_one_line_errors(tmp_path, capsys, monkeypatch):
    assert main(["cam", "--source", "/dev/video97"]) == 2
    assert capsys.readouterr().err.strip() == (
        "livebg: error: camera /dev/video97 does not exist: list cameras with `v4l2-ctl --list-devices` "
        "(or ls /dev/video*) and pass one with --source")
    assert main(["cam", "--source", str(DOCTOR), "--vcam-backend", "v4l2loopback",
                 "--vcam-device", "/dev/video96"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("livebg: error: virtual camera /dev/video96 cannot be used")
    assert "modprobe v4l2loopback devices=1 video_nr=10 card_label=livebg exclusive_caps=1" in err
    assert "Chrome" in err and "--no-vcam" in err
    assert main(["cam", "--source", str(DOCTOR), "--vcam-backend", "nonesuch"]) == 2
    assert "unknown virtual camera backend 'nonesuch': use one of" in capsys.readouterr().err
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["cam", "--source", str(DOCTOR), "--no-vcam", "--preview"]) == 2
    assert "--preview needs a display" in capsys.readouterr().err
    assert main(["cam", "--source", str(DOCTOR), "--no-vcam", "--bg", "transparent"]) == 2
    assert "transparent cannot be shown by a camera" in capsys.readouterr().err


def test_odd_sizes_are_refused_only_for_the_virtual_camera(tmp_path, capsys):
    odd = ["--source", str(DOCTOR), "--width", "321", "--height", "241", "--duration", "1"]
    assert main(["cam", *odd]) == 2
    assert "virtual cameras need even sizes" in capsys.readouterr().err
    code, stats = run_cam(tmp_path, *odd, "--no-vcam")  # a preview or a test run has no such limit
    assert code == 0, capsys.readouterr().err
    assert (stats["width"], stats["height"]) == (321, 241) and stats["frames_out"] > 0


def test_unwritable_stats_file_is_refused_before_the_camera_starts(tmp_path, capsys, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != locked and real_access(path, mode))
    assert main(["cam", "--source", str(DOCTOR), "--no-vcam", "--stats-json", str(locked / "s.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("livebg: error: --stats-json: cannot write into") and "permission denied" in err
    assert "frames_in" not in err  # nothing ran


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("by_timeout", [False, True])  # `timeout` signals the process, then its process group
def test_signals_release_the_camera_and_the_virtual_camera(tmp_path, sig, by_timeout):
    record = tmp_path / "record.json"
    # `timeout` is given longer than the wait below: the test sends the signal through it
    prefix = ["timeout", "--preserve-status", "-s", sig.name[3:], "600"] if by_timeout else []
    child = subprocess.Popen(
        prefix + [sys.executable, str(REPO / "tests" / "support" / "live_fakes.py"), str(record), "--", "cam", "--source",
                  str(DOCTOR), "--vcam-backend", "recorder", "--duration", "60", "--bg", "white"],
        cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "record.json.started").exists():
            assert child.poll() is None, child.stderr.read()
            assert time.monotonic() < deadline, "no frames reached the virtual camera"
            time.sleep(0.05)
        child.send_signal(sig)
        code = child.wait(timeout=15)
    finally:
        if child.poll() is None:
            child.kill()
    err = child.stderr.read()
    assert code == 0, err
    assert "frames_in=" in err and "latency_p95_ms=" in err
    result = json.loads(record.read_text())
    assert result["frames"] >= 5 and result["closed"] == len(result["opened"]) >= 1
