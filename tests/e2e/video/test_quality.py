"""Quality on real weights and real frames: `livebg video` on DAVIS lucia with the bundled
selfie model, scored against the ground-truth masks."""
from __future__ import annotations

import av
import cv2
import numpy as np

from livebg.cli import main
from livebg.evaluation import FlickerMeter, iou

MIN_MEAN_IOU = 0.88  # the raw model alone scores about 0.83 here, livebg's default 0.91
MAX_FLICKER = 0.62  # the raw model 1.29, livebg's default 0.60 (see scripts/evaluate.py)


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


def lucia_alphas(video, tmp_path, name, *flags):
    """The alpha mattes `livebg video` writes for the lucia video, as floats in [0, 1]."""
    matte = tmp_path / name
    assert main(["video", str(video), "--bg", "white", "-o", str(tmp_path / f"{name}.mp4"),
                 "--alpha-out", str(matte), "-q", *flags]) == 0
    return [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255 for p in sorted(matte.glob("*.png"))]


def test_lucia_alpha_matches_ground_truth(shared, tmp_path):
    root = shared / "media/labeled/davis_lucia"
    video = tmp_path / "lucia.mkv"
    files = lossless_video(root / "JPEGImages", video)
    # the decoded video is the JPEGs exactly (lossless)
    with av.open(str(video)) as c:
        first = next(c.decode(video=0)).to_ndarray(format="bgr24")
    assert np.array_equal(first, cv2.imread(str(files[0])))
    truths = [cv2.imread(str(root / "Annotations" / f"{f.stem}.png"), cv2.IMREAD_GRAYSCALE) > 127 for f in files]
    scores = {}
    for name, flags in (("default", ()), ("causal", ("--no-look-ahead",)), ("guide 180", ("--guide-size", "180"))):
        alphas = lucia_alphas(video, tmp_path, name, *flags)
        assert len(alphas) == 70
        flicker = FlickerMeter()
        for alpha, truth in zip(alphas, truths):
            flicker.add(alpha, truth)
        scores[name] = np.mean([iou(a, t) for a, t in zip(alphas, truths)]), flicker.value
        print(f"lucia {name}: mean IoU {scores[name][0]:.3f}, flicker {scores[name][1]:.3f}")
    iou_default, flicker_default = scores["default"]
    assert iou_default >= MIN_MEAN_IOU
    assert flicker_default <= MAX_FLICKER
    # looking ahead steadies the matte without losing IoU: 0.637 -> 0.599 when this was written,
    # of which 0.027 is the neighbours' average and 0.011 the smoother's pass back
    assert flicker_default < scores["causal"][1] - 0.03
    assert iou_default >= scores["causal"][0] - 0.002
    # the default 270 px guide is steadier than a 180 px one (0.620 when this was written)
    assert scores["guide 180"][1] > flicker_default + 0.01


def test_rvm_default_beats_rvm_raw_on_a_walker_and_a_group(shared, tmp_path, rvm_cache, capsys):
    """`livebg video` with auto (RVM, its weights in the cache) against RVM run as its own tools
    run it (whole frame, 256 px inside, its refiner, nothing after), on the slow walker and the
    four schoolgirls (small, 240p). The model issue's goals: IoU >= raw + 0.01, boundary F >=
    raw, flicker <= 0.85 x raw. Measured (docs/quality.md): lucia 0.923 / 0.971 / 0.55 against
    0.908 / 0.954 / 0.72; schoolgirls 0.855 / 0.883 / 1.07 against 0.836 / 0.870 / 1.65."""
    from livebg.config import ModelConfig
    from livebg.evaluation import boundary_f, load_labeled
    from livebg.segment.factory import choose_model
    from livebg.segment.rvm import RvmSegmenter
    from tests.support import RVM_FILE

    assert choose_model(ModelConfig(device="cpu")).spec.name == "rvm"  # auto: RVM, its weights are cached
    reference = RvmSegmenter(RVM_FILE, model_short=256, source_short=0, threads=2)
    for clip in ("davis_lucia", "davis17_schoolgirls"):
        root = shared / "media/labeled" / clip
        video = tmp_path / f"{clip}.mkv"
        lossless_video(root / "JPEGImages", video)
        pairs = load_labeled(root)
        alphas = lucia_alphas(video, tmp_path, clip)
        stream = reference.stream()
        raw = [stream.predict([image])[0].alpha for image, _ in pairs]
        scores = {}
        for name, mattes in (("livebg", alphas), ("raw", raw)):
            flicker = FlickerMeter()
            for alpha, (_, truth) in zip(mattes, pairs, strict=True):
                flicker.add(alpha, truth)
            scores[name] = (np.mean([iou(a, t) for a, (_, t) in zip(mattes, pairs)]),
                            np.mean([boundary_f(a, t) for a, (_, t) in zip(mattes, pairs)]), flicker.value)
        print(f"{clip}: livebg {scores['livebg']}, RVM raw {scores['raw']}")
        (i, b, f), (ri, rb, rf) = scores["livebg"], scores["raw"]
        assert i >= ri + 0.01 and b >= rb and f <= 0.85 * rf, (clip, scores)
