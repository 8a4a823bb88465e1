"""Bad input and faults: one `livebg: error:` line that names the problem and what to do, a
non-zero exit status, and nothing left in the output directory (not even a partial file)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import ConstantSegmenter, make_index_video, write_tone

from livebg.cli import main
from livebg.config import Config
from livebg.jobs import run_video
from livebg.signals import SAME_STOP_SECONDS

SIZE = (160, 120)
FRAMES = 60


def write_noise_mp4(path: Path, *, faststart: bool = False) -> Path:
    """H.264 in MP4 whose frames are noise, so every packet is large; moov at the end by default."""
    rng = np.random.default_rng(0)
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as out:
        stream = out.add_stream("libx264", rate=30, options={"preset": "ultrafast", "crf": "30"})
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        for j in range(FRAMES):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (SIZE[1], SIZE[0], 3), dtype=np.uint8), format="rgb24")
            frame.pts = j
            frame.time_base = Fraction(1, 30)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=48000)
        stream.layout = "stereo"
        write_tone(out, stream, 1.0)
    return path


def write_zero_frames(path: Path) -> Path:
    """A container with a 64x48 video stream and no packets (AVI keeps the empty stream; MP4 drops it)."""
    out = av.open(str(path), "w")
    stream = out.add_stream("mpeg4", rate=30)
    stream.width, stream.height = 64, 48
    stream.pix_fmt = "yuv420p"
    out.start_encoding()
    out.close()
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory, shared) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad-inputs")
    valid = write_noise_mp4(d / "valid.mp4")
    data = valid.read_bytes()
    assert data.find(b"moov") > data.find(b"mdat") > 0, "the fixture needs the moov atom at the end"
    files = {"valid": valid}
    files["text"] = d / "notes.mp4"
    files["text"].write_text("these are notes, not a video\n" * 40)
    files["truncated"] = d / "truncated.mp4"  # first half: the index (moov) is gone
    files["truncated"].write_bytes(data[: len(data) // 2])
    garbled = bytearray(data)
    n = len(data)
    garbled[n // 3: n // 3 + n // 6] = np.random.default_rng(1).integers(0, 256, n // 6, dtype=np.uint8).tobytes()
    files["garbled"] = d / "garbled.mp4"  # index intact, a sixth of the frame data replaced by noise
    files["garbled"].write_bytes(bytes(garbled))
    fast = write_noise_mp4(d / "faststart.mp4", faststart=True).read_bytes()
    assert fast.find(b"moov") < fast.find(b"mdat")
    files["cut"] = d / "cut.mp4"  # index first, then half the frames: decodes until it runs out
    files["cut"].write_bytes(fast[: len(fast) // 2])
    with av.open(str(d / "faststart.mp4")) as c:
        positions = [p.pos for p in c.demux(video=0) if p.size]
    files["cut_at_packet"] = d / "cut_at_packet.mp4"  # cut exactly between two frames
    files["cut_at_packet"].write_bytes(fast[: positions[FRAMES // 2]])
    files["audio"] = write_audio_only(d / "song.m4a")
    files["zero"] = write_zero_frames(d / "empty.avi")
    with av.open(str(files["zero"])) as c:  # guard the fixture: a video stream, and no frames in it
        assert c.streams.video and c.streams.video[0].codec_context.width == 64
        assert sum(1 for _ in c.demux(video=0) if _.size) == 0
    bg = (shared / "media" / "backgrounds" / "porch-691330_1280.jpg").read_bytes()
    files["bad_bg"] = d / "corrupt.jpg"
    files["bad_bg"].write_bytes(bg[: len(bg) // 2])
    model = (shared / "models" / "mediapipe_selfie_256x256.onnx").read_bytes()
    files["bad_model"] = d / "cut.onnx"  # a download that stopped half way
    files["bad_model"].write_bytes(model[: len(model) // 2])
    files["text_model"] = d / "notes.onnx"
    files["text_model"].write_text("not a model\n")
    return files


@pytest.fixture
def out_dir(tmp_path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    return d


def run_cli(capsys, args: list[str]) -> tuple[int, str, str]:
    """(exit status, the error line, all of stderr) of livebg.cli.main(args)."""
    capsys.readouterr()
    try:
        status = main([*args, "-q"])
    except SystemExit as exc:  # argparse errors
        status = exc.code
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("livebg: error:")]
    assert status != 0, f"exit status 0 for {args}; stderr:\n{err}"
    assert "Traceback" not in err, err
    assert len(errors) == 1, f"expected exactly one error line, got:\n{err}"
    return status, errors[0], err


def assert_empty(directory: Path) -> None:
    left = sorted(p.name for p in directory.iterdir())
    assert left == [], f"left behind in {directory}: {left}"


def assert_says(line: str, *needles: str) -> None:
    for needle in needles:
        assert needle.lower() in line.lower(), f"{needle!r} missing from: {line}"


# (case id, argv builder (media, out_dir, shared) -> args, words the error line must contain)
VIDEO_CASES = [
    ("missing-input", lambda m, o, s: ["video", str(m["valid"].parent / "missing.mp4"), "-o", str(o / "x.mp4")],
     ["missing.mp4", "not found", "check the path"]),
    ("not-a-video", lambda m, o, s: ["video", str(m["text"]), "-o", str(o / "x.mp4")],
     ["notes.mp4", "not a video", "check"]),
    ("truncated-moov-at-end", lambda m, o, s: ["video", str(m["truncated"]), "-o", str(o / "x.mp4")],
     ["truncated.mp4", "complete"]),
    ("garbled-middle", lambda m, o, s: ["video", str(m["garbled"]), "-o", str(o / "x.mp4")],
     ["garbled.mp4", "corrupt", "re-encode"]),
    ("truncated-faststart", lambda m, o, s: ["video", str(m["cut"]), "-o", str(o / "x.mp4")],
     ["cut.mp4", "truncated", "complete copy"]),
    ("truncated-at-packet", lambda m, o, s: ["video", str(m["cut_at_packet"]), "-o", str(o / "x.mp4")],
     ["cut_at_packet.mp4", "truncated", "complete copy"]),
    ("no-video-stream", lambda m, o, s: ["video", str(m["audio"]), "-o", str(o / "x.mp4")],
     ["song.m4a", "no video stream", "give a video"]),
    ("zero-frames", lambda m, o, s: ["video", str(m["zero"]), "-o", str(o / "x.mp4")],
     ["empty.avi", "no video frames", "at least one frame"]),
    ("bg-unreadable", lambda m, o, s: ["video", str(m["valid"]), "--bg", str(m["bad_bg"]), "-o", str(o / "x.mp4")],
     ["--bg", "corrupt.jpg", "not an image", "use a jpeg"]),
    ("bg-unknown-keyword", lambda m, o, s: ["video", str(m["valid"]), "--bg", "purple", "-o", str(o / "x.mp4")],
     ["unknown background", "purple", "white", "blur"]),
    ("bg-bad-hex", lambda m, o, s: ["video", str(m["valid"]), "--bg", "#ggg", "-o", str(o / "x.mp4")],
     ["unknown background", "#ggg", "#RRGGBB", "#RGB"]),
    ("bg-missing-file", lambda m, o, s: ["video", str(m["valid"]), "--bg", str(o.parent / "nope.jpg"), "-o", str(o / "x.mp4")],
     ["nope.jpg", "not found", "check the path"]),
    ("output-dir-missing", lambda m, o, s: ["video", str(m["valid"]), "-o", str(o / "no" / "x.mp4")],
     ["does not exist", "create it"]),
    ("transparent-into-mp4", lambda m, o, s: ["video", str(m["valid"]), "--bg", "transparent", "-o", str(o / "x.mp4")],
     ["x.mp4", "transparency", ".mov", ".webm"]),
    ("unknown-extension", lambda m, o, s: ["video", str(m["valid"]), "-o", str(o / "x.xyz")],
     [".xyz", "not supported", ".mp4"]),
    ("image-extension-for-video", lambda m, o, s: ["video", str(m["valid"]), "-o", str(o / "x.png")],
     ["x.png", "single image", ".mp4"]),
    ("unknown-model", lambda m, o, s: ["video", str(m["valid"]), "--model", "deeplabv9", "-o", str(o / "x.mp4")],
     ["unknown model", "deeplabv9", "selfie", ".onnx"]),
    ("missing-onnx-model", lambda m, o, s: ["video", str(m["valid"]), "--model", str(o.parent / "m.onnx"), "-o", str(o / "x.mp4")],
     ["m.onnx", "not found", "livebg models"]),
    ("cut-onnx-model", lambda m, o, s: ["video", str(m["valid"]), "--model", str(m["bad_model"]), "-o", str(o / "x.mp4")],
     ["cut.onnx", "not a readable ONNX model", "check the file"]),
    ("text-onnx-model", lambda m, o, s: ["video", str(m["valid"]), "--model", str(m["text_model"]), "-o", str(o / "x.mp4")],
     ["notes.onnx", "not a readable ONNX model", "check the file"]),
    ("unknown-class", lambda m, o, s: ["video", str(m["valid"]), "--classes", "persn", "-o", str(o / "x.mp4")],
     ["unknown class", "persn", "person"]),
    ("unknown-voc-class", lambda m, o, s: ["video", str(m["valid"]), "--classes", "person,unicorn",
                                           "--model", str(s / "models" / "deeplabv3_mobilenetv2_voc_257x257.onnx"),
                                           "-o", str(o / "x.mp4")],
     ["unicorn", "choose from", "bicycle"]),
    ("smoothing-strength", lambda m, o, s: ["video", str(m["valid"]), "--smoothing-strength", "5", "-o", str(o / "x.mp4")],
     ["smoothing strength", "5", "0..0.95"]),
    ("missing-preset", lambda m, o, s: ["video", str(m["valid"]), "--config", "no-such-preset", "-o", str(o / "x.mp4")],
     ["no-such-preset", "not found", "cpu-fast"]),
]


@pytest.mark.parametrize("build, needles", [c[1:] for c in VIDEO_CASES], ids=[c[0] for c in VIDEO_CASES])
def test_video_bad_input(capsys, media, out_dir, shared, build, needles):
    _, line, _ = run_cli(capsys, build(media, out_dir, shared))
    assert_says(line, *needles)
    assert_empty(out_dir)


def test_valid_fixture_video_works(capsys, media, out_dir):
    """The bad inputs above are made from this file, so it must itself go through."""
    assert main(["video", str(media["valid"]), "--bg", "white", "-o", str(out_dir / "ok.mp4"), "-q"]) == 0
    with av.open(str(out_dir / "ok.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == FRAMES


def test_weights_that_do_not_match_the_model(capsys, tmp_path, media, out_dir):
    import torch
    from torchvision.models.segmentation import lraspp_mobilenet_v3_large

    torch.manual_seed(0)
    weights = tmp_path / "lraspp.pth"
    torch.save(lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=21).state_dict(), weights)
    _, line, _ = run_cli(capsys, ["video", str(media["valid"]), "--model", "deeplabv3_mobilenet_v3_large",
                                  "--weights", str(weights), "-o", str(out_dir / "x.mp4")])
    assert_says(line, "lraspp.pth", "does not match", "deeplabv3_mobilenet_v3_large", "pass the checkpoint")
    assert_empty(out_dir)


def test_weights_file_that_is_not_a_checkpoint(capsys, media, out_dir):
    _, line, _ = run_cli(capsys, ["video", str(media["valid"]), "--model", "deeplabv3_mobilenet_v3_large",
                                  "--weights", str(media["text"]), "-o", str(out_dir / "x.mp4")])
    assert_says(line, "notes.mp4", "not a pytorch checkpoint", "torch.save")
    assert_empty(out_dir)


@pytest.mark.parametrize("toml, needles", [
    ('[model]\nbatch_size = "four"\n', ["preset.toml", "batch_size", "'four'", "expected int"]),
    ("[smoothing]\nstrength = true\n", ["preset.toml", "strength", "expected float"]),
    ('[modle]\nname = "selfie"\n', ["preset.toml", "unknown section [modle]", "model"]),
    ("[model]\nbatchsize = 2\n", ["preset.toml", "unknown setting [model] batchsize", "batch_size"]),
    ("[output]\ncrf = 99\n", ["preset.toml", "crf 99", "out of range"]),
    ("[output]\ncrf = 60\n", ["preset.toml", "crf 60", "0 (best; lossless for h.264) .. 51"]),  # was accepted: x264 stops at 51
    ("[model\nname = 1\n", ["preset.toml", "not valid toml"]),
], ids=["wrong-type", "bool-for-float", "unknown-section", "unknown-key", "out-of-range", "crf-above-x264", "bad-syntax"])
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


def test_standard_output_is_refused(capsys, media, tmp_path, monkeypatch):
    """`-o -` made a directory named "-" full of PNGs."""
    monkeypatch.chdir(tmp_path)
    status, line, _ = run_cli(capsys, ["video", str(media["valid"]), "--bg", "white", "-o", "-"])
    assert status == 2
    assert_says(line, "standard output", "out.mp4")
    assert_empty(tmp_path)


def test_frame_directories_are_readable_and_named_as_frames(capsys, media, tmp_path):
    """They were made private (0700) by mkdtemp, unlike every other output; the messages
    did not say that a path without an extension gets PNG frames."""
    previous = os.umask(0o022)
    try:
        capsys.readouterr()
        assert main(["video", str(media["valid"]), "--bg", "white", "-o", str(tmp_path / "frames"),
                     "--alpha-out", str(tmp_path / "matte") + "/", "-q"]) == 0
    finally:
        os.umask(previous)
    err = capsys.readouterr().err
    for name in ("frames", "matte"):
        assert os.stat(tmp_path / name).st_mode & 0o777 == 0o755, name
    frames, matte = (f"{tmp_path / name}{os.sep} (PNG frames)" for name in ("frames", "matte"))
    assert f"-> {frames}" in err, err
    assert f"wrote {frames} and {matte}: {FRAMES} frames" in err, err


def test_unknown_flag_value_is_one_line(capsys, media, out_dir):
    status, line, _ = run_cli(capsys, ["video", str(media["valid"]), "--bg-fit", "bounce", "-o", str(out_dir / "x.mp4")])
    assert status == 2
    assert_says(line, "bounce", "--help")
    assert_empty(out_dir)


def test_image_bad_inputs(capsys, media, out_dir, shared):
    portrait = shared / "media" / "portraits" / "doctor-5871743_640.jpg"
    cases = [
        (["image", str(media["text"]), "-o", str(out_dir)], ["notes.mp4", "is a video", "livebg video"]),
        (["image", str(media["bad_bg"]), "-o", str(out_dir)], ["corrupt.jpg", "not an image", "jpeg"]),
        (["image", str(out_dir.parent / "gone.jpg"), "-o", str(out_dir)], ["gone.jpg", "not found"]),
        # a new output directory is not left behind, whether the job fails before or after making it
        (["image", str(portrait), "--bg", str(media["bad_bg"]), "-o", str(out_dir / "new")], ["--bg", "corrupt.jpg"]),
        (["image", str(portrait), str(media["bad_bg"]), "-o", str(out_dir / "batch")], ["corrupt.jpg", "not an image"]),
        (["image", str(portrait), "--bg", str(media["bad_bg"]), "-o", str(out_dir)], ["--bg", "corrupt.jpg"]),
        (["image", str(portrait), "-o", str(out_dir / "x.xyz")], [".xyz", "not an image format", ".png"]),
        (["image", str(portrait), "-o", str(out_dir / "no" / "x.png")], ["does not exist", "create it"]),
        (["image", str(portrait), str(portrait), "-o", str(out_dir / "one.jpg")], ["one.jpg", "give a directory"]),
    ]
    for args, needles in cases:
        _, line, _ = run_cli(capsys, args)
        assert_says(line, *needles)
        assert_empty(out_dir)


def test_output_that_is_the_input_or_the_background_is_refused(capsys, tmp_path, media, shared):
    work = tmp_path / "work"
    work.mkdir()
    video = work / "in.mp4"
    video.write_bytes(media["valid"].read_bytes())
    photo = work / "p.jpg"
    photo.write_bytes((shared / "media" / "portraits" / "doctor-5871743_640.jpg").read_bytes())
    (work / "bg.mp4").write_bytes(media["valid"].read_bytes())
    (work / "bg.jpg").write_bytes((shared / "media" / "backgrounds" / "porch-691330_1280.jpg").read_bytes())
    before = {p.name: p.read_bytes() for p in work.iterdir()}
    cases = [
        (["video", str(video), "-o", str(video)], ["-o", "in.mp4", "input itself", "another path"]),
        (["video", str(video), "-o", str(work / "x.mp4"), "--alpha-out", str(video)], ["--alpha-out", "in.mp4", "input"]),
        (["image", str(photo), "-o", str(photo)], ["p.jpg", "input photos", "another path"]),
        (["video", str(video), "--bg", str(work / "bg.mp4"), "-o", str(work / "bg.mp4")],
         ["-o", "bg.mp4", "background file", "another path"]),
        (["image", str(photo), "--bg", str(work / "bg.jpg"), "-o", str(work / "bg.jpg")],
         ["-o", "bg.jpg", "background file", "another path"]),
    ]
    for args, needles in cases:
        _, line, _ = run_cli(capsys, args)
        assert_says(line, *needles)
        assert {p.name: p.read_bytes() for p in work.iterdir()} == before


# -- the output cannot be written ------------------------------------------------------------------

def test_an_unwritable_output_directory_is_refused_before_any_work(capsys, tmp_path, media, shared, monkeypatch):
    """chmod cannot stop root (the tests may run as root), so the permission check is made to fail."""
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != locked and real_access(path, mode))
    photo = shared / "media" / "portraits" / "doctor-5871743_640.jpg"
    for args in (["video", str(media["valid"]), "-o", str(locked / "x.mp4")],
                 ["video", str(media["valid"]), "-o", str(tmp_path / "ok.mp4"), "--alpha-out", str(locked / "a.mp4")],
                 ["image", str(photo), "-o", str(locked)],
                 ["image", str(photo), "-o", str(locked / "p.jpg")]):
        _, line, err = run_cli(capsys, args)
        assert_says(line, str(locked), "permission denied", "choose")
        assert "model" not in err  # refused before the model was loaded
        assert_empty(locked)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["locked"]


class DiskFillsUp:
    """A PyAV output container whose disk is full once ``packets`` packets are written."""

    def __init__(self, container, packets: int):
        self._container, self._left = container, packets

    def mux(self, packet):
        if self._left == 0:
            raise OSError(28, "No space left on device")
        self._left -= 1
        self._container.mux(packet)

    def __getattr__(self, name):
        return getattr(self._container, name)


def test_disk_full_while_encoding_is_one_line_and_leaves_nothing(capsys, tmp_path, media, monkeypatch):
    from livebg.sinks import VideoFileSink

    opened = VideoFileSink.__init__

    def open_on_small_disk(self, *args, **kwargs):
        opened(self, *args, **kwargs)
        self.container = DiskFillsUp(self.container, packets=5)

    monkeypatch.setattr(VideoFileSink, "__init__", open_on_small_disk)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    status, line, _ = run_cli(capsys, ["video", str(media["valid"]), "--model", "selfie", "-o", str(out_dir / "x.mp4")])
    assert status == 2
    assert_says(line, "x.mp4", "no space left on device", "disk space")
    assert_empty(out_dir)


def test_disk_full_while_writing_frames_is_one_line_naming_the_output(capsys, tmp_path, media, monkeypatch):
    """PNG frames: libpng printed its own 'Write Error' line, and the message named the hidden
    temporary directory instead of the -o path."""
    written = []
    write_bytes = Path.write_bytes

    def small_disk(self, data):
        if len(written) == 3:
            raise OSError(28, "No space left on device")
        written.append(self)
        return write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", small_disk)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    status, line, err = run_cli(capsys, ["video", str(media["valid"]), "--model", "selfie", "-o", str(out_dir / "frames/")])
    assert status == 2
    assert_says(line, str(out_dir / "frames"), "no space left on device", "disk space")
    assert "partial" not in err and len(written) == 3
    assert_empty(out_dir)


@pytest.mark.parametrize("args", [["video", "~nobody-here/in.mp4"], ["image", "PHOTO", "--bg", "~nobody-here/b.jpg"],
                                  ["video", "PHOTO", "--config", "~nobody-here/p.toml"],
                                  ["image", "PHOTO", "-o", "~nobody-here/out.jpg"]])
def test_a_path_with_an_unknown_users_home_is_one_line(capsys, shared, args):
    """pathlib's expanduser() raises RuntimeError for ~name of a user the machine lacks: a traceback."""
    photo = str(shared / "media" / "portraits" / "doctor-5871743_640.jpg")
    status, line, _ = run_cli(capsys, [photo if a == "PHOTO" else a for a in args])
    assert status == 2
    assert_says(line, "~name", "no such user", "write the path out")


