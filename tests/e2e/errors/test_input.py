"""Bad inputs: missing, broken or truncated videos, photos that are not photos, paths that
cannot be read. One `livebg: error:` line that names the problem and what to do, a non-zero
exit status, and nothing left in the output directory (not even a partial file)."""
from __future__ import annotations

import av
import numpy as np
import pytest

from livebg.cli import main
from tests.support.cli_process import FRAMES, assert_empty, assert_says, run_cli

# (case id, argv builder (media, out_dir, shared) -> args, words the error line must contain)
INPUT_CASES = [
    ("missing-input", lambda m, o, s: ["video", str(m["valid"].parent / "missing.mp4"), "-o", str(o / "x.mp4")],
     ["missing.mp4", "not found", "check the path"]),
    ("not-a-video", lambda m, o, s: ["video", str(m["text"]), "-o", str(o / "x.mp4")],
     ["notes.mp4", "not a video", "check"]),
    ("truncated-moov-at-end", lambda m, o, s: ["video", str(m["truncated"]), "-o", str(o / "x.mp4")],
     ["truncated.mp4", "complete"]),
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


@pytest.mark.parametrize("name, needles", [("cut", ["ends early", "frames before that"]),
                                           ("cut_at_packet", ["ends early", "frames before that"]),
                                           ("garbled", ["damaged"])])
def test_a_damaged_video_keeps_what_decoded_and_exits_4(capsys, media, out_dir, name, needles):
    """A cut-off or partly garbled input used to give no output at all: the frames it gives are
    written, the line says what was lost, and the exit code is 4 (README: Exit codes)."""
    out = out_dir / "x.mp4"
    status = main(["video", str(media[name]), "--bg", "white", "-o", str(out), "-q"])
    err = capsys.readouterr().err
    assert status == 4, err
    assert "Traceback" not in err
    line = [l for l in err.splitlines() if "the input is damaged" in l]
    assert len(line) == 1, err
    assert_says(line[0], *needles, "--strict")
    with av.open(str(out)) as c:
        written = sum(1 for _ in c.decode(video=0))
    with av.open(str(media[name])) as c:  # what FFmpeg itself gets out of the file
        try:
            readable = sum(1 for _ in c.decode(video=0))
        except av.FFmpegError:
            readable = None
    assert 0 < written < FRAMES or name == "garbled"
    if readable is not None and name != "garbled":
        assert written == readable


@pytest.mark.parametrize("name", ["cut", "cut_at_packet", "garbled"])
def test_strict_fails_on_a_damaged_video_and_writes_nothing(capsys, media, out_dir, name):
    status, line, _ = run_cli(capsys, ["video", str(media[name]), "--bg", "white", "-o", str(out_dir / "x.mp4"), "--strict"])
    assert status == 2
    assert_says(line, name, "complete copy")
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
        (["image", str(portrait), "--bg", str(media["bad_bg"]), "-o", str(out_dir)], ["--bg", "corrupt.jpg"]),
        (["image", str(portrait), "-o", str(out_dir / "x.xyz")], [".xyz", "not an image format", ".png"]),
        (["image", str(portrait), "-o", str(out_dir / "no" / "x.png")], ["does not exist", "create it"]),
        (["image", str(portrait), str(portrait), "-o", str(out_dir / "one.jpg")], ["one.jpg", "give a directory"]),
    ]
    for args, needles in cases:
        _, line, _ = run_cli(capsys, args)
        assert_says(line, *needles)
        assert_empty(out_dir)
    # in a batch, a bad photo fails alone (exit 3): the good one is written
    status, line, _ = run_cli(capsys, ["image", str(portrait), str(media["bad_bg"]), "-o", str(out_dir / "batch")])
    assert status == 3
    assert_says(line, "1 of 2 photos failed", "corrupt.jpg", "1 written")
    assert [p.name for p in (out_dir / "batch").iterdir()] == [f"{portrait.stem}_livebg.jpg"]


@pytest.mark.parametrize("args", [["video", "~nobody-here/in.mp4"], ["image", "PHOTO", "--bg", "~nobody-here/b.jpg"],
                                  ["video", "PHOTO", "--config", "~nobody-here/p.toml"],
                                  ["image", "PHOTO", "-o", "~nobody-here/out.jpg"]])
def test_a_path_with_an_unknown_users_home_is_one_line(capsys, shared, args):
    """pathlib's expanduser() raises RuntimeError for ~name of a user the machine lacks: a traceback."""
    photo = str(shared / "media" / "portraits" / "doctor-5871743_640.jpg")
    status, line, _ = run_cli(capsys, [photo if a == "PHOTO" else a for a in args])
    assert status == 2
    assert_says(line, "~name", "no such user", "write the path out")


def test_garbage_in_the_middle_of_a_real_clip_names_the_garbled_frames(shared, tmp_path, capsys):
    """20 kB of random bytes in the middle of a 367-frame clip: the decoder conceals it and the
    damage spreads from the broken key frame to the next one; those frames are named."""
    data = bytearray((shared / "media/videos/thoughtful.mp4").read_bytes())
    middle = len(data) // 2
    data[middle:middle + 20_000] = np.random.default_rng(1).integers(0, 256, 20_000, dtype=np.uint8).tobytes()
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    assert main(["video", str(damaged), "--fast", "--bg", "white", "-o", str(tmp_path / "out.mp4"), "-q"]) == 4
    err = capsys.readouterr().err
    assert "model selfie" not in err  # -q leaves out the report lines, not the warning
    assert "90 frames (180-269) decoded from damaged data" in err
    with av.open(str(tmp_path / "out.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 367
