"""Models that cannot be used: unknown names and classes, missing or broken .onnx files,
checkpoints that are not checkpoints or belong to another model. One `livebg: error:` line that
says what to give instead; nothing written."""
from __future__ import annotations

import pytest

from tests.support.cli_process import assert_empty, assert_says, run_cli

# (case id, argv builder (media, out_dir, shared) -> args, words the error line must contain)
MODEL_CASES = [
    ("unknown-model", lambda m, o, s: ["video", str(m["valid"]), "--model", "deeplabv9", "-o", str(o / "x.mp4")],
     ["unknown model", "deeplabv9", "selfie", ".onnx"]),
    ("missing-onnx-model", lambda m, o, s: ["video", str(m["valid"]), "--model", str(o.parent / "m.onnx"), "-o", str(o / "x.mp4")],
     ["m.onnx", "not found", "livebg models"]),
    ("cut-onnx-model", lambda m, o, s: ["video", str(m["valid"]), "--model", str(m["bad_model"]), "-o", str(o / "x.mp4")],
     ["cut.onnx", "not a readable ONNX model", "check the file"]),
    ("text-onnx-model", lambda m, o, s: ["video", str(m["valid"]), "--model", str(m["text_model"]), "-o", str(o / "x.mp4")],
     ["notes.onnx", "not a readable ONNX model", "check the file"]),
    ("unknown-class", lambda m, o, s: ["video", str(m["valid"]), "--classes", "persn", "-o", str(o / "x.mp4")],
     ["unknown class", "persn", "person"]),
    ("unknown-voc-class", lambda m, o, s: ["video", str(m["valid"]), "--classes", "person,unicorn",
                                           "--model", str(s / "models" / "deeplabv3_mobilenetv2_voc_257x257.onnx"),
                                           "-o", str(o / "x.mp4")],
     ["unicorn", "choose from", "bicycle"]),
]


@pytest.mark.parametrize("build, needles", [c[1:] for c in MODEL_CASES], ids=[c[0] for c in MODEL_CASES])
def test_bad_model(capsys, media, out_dir, shared, build, needles):
    _, line, _ = run_cli(capsys, build(media, out_dir, shared))
    assert_says(line, *needles)
    assert_empty(out_dir)


def test_weights_that_do_not_match_the_model(capsys, tmp_path, media, out_dir):
    import torch
    from torchvision.models.segmentation import lraspp_mobilenet_v3_large

    torch.manual_seed(0)
    weights = tmp_path / "lraspp.pth"
    torch.save(lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=21).state_dict(), weights)
    _, line, _ = run_cli(capsys, ["video", str(media["valid"]), "--model", "deeplabv3_mobilenet_v3_large",
                                  "--weights", str(weights), "-o", str(out_dir / "x.mp4")])
    assert_says(line, "lraspp.pth", "does not match", "deeplabv3_mobilenet_v3_large", "pass the checkpoint")
    assert_empty(out_dir)


def test_weights_file_that_is_not_a_checkpoint(capsys, media, out_dir):
    _, line, _ = run_cli(capsys, ["video", str(media["valid"]), "--model", "deeplabv3_mobilenet_v3_large",
                                  "--weights", str(media["text"]), "-o", str(out_dir / "x.mp4")])
    assert_says(line, "notes.mp4", "not a pytorch checkpoint", "torch.save")
    assert_empty(out_dir)