def test_a_muxer_refusal_is_not_blamed_on_the_disk(tmp_path):
    """Timestamps going backwards (a broken input) make the muxer refuse a packet: that is not a
    disk or permission problem, and the message says what failed instead."""
    from livebg.errors import OutputError
    from livebg.sinks import VideoFileSink

    sink = VideoFileSink(tmp_path / "x.mp4", width=64, height=48, rate=Fraction(30), time_base=Fraction(1, 30),
                         preset="ultrafast")
    frame = np.zeros((48, 64, 3), np.uint8)
    with pytest.raises(OutputError) as info:
        for pts in (0, 1, 2, 2, 3, 1, 0):
            sink.write(frame, pts)
        sink.close()
    sink.abort()
    message = str(info.value)
    assert message.startswith("encoding x.mp4 failed") and "disk space" not in message and "another output format" in message
    assert list(tmp_path.iterdir()) == []


def test_the_video_is_removed_when_its_matte_cannot_be_finished(tmp_path, media, monkeypatch):
    from livebg.sinks import ImageDirSink

    def cannot_rename(self):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ImageDirSink, "close", cannot_rename)
    config = Config().override("output", alpha_out=str(tmp_path / "matte"))
    with pytest.raises(OSError):
        run_video(str(media["valid"]), tmp_path / "out.mp4", config, segmenter=ConstantSegmenter(0.5), progress=False)
    assert not (tmp_path / "out.mp4").exists()


