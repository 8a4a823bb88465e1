"""Outputs that cannot be written: missing or unwritable directories, formats that cannot hold
the result, the input itself as the output, a disk that fills up, a muxer that refuses. One
`livebg: error:` line, and no partial file left behind."""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from livebg.cli import main
from livebg.config import Config
from livebg.jobs import run_video
from tests.support import ConstantSegmenter
from tests.support.cli_process import FRAMES, assert_empty, assert_says, run_cli

# (case id, argv builder (media, out_dir, shared) -> args, words the error line must contain)
OUTPUT_CASES = [
    ("output-dir-missing", lambda m, o, s: ["video", str(m["valid"]), "-o", str(o / "no" / "x.mp4")],
     ["does not exist", "create it"]),
    ("transparent-into-mp4", lambda m, o, s: ["video", str(m["valid"]), "--bg", "transparent", "-o", str(o / "x.mp4")],
     ["x.mp4", "transparency", ".mov", ".webm"]),
    ("unknown-extension", lambda m, o, s: ["video", str(m["valid"]), "-o", str(o / "x.xyz")],
     [".xyz", "not supported", ".mp4"]),
    ("image-extension-for-video", lambda m, o, s: ["video", str(m["valid"]), "-o", str(o / "x.png")],
     ["x.png", "single image", ".mp4"]),
]


@pytest.mark.parametrize("build, needles", [c[1:] for c in OUTPUT_CASES], ids=[c[0] for c in OUTPUT_CASES])
def test_bad_video_output(capsys, media, out_dir, shared, build, needles):
    _, line, _ = run_cli(capsys, build(media, out_dir, shared))
    assert_says(line, *needles)
    assert_empty(out_dir)


def test_standard_output_is_refused(capsys, media, tmp_path, monkeypatch):
    """`-o -` made a directory named "-" full of PNGs."""
    monkeypatch.chdir(tmp_path)
    status, line, _ = run_cli(capsys, ["video", str(media["valid"]), "--bg", "white", "-o", "-"])
    assert status == 2
    assert_says(line, "standard output", "out.mp4")
    assert_empty(tmp_path)


@pytest.mark.parametrize("where", [".", "./", "..", "/", "CWD"])
def test_the_current_directory_or_its_parents_as_output_are_refused(capsys, media, tmp_path, monkeypatch, where):
    """`-o .` in an empty directory crashed in partial_path (a path without a name); a directory
    output gets PNG frames in a directory made under a temporary name and renamed into place,
    which cannot be the current directory (nor any directory above it)."""
    cwd = tmp_path / "work"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    target = str(cwd) if where == "CWD" else where
    status, line, _ = run_cli(capsys, ["video", str(media["valid"]), "--bg", "white", "-o", target])
    assert status == 2
    assert_says(line, "current directory", "-o frames/")
    assert_empty(cwd)


def test_frame_directories_are_readable_and_named_as_frames(capsys, media, tmp_path):
    """They were made private (0700) by mkdtemp, unlike every other output; the messages
    did not say that a path without an extension gets PNG frames."""
    previous = os.umask(0o022)
    try:
        capsys.readouterr()
        assert main(["video", str(media["valid"]), "--bg", "white", "-o", str(tmp_path / "frames"),
                     "--alpha-out", str(tmp_path / "matte") + "/"]) == 0
    finally:
        os.umask(previous)
    err = capsys.readouterr().err
    for name in ("frames", "matte"):
        assert os.stat(tmp_path / name).st_mode & 0o777 == 0o755, name
    frames, matte = (f"{tmp_path / name}{os.sep} (PNG frames)" for name in ("frames", "matte"))
    assert f"-> {frames}" in err, err
    assert f"wrote {frames} and {matte}: {FRAMES} frames" in err, err


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
