"""TOML presets: every preset loads, default.toml is the dataclass defaults and documents every
setting, CLI flags override a preset, and wrong presets fail with a ConfigError naming the key."""
from __future__ import annotations

import re
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from livebg.cli import build_parser, config_from_args
from livebg.config import PRESET_DIR, Config, load_config
from livebg.errors import BackgroundError, ConfigError

PRESETS = sorted(PRESET_DIR.glob("*.toml"))
SETTING_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=")


def setting_names() -> dict[str, set[str]]:
    config = Config()
    return {f.name: {g.name for g in fields(getattr(config, f.name))} for f in fields(Config)}


def test_the_presets_named_in_the_help_exist():
    assert {p.stem for p in PRESETS} >= {"default", "cpu-fast", "gpu-quality"}


@pytest.mark.parametrize("preset", PRESETS, ids=[p.stem for p in PRESETS])
def test_every_preset_loads_and_validates(preset):
    by_path = load_config(preset)
    assert isinstance(by_path, Config)
    assert by_path.validate() is by_path
    assert load_config(preset.stem) == by_path  # by name, as `--config cpu-fast`


@pytest.mark.parametrize("preset", PRESETS, ids=[p.stem for p in PRESETS])
def test_every_preset_names_every_setting_with_a_comment(preset):
    text = preset.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    expected = setting_names()
    assert set(data) == set(expected), f"sections of {preset.name}"
    for section, names in expected.items():
        assert set(data[section]) == names, f"[{section}] of {preset.name}"
    lines = [line for line in text.splitlines() if SETTING_LINE.match(line)]
    assert len(lines) == sum(len(n) for n in expected.values())
    for line in lines:
        value_and_comment = line.split("=", 1)[1]
        comment = value_and_comment.split("#", 1)[1] if "#" in value_and_comment else ""
        assert len(comment.strip()) >= 10, f"{preset.name}: no explanatory comment on: {line}"


def test_default_preset_is_the_dataclass_defaults():
    assert load_config(PRESET_DIR / "default.toml") == Config()
    assert load_config("default") == Config()
    assert load_config(None) == Config()


def test_other_presets_differ_from_the_defaults():
    for preset in PRESETS:
        if preset.stem != "default":
            assert load_config(preset) != Config(), f"{preset.name} only repeats the defaults"


def parse(*argv: str) -> Config:
    return config_from_args(build_parser().parse_args(list(argv)))


def test_cli_flags_override_a_preset():
    preset = load_config("cpu-fast")
    assert preset.model.name == "selfie_landscape" and preset.refine.guide_size == 180
    config = parse("video", "in.mp4", "--config", "cpu-fast", "--model", "selfie", "--smoothing-strength", "0.3",
                   "--crf", "28", "--bg", "white", "--bg-fit", "hold", "--classes", "person, cat", "--no-audio",
                   "--batch-size", "2")
    assert config.model.name == "selfie"
    assert config.model.classes == ("person", "cat")
    assert config.model.batch_size == 2
    assert config.smoothing.strength == 0.3
    assert config.output.crf == 28 and config.output.audio is False
    assert config.background.bg == "white" and config.background.fit == "hold"
    # settings no flag was given for keep the preset's values, not the defaults
    assert config.refine.guide_size == preset.refine.guide_size == 180
    assert config.model.device == preset.model.device == "cpu"


def test_no_flags_means_the_preset_exactly():
    assert parse("video", "in.mp4", "--config", "gpu-quality") == load_config("gpu-quality")
    assert parse("image", "a.jpg", "--config", "cpu-fast") == load_config("cpu-fast")
    assert parse("video", "in.mp4") == Config()


def test_an_out_of_range_flag_is_refused_even_over_a_valid_preset():
    with pytest.raises(ConfigError, match="smoothing strength 5.0"):
        parse("video", "in.mp4", "--config", "default", "--smoothing-strength", "5")


@pytest.mark.parametrize("toml, needles", [
    ('[model]\nbatch_size = "4"\n', ["[model] batch_size", "'4'", "expected int"]),
    ('[model]\ndownload = "yes"\n', ["[model] download", "expected bool"]),
    ("[model]\nbatch_size = true\n", ["[model] batch_size", "expected int"]),
    ("[model]\nclasses = [1, 2]\n", ["[model] classes", "expected tuple"]),
    ("[output]\npreset = 5\n", ["[output] preset", "expected str"]),
    ("[smoothing]\nstrength = 0.5\nstrenght = 0.2\n", ["[smoothing] strenght", "strength"]),
    ('[models]\nname = "selfie"\n', ["[models]", "model"]),
    ('bg = "white"\n', ["[bg]", "background"]),
    ("[refine]\nradius = 0\n", ["refine radius 0", "1..64"]),
], ids=["str-for-int", "str-for-bool", "bool-for-int", "ints-for-classes", "int-for-str", "unknown-key",
        "unknown-section", "top-level-key", "out-of-range"])
def test_a_wrong_preset_fails_naming_the_setting_and_the_file(tmp_path, toml, needles):
    preset = tmp_path / "mine.toml"
    preset.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_config(preset)
    message = str(info.value)
    for needle in [*needles, "mine.toml"]:
        assert needle in message, f"{needle!r} missing from: {message}"