def test_sigterm_handler_is_restored_and_a_foreign_one_left_alone(tmp_path, shared, monkeypatch):
    photo = shared / "media" / "portraits" / "doctor-5871743_640.jpg"
    before = signal.getsignal(signal.SIGTERM)
    set_signal = signal.signal
    installed = []
    monkeypatch.setattr(signal, "signal", lambda sig, handler: installed.append(handler) or set_signal(sig, handler))
    try:
        set_signal(signal.SIGTERM, signal.SIG_DFL)
        assert main(["image", str(photo), "-o", str(tmp_path / "a.jpg"), "-q"]) == 0
        assert len(installed) == 2 and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # set, then put back

        def host_handler(signum, frame):  # a program that runs livebg's main() and has its own
            pass

        set_signal(signal.SIGTERM, host_handler)
        installed.clear()
        assert main(["image", str(photo), "-o", str(tmp_path / "b.jpg"), "-q"]) == 0
        assert installed == [] and signal.getsignal(signal.SIGTERM) is host_handler
    finally:
        set_signal(signal.SIGTERM, before)


# -- a failing stage never hangs -----------------------------------------------------------------

def test_failing_stage_raises_promptly_and_leaves_nothing(tmp_path):
    source = make_index_video(tmp_path / "input.mov", frames=200, rate=Fraction(30), size=(96, 64))
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
    source = make_index_video(tmp_path / "input.mov", frames=40, rate=Fraction(30), size=(96, 64))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(RuntimeError, match="on purpose"):
        run_video(str(source), out_dir / "frames", Config(), segmenter=ConstantSegmenter(0.5, fail_at=5), progress=False)
    assert_empty(out_dir)


