"""livebg/batch/plan.py: probing an input's key frames and cutting it into chunks with a pre-roll."""
from __future__ import annotations

from livebg.batch.plan import plan_chunks, probe
from tests.support import batch_media
from tests.support.batch_media import CLIP_FRAMES

clip = batch_media.clip  # the shared module fixture


def test_probe_and_plan_cut_at_key_frames_with_a_preroll(clip):
    index = probe(clip)
    assert index.frames == CLIP_FRAMES
    assert [frame for frame, _ in index.cuts] == [0, 30, 60, 90]
    chunks = plan_chunks(index, chunk_seconds=1.0)
    assert [(c.start, c.stop) for c in chunks] == [(0, 30), (30, 60), (60, 90), (90, 120)]
    assert [c.preroll for c in chunks] == [0, 30, 30, 30]  # 1 s at 29.97 fps
    assert chunks[2].seek_index == 30 and chunks[2].seek_pts == index.cuts[1][1]
    # a default-length chunk of a long video: the pre-roll is under 5 % of the frames written
    assert plan_chunks(probe(clip), chunk_seconds=1.0)[1].preroll / (60 * 30) < 0.05
    # no chunk shorter than half the chunk length: 2.5 s (75 frames) is cut at 60, not at 90
    assert [(c.start, c.stop) for c in plan_chunks(index, chunk_seconds=2.5)] == [(0, 60), (60, 120)]