def test_numbers_are_widened_but_never_narrowed(tmp_path):
    preset = tmp_path / "numbers.toml"
    preset.write_text("[smoothing]\nstrength = 0\n[output]\nfps = 25\n")
    config = load_config(preset)
    assert config.smoothing.strength == 0.0 and isinstance(config.smoothing.strength, float)
    assert config.input.fps == 25.0 and isinstance(config.input.fps, float)
    preset.write_text("[output]\ncrf = 20.5\n")
    with pytest.raises(ConfigError, match="crf"):
        load_config(preset)


def test_a_missing_preset_lists_the_known_ones():
    with pytest.raises(ConfigError) as info:
        load_config("no-such-preset")
    assert "no-such-preset" in str(info.value) and "cpu-fast" in str(info.value)


def test_file_paths_in_a_preset_are_relative_to_the_preset(tmp_path, monkeypatch, shared):
    """A preset naming `bg = "beach.jpg"` found the file only when livebg ran in the preset's folder."""
    folder = tmp_path / "presets"
    folder.mkdir()
    (folder / "beach.jpg").write_bytes((shared / "media/portraits").glob("*.jpg").__next__().read_bytes())
    preset = folder / "zoom.toml"
    preset.write_text('[model]\nname = "models/m.onnx"\nweights = "ck.pth"\n'
                      '[background]\nbg = "beach.jpg"\n[output]\nalpha_out = "mattes"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(str(preset))
    assert config.background.bg == str(folder / "beach.jpg")
    assert config.model.name == str(folder / "models/m.onnx") and config.model.weights == str(folder / "ck.pth")
    assert config.output.alpha_out == "mattes"  # an output: relative to where livebg runs, as -o is
    # a path given relative to here names the same preset, and its files still come from its folder
    assert load_config("../presets/zoom.toml").background.bg == str(Path("../presets/beach.jpg"))
    # values that name no file, absolute paths and mistyped keywords are left as written (a bare
    # word made into a path gave "file not found" instead of "unknown background")
    for bg in ("blur", "blur:30", "#fa0", "WHITE", "gray", "transparent", "none", str(folder / "beach.jpg")):
        preset.write_text(f'[background]\nbg = "{bg}"\n[model]\nname = "selfie"\n')
        config = load_config(str(preset))
        assert config.background.bg == bg and config.model.name == "selfie"
    # --bg is checked when the preset loads, before any work; a mistyped keyword stays as written
    # and is named as one (a bare word made into a path gave "file not found")
    for bg, message in (("blurr", "unknown background 'blurr'"), ("#12g", "unknown background '#12g'"),
                        ("~nobody-here/x.jpg", "no such user")):
        preset.write_text(f'[background]\nbg = "{bg}"\n[model]\nname = "selfie"\n')
        with pytest.raises(BackgroundError, match=message):
            load_config(str(preset))
    # a bare folder name next to the preset (backgrounds for livebg cam) is found there
    (folder / "scenes").mkdir()
    preset.write_text('[background]\nbg = "scenes"\n[model]\nweights = "ck/"\n')
    config = load_config(str(preset))
    assert config.background.bg == str(folder / "scenes")
    assert config.model.weights == str(folder / "ck") + "/"  # a trailing separator is kept


def test_each_command_offers_only_the_options_it_uses():
    """`livebg image` offered --smoothing and --full-pass-every, which photos never use, and
    `livebg cam --help` listed `transparent` (refused there) but not folders of backgrounds."""
    parser = build_parser()
    helps = {name: action.format_help() for action in parser._subparsers._group_actions
             for name, action in action.choices.items()}
    for flag in ("--smoothing", "--smoothing-strength", "--full-pass-every"):
        assert flag in helps["video"] and flag in helps["cam"] and flag not in helps["image"]
    assert "transparent" in helps["video"] and "folder of images" in helps["cam"]
    cam_bg = helps["cam"].split("--bg BG", 2)[2].split("--config")[0]
    assert "transparent" not in cam_bg
    with pytest.raises(SystemExit):
        parser.parse_args(["image", "x.jpg", "--smoothing", "ema"])


def test_look_ahead_and_guide_size_flags(tmp_path, shared, capsys):
    config = parse("video", "in.mp4", "--no-look-ahead", "--guide-size", "270")
    assert config.smoothing.look_ahead is False and config.refine.guide_size == 270
    assert parse("video", "in.mp4").smoothing.look_ahead is True
    parser = build_parser()
    helps = {name: action.format_help() for action in parser._subparsers._group_actions
             for name, action in action.choices.items()}
    assert "--look-ahead" in helps["video"] and "--look-ahead" not in helps["cam"] + helps["image"]  # never live
    assert all("--guide-size" in helps[c] for c in ("video", "cam", "image"))
    # asking for the look-ahead with nothing smoothed in time is said, not silently ignored
    from livebg.cli import main

    photo = shared / "media/portraits/doctor-5871743_640.jpg"
    assert main(["video", str(photo), "--smoothing", "none", "--look-ahead", "-q", "-o", str(tmp_path / "o.mp4")]) == 0
    assert "--look-ahead does nothing with --smoothing none" in capsys.readouterr().err


def test_option_help_says_what_an_option_does_not_what_it_took_on_one_machine():
    """--guide-size's help quoted "~0.6 CPU ms a frame": a timing that goes stale with the machine
    (those belong in docs/speed.md)."""
    parser = build_parser()
    for name, action in parser._subparsers._group_actions[0].choices.items():
        text = " ".join(action.format_help().split())
        assert not re.search(r"\d\s*(CPU\s*)?ms\b", text), f"`livebg {name} --help` quotes a timing"
