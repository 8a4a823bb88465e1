"""Bad inputs: missing, broken or truncated videos, photos that are not photos, paths that
cannot be read. One `livebg: error:` line that names the problem and what to do, a non-zero
exit status, and nothing left in the output directory (not even a partial file)."""
from __future__ import annotations

import av
import pytest
from cli_process import FRAMES, assert_empty, assert_says, run_cli

from livebg.cli import main

# (case id, argv builder (media, out_dir, shared) -> args, words the error line must contain)
INPUT_CASES = [
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
]


@pytest.mark.parametrize("build, needles", [c[1:] for c in INPUT_CASES], ids=[c[0] for c in INPUT_CASES])
def test_bad_video_input(capsys, media, out_dir, shared, build, needles):
    _, line, _ = run_cli(capsys, build(media, out_dir, shared))
    assert_says(line, *needles)
    assert_empty(out_dir)


def test_valid_fixture_video_works(capsys, media, out_dir):
    """The bad inputs above are made from this file, so it must itself go through."""
    assert main(["video", str(media["valid"]), "--bg", "white", "-o", str(out_dir / "ok.mp4"), "-q"]) == 0
    with av.open(str(out_dir / "ok.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == FRAMES


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


@pytest.mark.parametrize("args", [["video", "~nobody-here/in.mp4"], ["image", "PHOTO", "--bg", "~nobody-here/b.jpg"],
                                  ["video", "PHOTO", "--config", "~nobody-here/p.toml"],
                                  ["image", "PHOTO", "-o", "~nobody-here/out.jpg"]])
def test_a_path_with_an_unknown_users_home_is_one_line(capsys, shared, args):
    """pathlib's expanduser() raises RuntimeError for ~name of a user the machine lacks: a traceback."""
    photo = str(shared / "media" / "portraits" / "doctor-5871743_640.jpg")
    status, line, _ = run_cli(capsys, [photo if a == "PHOTO" else a for a in args])
    assert status == 2
    assert_says(line, "~name", "no such user", "write the path out")
