"""The preview window under a private Xvfb display: what it shows, a hotkey, quitting with q."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from livebg.sinks.preview import display_problem, draw_text_panel
from tests.support.live_fakes import DOCTOR, REPO, XvfbDisplay

pytestmark = pytest.mark.x11

MAGENTA = (255, 0, 255)


def share(screen: np.ndarray, color, tolerance: int = 40) -> float:
    """Share of the 960x540 window (at the top left of an otherwise black screen) close to ``color``."""
    window = screen[:540, :960].astype(np.int16)
    return float((np.abs(window - color).max(axis=2) < tolerance).mean())


def wait_for(check, timeout: float = 30.0, every: float = 0.3):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


@pytest.fixture
def xvfb():
    with XvfbDisplay((1600, 1000)) as display:
        yield display


def test_preview_shows_the_composite_a_hotkey_changes_the_effect_and_q_quits(xvfb):
    child = subprocess.Popen(
        [sys.executable, "-m", "livebg", "cam", "--source", str(DOCTOR), "--no-vcam", "--preview",
         "--bg", "#ff00ff", "--duration", "60"],
        cwd=REPO, env=xvfb.env, stderr=subprocess.PIPE, text=True)
    # OpenCV keeps only the last key pressed between two polls of the window, so press like a
    # person does: the next key once the last one has shown (its log line is printed)
    log: list[str] = []
    reader = threading.Thread(target=lambda: log.extend(child.stderr), daemon=True)
    reader.start()
    try:
        window = xvfb.find_window("livebg", timeout=60)
        xvfb.xdotool("key", "--window", window, "o")  # overlay off: the picture alone
        # the composited frame: the person over magenta, in the window. The window opens before
        # the model has loaded and warmed up, which on a loaded machine took over 10 s
        shown = wait_for(lambda: 0.3 < share(xvfb.screenshot(), MAGENTA) < 0.9, timeout=90)
        assert shown, share(xvfb.screenshot(), MAGENTA)
        screen = xvfb.screenshot()
        assert (screen[540:] == 0).all() and (screen[:, 960:] == 0).all()  # nothing drawn outside the window
        # b: next effect (blur) -> the magenta background is gone, the frame is still there
        xvfb.xdotool("key", "--window", window, "b")
        assert wait_for(lambda: share(xvfb.screenshot(), MAGENTA) < 0.01)
        screen = xvfb.screenshot()
        assert screen[:540, :960].mean() > 100  # the (bright) room, blurred, not a blank window
        # b, b: gray, then white
        xvfb.xdotool("key", "--window", window, "b")
        assert wait_for(lambda: any("livebg: background: gray" in line for line in log))
        xvfb.xdotool("key", "--window", window, "b")
        assert wait_for(lambda: share(xvfb.screenshot(), (255, 255, 255), tolerance=8) > 0.3)
        # q quits cleanly, with the summary line
        xvfb.xdotool("key", "--window", window, "q")
        code = child.wait(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
    reader.join(timeout=10)
    err = "".join(log)
    assert code == 0, err
    assert "livebg: background: blur" in err and "livebg: background: white" in err
    assert "frames_in=" in err and "latency_p95_ms=" in err


def test_display_check_and_text_panel(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert "--preview needs a display" in display_problem()
    monkeypatch.setenv("DISPLAY", ":0")
    assert display_problem() is None
    image = np.full((200, 400, 3), 200, np.uint8)
    draw_text_panel(image, ["30.0 fps", "blur"])
    assert image[5:60, 10:100].min() < 100 and (image[150:, 200:] == 200).all()  # darkened box, rest untouched


def test_closing_the_window_quits(xvfb, tmp_path):
    from tests.support.live_fakes import close_window

    stats = tmp_path / "stats.json"
    child = subprocess.Popen(
        [sys.executable, "-m", "livebg", "cam", "--source", str(DOCTOR), "--no-vcam", "--preview", "--duration", "60",
         "--stats-json", str(stats)],
        cwd=REPO, env=xvfb.env, stderr=subprocess.PIPE, text=True)
    try:
        window = xvfb.find_window("livebg", timeout=60)
        time.sleep(0.5)
        close_window(xvfb.display, window)  # what a window manager's close button sends
        code = child.wait(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
    assert code == 0, child.stderr.read()
    assert json.loads(stats.read_text())["stop"] == "window closed"


def test_side_by_side_keeps_the_window_as_wide_as_the_frame():
    from livebg.sinks.preview import MAX_WIDTH, view

    out = np.zeros((540, 960, 3), np.uint8)
    out[:] = (255, 0, 0)  # red output
    inp = np.zeros_like(out)  # black input
    alone = view(out)
    assert alone.shape == (540, 960, 3) and tuple(alone[0, 0]) == (0, 0, 255)  # BGR
    both = view(out, inp)
    assert both.shape == (270, 960, 3)  # two half-size pictures, no wider than the frame
    assert both[:, :470].max() == 0 and tuple(both[135, 700]) == (0, 0, 255)  # input left, output right
    big = view(np.zeros((1080, 2560, 3), np.uint8))
    assert big.shape[1] == MAX_WIDTH
