"""scripts/benchmark.py on a few frames (file mode and batch mode) so it cannot rot."""
import subprocess
import sys

from conftest import REPO


def run(args, timeout=300):
    result = subprocess.run([sys.executable, str(REPO / "scripts/benchmark.py"), *map(str, args)],
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_file_mode_table(shared, tmp_path):
    out = run([shared / "media/videos/thoughtful.mp4", "--bg", shared / "media/backgrounds" / sorted(
        p.name for p in (shared / "media/backgrounds").glob("*.jpg"))[0], "--frames", 4, "--seeds-frames", 2,
        "--torch-home", tmp_path])
    for row in ("decode + encode floor", "livebg, default model", "livebg, deeplabv3_mobilenet_v3_large",
                "seeds' method, deeplabv3_mobilenet_v3_large", "decode + encode of livebg's output",
                "/ floor =", "/ seeds' method =", "would be about"):
        assert row in out
    assert (tmp_path / "hub/checkpoints").is_dir()  # the random checkpoint went to the given TORCH_HOME


def test_batch_mode_runs_on_cpu(shared, tmp_path):
    out = run([shared / "media/videos/thoughtful.mp4", "--device", "cpu", "--quick", "--batch-sizes", "1,2",
               "--frames", 4, "--torch-home", tmp_path])
    assert "| 1 |" in out and "| 2 |" in out
    assert "deeplabv3_resnet101, float32 on cpu" in out
