"""--harmonize through the jobs a user runs: a video file (which then takes the RGB chain) and
photos, with the bundled selfie model on the doctor, over a background photo darker than his
bright room: the person comes out darker with it, the background the same."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from livebg.config import Config, apply_settings
from livebg.jobs import run_images, run_video
from tests.support import read_video, write_clip

DARK = "media/backgrounds/shibuyasky-4768679_1280.jpg"


def settings(shared, harmonize: float) -> Config:
    return apply_settings(Config(), model="selfie", bg=str(shared / DARK), harmonize=harmonize, crf=0)


def luma(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb)[..., 0].astype(np.float32)


@pytest.fixture(scope="module")
def clip(tmp_path_factory, shared):
    return write_clip(tmp_path_factory.mktemp("harmonize") / "doctor.mp4", frames=10, size=(480, 270), crf=12)


def test_a_video_job_harmonises_the_person(clip, shared, tmp_path):
    outputs = {}
    for strength in (0.0, 1.0):
        out = tmp_path / f"h{strength:g}.mp4"
        alpha = tmp_path / f"a{strength:g}"
        config = apply_settings(settings(shared, strength), alpha_out=str(alpha))
        run_video(str(clip), out, config, progress=False)
        outputs[strength] = (read_video(out)[0], sorted(alpha.glob("*.png")))
    plain, harmonized = outputs[0.0][0], outputs[1.0][0]
    assert len(plain) == len(harmonized) == 10
    mask = cv2.imread(str(outputs[1.0][1][-1]), cv2.IMREAD_GRAYSCALE)
    person, room = mask > 250, mask < 5
    assert person.mean() > 0.1 and room.mean() > 0.2
    darker = luma(plain[-1])[person].mean() - luma(harmonized[-1])[person].mean()
    assert darker > 5  # the room is far brighter than the night city: moved by up to MAX_SHIFT
    assert np.abs(luma(plain[-1])[room] - luma(harmonized[-1])[room]).mean() < 1.0


def test_photos_are_harmonised_each_on_its_own(shared, tmp_path):
    photo = shared / "media/portraits/doctor-5871743_640.jpg"
    written = {}
    for strength in (0.0, 1.0):
        out = run_images([str(photo)], str(tmp_path / f"h{strength:g}.png"), settings(shared, strength), progress=False)
        written[strength] = cv2.cvtColor(cv2.imread(str(out[0])), cv2.COLOR_BGR2RGB)
    difference = np.abs(luma(written[0.0]) - luma(written[1.0]))
    assert difference.max() > 5  # the person moved
    assert (difference < 1).mean() > 0.3  # the background did not (the person is most of the portrait)


@pytest.mark.parametrize("bg", ["blur", "white", "transparent"])
def test_over_a_background_with_no_light_of_its_own_it_says_it_changes_nothing(shared, tmp_path, capsys, bg):
    photo = shared / "media/portraits/doctor-5871743_640.jpg"
    config = apply_settings(Config(), model="selfie", bg=bg, harmonize=0.5)
    suffix = ".png" if bg == "transparent" else ".jpg"
    run_images([str(photo)], str(tmp_path / f"out{suffix}"), config, progress=False)
    assert f"--harmonize takes the light of an image or video background: over {bg} it changes nothing" in capsys.readouterr().err
