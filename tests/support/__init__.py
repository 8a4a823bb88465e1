"""What the tests share, imported as a package (``from tests.support import write_clip``; the
repository root is on sys.path through ``pythonpath`` in pyproject.toml's pytest settings):

- ``paths``: the repository, tests/ and the shared models and media beside it;
- ``clips``: the one builder of test clips (``write_clip``), ``read_video``, ``video_frames``, frame-index colours;
- ``fakes``: a segmenter with no model, real frames, a synthetic scene;
- ``cli_process``: the CLI run in this process or as a child, the broken inputs of the error tests;
- ``batch_media``: the batch tests' clip and how to compare a batch with a single run;
- ``live_fakes``: a recording virtual camera, a failing camera, an Xvfb display;
- ``serve_helpers``: a real `livebg serve` in a thread or a child process;
- ``pipewire_daemon``: a private PipeWire session;
- ``fastpath``: real YUV frames and the RGB reference of the YUV 4:2:0 path.

The first three are re-exported here; import the others as modules (they pull in pyvirtualcam,
httpx, …)."""
from tests.support.clips import (
           NTSC,
           decode_index,
           index_color,
           read_video,
           video_frames,
           write_clip,
           write_tone,
)
from tests.support.fakes import (
           ConstantSegmenter,
           SlowSegmenter,
           lucia_frame,
           square_scene,
           yuv_frames,
)
from tests.support.paths import DOCTOR, REPO, RVM_FILE, SHARED, TESTS

__all__ = ["NTSC", "decode_index", "index_color", "read_video", "video_frames", "write_clip", "write_tone", "ConstantSegmenter", "SlowSegmenter",
           "lucia_frame", "square_scene", "yuv_frames", "DOCTOR", "REPO", "RVM_FILE", "SHARED", "TESTS"]