# -- Ctrl-C during `livebg video` ------------------------------------------------------------------

SLOW_ENCODER = """
import sys, time
from livebg.cli import main
from livebg.sinks import VideoFileSink
write = VideoFileSink.write_i420
def slow_write(self, *args, **kwargs):
    time.sleep({seconds})
    return write(self, *args, **kwargs)
VideoFileSink.write_i420 = slow_write
sys.exit(main(sys.argv[1:]))
"""


class LivebgProcess:
    """`python -m livebg video …` in a subprocess, its stderr collected by a reader thread."""

    def __init__(self, args: list[str], cwd: Path, *, frame_seconds: float = 0.0):
        """``frame_seconds``: the encoder takes at least this long a frame (a slow job, whose
        drain after a Ctrl-C lasts long enough for a second one)."""
        command = [sys.executable, "-m", "livebg", *args]
        if frame_seconds:
            command[1:3] = ["-c", SLOW_ENCODER.format(seconds=frame_seconds)]
        self.proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for chunk in iter(lambda: self.proc.stderr.read1(4096), b""):
            self._chunks.append(chunk)

    @property
    def stderr(self) -> str:
        return b"".join(self._chunks).decode(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.stderr)
            if match:
                return match
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"{pattern!r} never appeared on stderr:\n{self.stderr}")

    def finish(self, timeout: float = 60) -> int:
        try:
            status = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        return status


