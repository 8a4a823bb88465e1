"""Bad --bg values: unreadable images, unknown keywords and colours, missing files. One
`livebg: error:` line naming the --bg value and what to give instead; nothing written."""
from __future__ import annotations

import pytest

from tests.support.cli_process import assert_empty, assert_says, run_cli

# (case id, argv builder (media, out_dir, shared) -> args, words the error line must contain)
BACKGROUND_CASES = [
    ("bg-unreadable", lambda m, o, s: ["video", str(m["valid"]), "--bg", str(m["bad_bg"]), "-o", str(o / "x.mp4")],
     ["--bg", "corrupt.jpg", "not an image", "use a jpeg"]),
    ("bg-unknown-keyword", lambda m, o, s: ["video", str(m["valid"]), "--bg", "purple", "-o", str(o / "x.mp4")],
     ["unknown background", "purple", "white", "blur"]),
    ("bg-bad-hex", lambda m, o, s: ["video", str(m["valid"]), "--bg", "#ggg", "-o", str(o / "x.mp4")],
     ["unknown background", "#ggg", "#RRGGBB", "#RGB"]),
    ("bg-missing-file", lambda m, o, s: ["video", str(m["valid"]), "--bg", str(o.parent / "nope.jpg"), "-o", str(o / "x.mp4")],
     ["nope.jpg", "not found", "check the path"]),
]


@pytest.mark.parametrize("build, needles", [c[1:] for c in BACKGROUND_CASES], ids=[c[0] for c in BACKGROUND_CASES])
def test_bad_background(capsys, media, out_dir, shared, build, needles):
    _, line, _ = run_cli(capsys, build(media, out_dir, shared))
    assert_says(line, *needles)
    assert_empty(out_dir)
