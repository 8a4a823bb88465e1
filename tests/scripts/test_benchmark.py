"""scripts/benchmark.py on a few frames (file mode and batch mode) so it cannot rot."""
import subprocess
import sys

from tests.support import REPO
from tests.support.paths import load_script


def run(args, timeout=300):
    result = subprocess.run([sys.executable, str(REPO / "scripts/benchmark.py"), *map(str, args)],
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_file_mode_table(shared, tmp_path):
    out = run([shared / "media/videos/thoughtful.mp4", "--bg", shared / "media/backgrounds" / sorted(
        p.name for p in (shared / "media/backgrounds").glob("*.jpg"))[0], "--frames", 4, "--seeds-frames", 2,
        "--model-calls", 3, "--torch-home", tmp_path])
    for row in ("decode + encode floor", "livebg --fast (selfie model)", "livebg, deeplabv3_mobilenet_v3_large",
                "seeds' method, deeplabv3_mobilenet_v3_large", "decode + encode of livebg's output",
                "/ floor =", "/ seeds' method =", "would be about",
                "| as exported (float32 input) |", "| rewritten by livebg/graph.py (uint8 input) |",
                "11 hard-swish, 3 resize, 10 gate rewrites, uint8 input"):
        assert row in out
    assert (tmp_path / "hub/checkpoints").is_dir()  # the random checkpoint went to the given TORCH_HOME


def test_batch_mode_runs_on_cpu(shared, tmp_path):
    out = run([shared / "media/videos/thoughtful.mp4", "--device", "cpu", "--quick", "--batch-sizes", "1,2",
               "--frames", 4, "--torch-home", tmp_path])
    assert "| 1 |" in out and "| 2 |" in out
    assert "deeplabv3_resnet101, float32 on cpu" in out


def test_seeds_method_takes_a_colour_background(shared, tmp_path, monkeypatch):
    """--bg white (once benchmark.py's default) reached the seeds' loop as a file name and crashed it."""
    import av
    import numpy as np

    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    from seeds_method import run_seeds_video

    seen = []

    def method(frame, background):  # stands in for the model: show the background it was given
        seen.append(background[0, 0].tolist())
        return background

    out = tmp_path / "white.mp4"
    n, _ = run_seeds_video(method, str(shared / "media/videos/thoughtful.mp4"), "white", str(out), max_frames=3)
    assert n == 3 and seen == [[255, 255, 255]] * 3
    with av.open(str(out)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert np.abs(frame.astype(int) - 255).max() <= 3
    run_seeds_video(method, str(shared / "media/videos/thoughtful.mp4"), "#00f", str(out), max_frames=1)
    assert seen[-1] == [0, 0, 255]


def test_the_floor_leaves_frame_types_to_x264_as_livebg_does(shared, tmp_path, monkeypatch):
    """Decoded frames carry the input's frame types and libx264 obeys them: a floor that passed
    them on encoded the input's GOP (here all P: the clip has no B-frames) instead of making
    veryfast's own choices, and ran ~10 % faster than any real encode of new frames."""
    import av
    from av.video.frame import PictureType

    benchmark = load_script("benchmark")
    floor_run, make_clip = benchmark.floor_run, benchmark.make_clip

    from livebg.config import Config
    from livebg.jobs import run_video

    def types(path):
        with av.open(str(path)) as container:
            return {PictureType(f.pict_type).name for f in container.decode(video=0)}

    clip = make_clip(str(shared / "media/videos/thoughtful.mp4"), 40, tmp_path)  # ultrafast: no B-frames
    assert "B" not in types(clip)
    floor_run(clip, str(tmp_path / "floor.mp4"))
    run_video(clip, tmp_path / "livebg.mp4", Config().override("background", bg="white"), progress=False)
    assert "B" in types(tmp_path / "floor.mp4")
    assert "B" in types(tmp_path / "livebg.mp4")


def test_seeds_method_blurs_the_whole_frame_for_blur(shared, tmp_path, monkeypatch):
    """--bg blur (benchmark.py's default, as livebg's) crashed the seeds' loop ("No such file:
    'blur'"). The seeds blur each whole frame at full size, with livebg's strength as sigma."""
    import cv2
    import numpy as np

    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    from seeds_method import run_seeds_video

    pairs = []

    def method(frame, background):
        pairs.append((frame, background))
        return background

    video = str(shared / "media/videos/thoughtful.mp4")
    for spec, sigma in (("blur", 25), ("blur:5", 5)):
        pairs.clear()
        n, _ = run_seeds_video(method, video, spec, str(tmp_path / "blur.mp4"), max_frames=2)
        assert n == 2 and len(pairs) == 2
        for frame, background in pairs:
            assert np.array_equal(background, cv2.GaussianBlur(frame, (0, 0), sigma))
            assert np.abs(background.astype(int) - frame).mean() > 2  # blurred, not the frame


def test_seeds_method_reads_blur_strengths_as_livebg_does(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    from seeds_method import blur_sigma, supported_background

    assert [blur_sigma(s) for s in ("blur", "BLUR:5", "blur: 7", "blur:200")] == [25, 5, 7, 200]
    for spec in ("blur:0", "blur:500", "blur:x", "white", "blurry"):
        assert blur_sigma(spec) == 0, spec
    assert supported_background("blur:5") and supported_background("#fa0")
    assert not supported_background("blur:500") and not supported_background("gray")


def test_benchmark_rejects_a_background_the_seeds_method_cannot_make(shared, tmp_path):
    for bg in ("gray", "transparent", "blur:500", str(tmp_path / "missing.jpg")):
        result = subprocess.run([sys.executable, str(REPO / "scripts/benchmark.py"),
                                 str(shared / "media/videos/thoughtful.mp4"), "--bg", bg, "--frames", "2"],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert f"--bg {bg}: the seeds' method takes a colour, blur[:N], or an image or video file" in result.stderr


def test_live_benchmark_and_soak_scripts_run(tmp_path):
    """scripts/bench_live.py (RGB and I420 sinks, a competing busy core) and scripts/soak_live.py
    (statistics sampled while it runs) on a few seconds, so that they cannot rot."""
    out = subprocess.run([sys.executable, str(REPO / "scripts/bench_live.py"), "--models", "selfie", "--size", "320x180",
                          "--sinks", "I420,RGB", "--load", "0,1", "--seconds", "2"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [line for line in out.stdout.splitlines() if line.startswith("| selfie |")]
    assert len(rows) == 4 and any("| RGB | 1 |" in r for r in rows)
    soak = subprocess.run([sys.executable, str(REPO / "scripts/soak_live.py"), "--minutes", "0.1", "--every", "2",
                           "--size", "320x180", "--warm-up", "1"], capture_output=True, text=True, timeout=300)
    assert soak.returncode == 0, soak.stderr[-3000:]
    samples = [line for line in soak.stdout.splitlines() if line.startswith("| 0.")]
    assert len(samples) >= 2 and "memory after warm-up" in soak.stdout
