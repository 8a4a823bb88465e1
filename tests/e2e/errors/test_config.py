"""Bad settings: flag values out of range or unknown, presets that are missing, mistyped or
wrong for the model. One `livebg: error:` line naming the setting (and where it came from);
nothing written."""
from __future__ import annotations

import pytest

from tests.support.cli_process import assert_empty, assert_says, run_cli

# (case id, argv builder (media, out_dir, shared) -> args, words the error line must contain)
CONFIG_CASES = [
    ("smoothing-strength", lambda m, o, s: ["video", str(m["valid"]), "--smoothing-strength", "5", "-o", str(o / "x.mp4")],
     ["smoothing strength", "5", "0..0.95"]),
    ("harmonize", lambda m, o, s: ["video", str(m["valid"]), "--harmonize", "1.5", "-o", str(o / "x.mp4")],
     ["harmonize 1.5", "out of range", "0 (off) .. 1"]),
    ("harmonize-photo", lambda m, o, s: ["image", str(s / "media/portraits/doctor-5871743_640.jpg"), "--harmonize", "-0.2",
                                         "-o", str(o / "x.jpg")],
     ["harmonize -0.2", "out of range"]),
    ("harmonize-cam", lambda m, o, s: ["cam", "--source", str(m["valid"]), "--harmonize", "3", "--no-vcam"],
     ["harmonize 3", "out of range"]),
    ("harmonize-batch", lambda m, o, s: ["batch", str(m["valid"]), "-o", str(o), "--harmonize", "2"],
     ["harmonize 2", "out of range"]),
    ("harmonize-not-a-number", lambda m, o, s: ["video", str(m["valid"]), "--harmonize", "much", "-o", str(o / "x.mp4")],
     ["--harmonize", "much"]),
    ("missing-preset", lambda m, o, s: ["video", str(m["valid"]), "--config", "no-such-preset", "-o", str(o / "x.mp4")],
     ["no-such-preset", "not found", "cpu-fast"]),
]


@pytest.mark.parametrize("build, needles", [c[1:] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES])
def test_bad_setting(capsys, media, out_dir, shared, build, needles):
    _, line, _ = run_cli(capsys, build(media, out_dir, shared))
    assert_says(line, *needles)
    assert_empty(out_dir)


@pytest.mark.parametrize("toml, needles", [
    ('[model]\nbatch_size = "four"\n', ["preset.toml", "batch_size", "'four'", "expected int"]),
    ("[smoothing]\nstrength = true\n", ["preset.toml", "strength", "expected float"]),
    ('[modle]\nname = "selfie"\n', ["preset.toml", "unknown section [modle]", "model"]),
    ("[model]\nbatchsize = 2\n", ["preset.toml", "unknown setting [model] batchsize", "batch_size"]),
    ("[output]\ncrf = 99\n", ["preset.toml", "crf 99", "out of range"]),
    ("[output]\ncrf = 60\n", ["preset.toml", "crf 60", "0 (best; lossless for h.264) .. 51"]),  # was accepted: x264 stops at 51
    ("[model\nname = 1\n", ["preset.toml", "not valid toml"]),
    ("[background]\nharmonize = 1.2\n", ["preset.toml", "harmonize 1.2", "out of range"]),
    ('[background]\nharmonize = "on"\n', ["preset.toml", "harmonize", "expected float"]),
], ids=["wrong-type", "bool-for-float", "unknown-section", "unknown-key", "out-of-range", "crf-above-x264", "bad-syntax",
        "harmonize-out-of-range", "harmonize-wrong-type"])
def test_bad_preset(capsys, tmp_path, media, out_dir, toml, needles):
    preset = tmp_path / "preset.toml"
    preset.write_text(toml)
    _, line, _ = run_cli(capsys, ["video", str(media["valid"]), "--config", str(preset), "-o", str(out_dir / "x.mp4")])
    assert_says(line, *needles)
    assert_empty(out_dir)


@pytest.mark.parametrize("toml, needles", [
    ("[model]\ninfer_size = 520\n", ["--infer-size", "[model] infer_size in the preset", "selfie", "set it to 0"]),
    ('[model]\nprecision = "float16"\n', ["--precision float16", "[model] precision in the preset"]),
], ids=["infer_size", "precision"])
def test_a_torchvision_setting_from_a_preset_is_named_as_such(capsys, tmp_path, media, out_dir, toml, needles):
    """gpu-quality with --model selfie: the error named --infer-size, which the user never typed."""
    preset = tmp_path / "preset.toml"
    preset.write_text(toml)
    _, line, _ = run_cli(capsys, ["video", str(media["valid"]), "--config", str(preset), "--model", "selfie",
                                  "--device", "cpu", "-o", str(out_dir / "x.mp4")])
    assert_says(line, *needles)
    assert_empty(out_dir)


def test_unknown_flag_value_is_one_line(capsys, media, out_dir):
    status, line, _ = run_cli(capsys, ["video", str(media["valid"]), "--bg-fit", "bounce", "-o", str(out_dir / "x.mp4")])
    assert status == 2
    assert_says(line, "bounce", "--help")
    assert_empty(out_dir)
