"""Hotkeys and backgrounds of `livebg cam`: effect cycling, a folder of backgrounds, resets."""
from __future__ import annotations

import threading

import pytest

from livebg.errors import BackgroundError
from livebg.live.chooser import BackgroundChooser
from livebg.live.loop import LiveLoop, ViewState
from livebg.live.options import help_lines


def test_effects_cycle_from_the_given_background(shared):
    chooser = BackgroundChooser(str(shared / "media/backgrounds"), (320, 180))
    seen = []
    for _ in range(5):
        seen.append(chooser.effect)
        chooser.next_effect()
    assert seen == ["image", "blur", "gray", "white", "original"] and chooser.effect == "image"
    first = chooser.label()
    assert first.endswith("(1/4)")
    assert chooser.step_image(1) and chooser.label().endswith("(2/4)")
    assert chooser.step_image(-1) and chooser.step_image(-1) and chooser.label().endswith("(4/4)")
    assert chooser.current_background().kind == "image"
    chooser.close()
    keyword = BackgroundChooser("gray", (320, 180))
    assert keyword.effect == "gray" and not keyword.step_image(1)
    keyword.next_effect()
    assert keyword.effect == "white"


def test_bad_backgrounds_fail_early(tmp_path):
    with pytest.raises(BackgroundError, match="folder without images"):
        BackgroundChooser(str(tmp_path), (320, 180))
    with pytest.raises(BackgroundError, match="transparent cannot be shown by a camera"):
        BackgroundChooser("transparent", (320, 180))


class Stub:
    def __init__(self, **kw):
        self.__dict__.update(kw)


class CountingMatter:
    resets = 0

    def reset(self):
        self.resets += 1


class CountingWorker(CountingMatter):
    def __init__(self):
        self.paused = threading.Event()
        self.masks_forgotten = 0

    def forget_masks(self):
        self.masks_forgotten += 1


def test_hotkeys_change_the_view_and_reset_the_smoothing(shared):
    chooser = BackgroundChooser(str(shared / "media/backgrounds"), (320, 180))
    worker = CountingWorker()  # it forgets the followed person box with the smoothing
    matter = CountingMatter()
    logged = []
    loop = LiveLoop(capture=Stub(fps=30.0), worker=worker, matter=matter, chooser=chooser, light_wrap=0.0,
                    state=ViewState(), stop=threading.Event(), log=logged.append)
    loop.handle_key(ord("b"))
    assert chooser.effect == "blur" and matter.resets == 1 and logged[-1] == "background: blur"
    loop.handle_key(ord("n"))
    assert chooser.effect == "image" and chooser.image_index == 1 and matter.resets == 2
    loop.handle_key(ord(" "))
    assert loop.state.passthrough and worker.paused.is_set() and matter.resets == 3  # the model rests
    loop.handle_key(ord(" "))
    assert not loop.state.passthrough and not worker.paused.is_set()
    assert worker.masks_forgotten == 1  # those of before the pause show the person where they were
    loop.handle_key(ord("m"))
    assert loop.state.mirror and matter.resets == 5 and worker.resets == 5
    loop.handle_key(ord("o"))
    assert not loop.state.overlay
    loop.handle_key(ord("h"))
    assert loop.state.help and logged[-len(help_lines()):] == help_lines()
    assert loop.overlay_lines() == help_lines()  # overlay off, help on
    loop.handle_key(27)
    assert loop.state.quit
    chooser.close()


def test_another_background_starts_the_harmonisation_over(shared):
    """--harmonize live: its smoothed statistics belong to the background they were measured on."""
    import numpy as np

    from livebg.evaluation import load_labeled

    chooser = BackgroundChooser(str(shared / "media/backgrounds"), (854, 480))
    loop = LiveLoop(capture=Stub(fps=30.0), worker=CountingWorker(), matter=CountingMatter(), chooser=chooser,
                    light_wrap=0.0, harmonize=1.0, state=ViewState(), stop=threading.Event(), log=lambda _: None)
    harmonizer = loop.compositor.harmonizer
    assert harmonizer is not None
    frame, mask = load_labeled(shared / "media/labeled/davis_lucia", limit=1)[0]
    background = chooser.current_background().frame_at(0, frame)
    loop.compositor.blend(frame, mask.astype(np.float32), background)
    assert harmonizer.scene is not None
    loop.handle_key(ord("n"))
    assert harmonizer.scene is None and loop.compositor.background is chooser.current_background()
    chooser.close()