def frames_flowing(proc: LivebgProcess, seconds: float) -> None:
    """Wait for the job's start line (the model is loaded, the pipeline starts right after it),
    then let frames flow for ``seconds``."""
    proc.wait_for(r"760 frames -> OUT\.mp4")
    # the progress bar has counted a frame: the pipeline (and its signal handling) is running,
    # not still warming up after the start line on a loaded machine
    proc.wait_for(r"\| *[1-9][0-9]*/760", timeout=60)
    time.sleep(seconds)
    assert proc.proc.poll() is None, f"the job ended before the interrupt:\n{proc.stderr}"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])  # Ctrl-C; kill or timeout
def test_ctrl_c_keeps_the_frames_done_so_far(tmp_path, shared, sig):
    proc = LivebgProcess(["video", str(shared / "media" / "videos" / "doctor_960x540.mp4"), "-o", "OUT.mp4"], tmp_path)
    frames_flowing(proc, 2.0)
    proc.proc.send_signal(sig)
    status = proc.finish()
    err = proc.stderr
    # Ctrl-C exits 130; after SIGTERM the file is finished too, and then the process still ends
    # by SIGTERM, as whoever sent it expects
    assert status == (130 if sig == signal.SIGINT else -signal.SIGTERM), err
    assert "Traceback" not in err, err
    assert "frames done so far" in err, err
    assert sorted(os.listdir(tmp_path)) == ["OUT.mp4"], os.listdir(tmp_path)
    with av.open(str(tmp_path / "OUT.mp4")) as c:
        stream = c.streams.video[0]
        assert (stream.width, stream.height) == (960, 540)
        decoded = sum(1 for _ in c.decode(stream))
    assert 0 < decoded < 760
    written = int(re.search(r"wrote OUT\.mp4: (\d+) frames", err).group(1))
    assert written == decoded


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_timeout_keeps_the_frames_done_so_far(tmp_path, shared, sig):
    """coreutils' `timeout` signals livebg and then its whole process group, so livebg gets the
    signal twice at once: that is one stop, not "Ctrl-C again". (It abandoned the file in 3 of 5
    runs with stderr going to a file.)"""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    command = ["timeout", "--preserve-status", "-s", sig.name[3:], "8",  # 8 s: the model is loaded by then
               sys.executable, "-c", SLOW_ENCODER.format(seconds=0.04),  # 25 fps at most: 30 s for the whole video
               "video", str(shared / "media" / "videos" / "doctor_960x540.mp4"), "-o", "OUT.mp4"]
    with open(tmp_path / "stderr.txt", "wb") as stderr:
        status = subprocess.run(command, cwd=out_dir, stdout=subprocess.DEVNULL, stderr=stderr, timeout=120).returncode
    err = (tmp_path / "stderr.txt").read_text(errors="replace")
    assert status == 128 + sig, err  # livebg's own status (130 for Ctrl-C; ended by SIGTERM, as asked)
    assert "Traceback" not in err and "nothing was written" not in err, err
    assert os.listdir(out_dir) == ["OUT.mp4"]
    with av.open(str(out_dir / "OUT.mp4")) as c:
        decoded = sum(1 for _ in c.decode(video=0))
    assert 0 < decoded < 760
    assert f"wrote OUT.mp4: {decoded} frames" in err, err


def test_ctrl_c_twice_abandons_the_file(tmp_path, shared):
    # 0.1 s a frame: the frames in flight (a dozen or more) take over a second to drain
    proc = LivebgProcess(["video", str(shared / "media" / "videos" / "doctor_960x540.mp4"), "-o", "OUT.mp4"], tmp_path,
                         frame_seconds=0.1)
    frames_flowing(proc, 1.0)
    proc.proc.send_signal(signal.SIGINT)
    proc.wait_for("Ctrl-C again", timeout=10)  # the first one was taken: now abandon
    time.sleep(SAME_STOP_SECONDS)  # as a person does: sooner is the first signal repeated
    proc.proc.send_signal(signal.SIGINT)
    status = proc.finish()
    err = proc.stderr
    assert status == 130, err
    assert "Traceback" not in err, err
    assert "nothing was written" in err, err
    assert os.listdir(tmp_path) == [], os.listdir(tmp_path)
