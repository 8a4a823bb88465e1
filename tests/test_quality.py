"""Quality on real weights and real frames: `livebg video` on DAVIS lucia with the bundled
selfie model, scored against the ground-truth masks."""
from __future__ import annotations

import av
import cv2
import numpy as np

from livebg.cli import main

MIN_MEAN_IOU = 0.78  # the raw model alone scores about 0.83 here


def lossless_video(frames_dir, path):
    """The JPEG frames as an FFV1 (lossless) video at 24 fps."""
    files = sorted(frames_dir.glob("*.jpg"))
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=24)
        first = cv2.imread(str(files[0]))
        stream.height, stream.width = first.shape[:2]
        stream.pix_fmt = "bgr0"
        for i, f in enumerate(files):
            frame = av.VideoFrame.from_ndarray(cv2.imread(str(f)), format="bgr24")
            frame.pts = i
            for p in stream.encode(frame):
                out.mux(p)
        for p in stream.encode():
            out.mux(p)
    return files


def test_lucia_alpha_matches_ground_truth(shared, tmp_path):
    root = shared / "media/labeled/davis_lucia"
    video = tmp_path / "lucia.mkv"
    files = lossless_video(root / "JPEGImages", video)
    # the decoded video is the JPEGs exactly (lossless)
    with av.open(str(video)) as c:
        first = next(c.decode(video=0)).to_ndarray(format="bgr24")
    assert np.array_equal(first, cv2.imread(str(files[0])))
    matte = tmp_path / "alpha"
    assert main(["video", str(video), "--bg", "white", "-o", str(tmp_path / "out.mp4"), "--alpha-out", str(matte), "-q"]) == 0
    ious = []
    for i, f in enumerate(files):
        alpha = cv2.imread(str(matte / f"{i:05d}.png"), cv2.IMREAD_GRAYSCALE) >= 128
        truth = cv2.imread(str(root / "Annotations" / f"{f.stem}.png"), cv2.IMREAD_GRAYSCALE) > 127
        ious.append((alpha & truth).sum() / max(1, (alpha | truth).sum()))
    assert len(ious) == 70
    print(f"lucia mean IoU {np.mean(ious):.3f}")
    assert np.mean(ious) >= MIN_MEAN_IOU
