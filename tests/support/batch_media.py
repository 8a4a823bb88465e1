"""Clips for the batch tests: short, small, with a key frame every second (so a few seconds
cut into several chunks), B-frames (frames reordered, as real footage has) and an AAC tone;
and how to compare a batch's output with a single run's."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from livebg.cli import main
from tests.support.clips import write_clip

CLIP_FRAMES = 120  # 4 s at 29.97 fps: chunks at 1 s give 4 chunks, 3 seams
# Pixels of a batch's output against a single run's: the chunks start a new GOP where the single
# run's x264 did not, so the encoding noise differs (measured: mean |diff| per frame at most
# 1.6 of 255 at crf 20); a seam that showed a jump would differ by far more.
PIXEL_TOLERANCE = 3.0


def decoded(path: Path) -> tuple[object, list[int], list[np.ndarray], list[tuple[int, bytes]]]:
    """(video time base, frame pts, RGB frames, audio packets (pts, bytes)) of a file."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        time_base = stream.time_base
        frames = [(f.pts, f.to_ndarray(format="rgb24")) for f in container.decode(stream)]
    with av.open(str(path)) as container:
        audio = [(p.pts, bytes(p)) for p in container.demux(container.streams.audio[0]) if p.size] \
            if container.streams.audio else []
    return time_base, [p for p, _ in frames], [f for _, f in frames], audio


def compare_to_single(batch_output: Path, single_output: Path, seams: list[int]) -> tuple[float, int, int]:
    """Assert the same time base, frame count, pts and audio packets; return (worst frame's mean
    |pixel diff|, that frame, its distance from the nearest seam)."""
    tb_b, pts_b, frames_b, audio_b = decoded(batch_output)
    tb_s, pts_s, frames_s, audio_s = decoded(single_output)
    assert tb_b == tb_s
    assert pts_b == pts_s
    assert len(audio_b) == len(audio_s) and audio_b == audio_s
    diffs = [float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean()) for a, b in zip(frames_b, frames_s)]
    worst = int(np.argmax(diffs))
    distance = min((worst - s for s in seams), key=abs) if seams else 0
    assert diffs[worst] <= PIXEL_TOLERANCE, (diffs[worst], worst, distance)
    return diffs[worst], worst, distance


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A 4 s clip of the doctor for a test module: x264's veryfast (B-frames, frames reordered as
    in real footage), a key frame every 30 frames (each second starts a chunk), an AAC tone."""
    return write_clip(tmp_path_factory.mktemp("batch-media") / "talk.mp4", frames=CLIP_FRAMES, preset="veryfast",
                      gop=30, audio=True)


@pytest.fixture(scope="module")
def single(clip, tmp_path_factory) -> Path:
    """The clip through one `livebg video` run: what a batch must match."""
    out = tmp_path_factory.mktemp("single") / "talk_livebg.mp4"
    assert main(["video", str(clip), "-o", str(out), "--fast", "-q"]) == 0
    return out
