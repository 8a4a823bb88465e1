"""Segmenters: torchvision loading through torchvision's own cache, reduced-precision and batch
parity (the CUDA path's settings, exercised on CPU), and the ONNX models on real frames."""
from __future__ import annotations

import os
import urllib.error
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from livebg.config import ModelConfig
from livebg.errors import ModelError
from livebg.segment.factory import load_segmenter
from livebg.segment.onnx_model import OnnxSegmenter
from livebg.segment.torch_model import TorchSegmenter
from livebg.segment.weights import (
    TORCHVISION_MODELS,
    checkpoint_file_name,
    torchvision_weights,
)


def lucia_frame(shared, index=0):
    image = cv2.imread(str(shared / "media/labeled/davis_lucia/JPEGImages" / f"{index:05d}.jpg"))
    mask = cv2.imread(str(shared / "media/labeled/davis_lucia/Annotations" / f"{index:05d}.png"), cv2.IMREAD_GRAYSCALE)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), mask > 127


def save_random_checkpoint(name: str, directory) -> Path:
    """A randomly initialised model saved under torchvision's file name (as a download would be)."""
    from torchvision.models import get_model_builder

    weights = torchvision_weights(name)
    kwargs = {"weights": None, "weights_backbone": None, "num_classes": len(weights.meta["categories"])}
    if not name.startswith("lraspp"):
        kwargs["aux_loss"] = True  # torchvision's checkpoints carry the aux head
    torch.manual_seed(0)
    model = get_model_builder(name)(**kwargs)
    path = directory / checkpoint_file_name(weights)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub" / "checkpoints"


@pytest.mark.parametrize("name", TORCHVISION_MODELS)
def test_torchvision_model_loads_from_torchvision_cache(name, torch_home, shared):
    save_random_checkpoint(name, torch_home)
    segmenter, reason = load_segmenter(ModelConfig(name=name, device="cpu", infer_size=64, download=False))
    assert isinstance(segmenter, TorchSegmenter) and reason == "chosen with --model or the preset"
    assert segmenter.indices == [15]  # "person" found by name in the weights' categories
    frame, _ = lucia_frame(shared)
    (prob,) = segmenter.predict([frame])
    assert prob.dtype == np.float32 and prob.shape == (64, 114)
    assert 0.0 <= prob.min() and prob.max() <= 1.0
    assert "torchvision" in segmenter.describe() and "64 px" in segmenter.describe()


def test_weights_file_and_mismatch(tmp_path, shared):
    path = save_random_checkpoint("lraspp_mobilenet_v3_large", tmp_path)
    segmenter, _ = load_segmenter(ModelConfig(name="lraspp_mobilenet_v3_large", weights=str(path), device="cpu", infer_size=64))
    assert segmenter.predict([lucia_frame(shared)[0]])[0].shape == (64, 114)
    with pytest.raises(ModelError, match="does not match model deeplabv3_mobilenet_v3_large"):
        load_segmenter(ModelConfig(name="deeplabv3_mobilenet_v3_large", weights=str(path), device="cpu"))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="is not a PyTorch checkpoint"):
        load_segmenter(ModelConfig(name="lraspp_mobilenet_v3_large", weights=str(junk), device="cpu"))


def test_missing_weights_say_file_cache_and_offline_alternative(torch_home, monkeypatch):
    name = "deeplabv3_mobilenet_v3_large"
    file = checkpoint_file_name(torchvision_weights(name))
    with pytest.raises(ModelError) as info:
        load_segmenter(ModelConfig(name=name, device="cpu", download=False))
    message = str(info.value)
    assert file in message and str(torch_home) in message and "--model selfie" in message

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(ModelError, match="could not be downloaded") as info:
        load_segmenter(ModelConfig(name=name, device="cpu"))
    assert file in str(info.value) and "--model selfie" in str(info.value)


def test_unknown_model_and_class(shared):
    with pytest.raises(ModelError, match="unknown model 'deeplab'"):
        load_segmenter(ModelConfig(name="deeplab"))
    with pytest.raises(ModelError, match="unknown class 'cat' for model selfie"):
        load_segmenter(ModelConfig(name="selfie", classes=("cat",)))
    with pytest.raises(ModelError, match="model file not found"):
        load_segmenter(ModelConfig(name="missing.onnx"))


@pytest.fixture(scope="module")
def small_torch_model():
    from torchvision.models import get_model_builder

    torch.manual_seed(0)
    return get_model_builder("lraspp_mobilenet_v3_large")(weights=None, weights_backbone=None, num_classes=21)


def make_segmenter(model, **kwargs):
    import copy

    categories = torchvision_weights("lraspp_mobilenet_v3_large").meta["categories"]
    return TorchSegmenter(copy.deepcopy(model), name="lraspp", categories=categories, classes=("person", "chair"),
                          device="cpu", infer_size=96, **kwargs)


def real_frames(shared, n=4):
    return [lucia_frame(shared, i * 10)[0] for i in range(n)]


# Tolerances for reduced precision against float32 (probabilities in [0, 1]): bfloat16 keeps
# 8 bits of mantissa, float16 10; the softmax itself always runs in float32.
TOLERANCE = {"bfloat16": 0.08, "float16": 0.02}


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_reduced_precision_matches_float32(small_torch_model, shared, precision):
    frames = real_frames(shared, 2)
    reference = make_segmenter(small_torch_model, precision="float32").predict(frames)
    try:
        reduced = make_segmenter(small_torch_model, precision=precision, channels_last=True).predict(frames)
    except RuntimeError as exc:  # some CPU builds lack float16 convolutions
        if precision == "float16" and "not implemented" in str(exc).lower():
            pytest.fail(f"float16 on CPU is not available in this torch build: {exc}")
        raise
    for ref, red in zip(reference, reduced):
        assert red.dtype == np.float32
        assert np.abs(ref - red).mean() < TOLERANCE[precision] / 4
        assert np.abs(ref - red).max() < TOLERANCE[precision] * 4


def test_batch_of_n_equals_n_single_frames(small_torch_model, shared):
    frames = real_frames(shared, 4)
    batched = make_segmenter(small_torch_model, batch_size=4, channels_last=True).predict(frames)
    single = make_segmenter(small_torch_model, batch_size=1)
    for frame, b in zip(frames, batched):
        np.testing.assert_allclose(single.predict([frame])[0], b, atol=1e-4)


def iou(a, b) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def test_onnx_models_on_real_frames(shared):
    frame, truth = lucia_frame(shared, 30)
    for path, expect in [("mediapipe_selfie_256x256.onnx", 0.75), ("mediapipe_selfie_landscape_144x256.onnx", 0.7)]:
        segmenter = OnnxSegmenter(shared / "models" / path, name=path, classes=("person",))
        assert segmenter.layout == "NHWC"
        prob = segmenter.predict([frame])[0]
        assert iou(cv2.resize(prob, truth.shape[::-1]) > 0.5, truth) > expect, path
    # the VOC model is weak on DAVIS frames (shared/README: 0.63 mean IoU); on a portrait it
    # must agree with the selfie model
    portrait = cv2.cvtColor(cv2.imread(str(shared / "media/portraits/girl-919048_1280.jpg")), cv2.COLOR_BGR2RGB)
    voc = OnnxSegmenter(shared / "models/deeplabv3_mobilenetv2_voc_257x257.onnx", name="voc", classes=("person",))
    selfie = OnnxSegmenter(shared / "models/mediapipe_selfie_256x256.onnx", name="selfie")
    size = portrait.shape[1::-1]
    voc_mask = cv2.resize(voc.predict([portrait])[0], size) > 0.5
    selfie_mask = cv2.resize(selfie.predict([portrait])[0], size) > 0.5
    assert voc.layout == "NCHW" and iou(voc_mask, selfie_mask) > 0.7
    pets = OnnxSegmenter(shared / "models/deeplabv3_mobilenetv2_voc_257x257.onnx", name="voc", classes=("cat", "dog"))
    assert pets.indices == [8, 12]
    assert pets.predict([portrait])[0].mean() < 0.1  # no cats or dogs in the portrait


def test_torch_blend_matches_cpu_blend():
    from livebg.composite.blend import blend_torch, composite

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    bg = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    alpha = rng.random((40, 50), dtype=np.float32)
    cpu = composite(frame, alpha, bg)
    for dtype, tol in [(torch.float32, 1), (torch.bfloat16, 3)]:
        t = blend_torch(torch.from_numpy(frame), torch.from_numpy(alpha).to(dtype), torch.from_numpy(bg)).numpy()
        assert np.abs(t.astype(int) - cpu).max() <= tol


def test_device_blend_path_matches_opencv_blend():
    """The Compositor's tensor path (used on CUDA in float16) run on the CPU."""
    from livebg.composite.blend import Compositor
    from livebg.composite.plain import ColorBackground

    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    alpha = rng.random((30, 40), dtype=np.float32)
    background = ColorBackground((10, 200, 30), "test")
    on_cpu = Compositor(background)(frame, alpha, 0)
    on_device = Compositor(background, device="cpu")(frame, alpha, 0)
    assert on_device.dtype == np.uint8 and np.abs(on_device.astype(int) - on_cpu).max() <= 1


@pytest.mark.parametrize("width", [640, 729, 767])
def test_downscale_keeps_the_crops_geometry_for_any_width(shared, width):
    """Model inputs from crops of any width: the integer-factor INTER_AREA step runs on the crop
    trimmed to a multiple of the factor (OpenCV's fast path), which may drop a column: an edge
    lands within half an output pixel of where it belongs (the two steps alone are 0.14 off at
    700 px, the trim adds 0.24 at 729), and a real frame comes out within about a level of the
    direct INTER_AREA resize."""
    import av

    from livebg.frames.yuv import downscale

    edge = np.zeros((540, width, 3), np.uint8)
    edge[:, 500:] = 200
    row = downscale(edge, (256, 256))[128, :, 0].astype(float)
    crossing = np.flatnonzero(row >= 100)[0]
    at = crossing - 1 + (100 - row[crossing - 1]) / (row[crossing] - row[crossing - 1])  # where it crosses half
    assert abs(at + 0.5 - 500 / width * 256) < 0.5  # pixel centres at +0.5

    with av.open(str(shared / "media/videos/doctor_960x540.mp4")) as c:
        frame = next(c.decode(video=0)).to_ndarray(format="rgb24")
    crop = frame[:, 100:100 + width]
    ours = downscale(crop, (256, 256))
    direct = cv2.resize(crop, (256, 256), interpolation=cv2.INTER_AREA)
    assert ours.shape == direct.shape == (256, 256, 3) and ours.dtype == np.uint8
    assert np.abs(ours.astype(np.int16) - direct.astype(np.int16)).mean() < 2


def yuv_frames(shared, count=3):
    import av

    with av.open(str(shared / "media/videos/doctor_960x540.mp4")) as c:
        return [f.to_ndarray(format="yuv420p") for _, f in zip(range(count), c.decode(video=0))]


@pytest.mark.parametrize("box, size", [(None, (256, 256)), ((201, 33, 930, 540), (256, 256)),
                                       ((101, 7, 350, 301), (257, 257)), ((0, 0, 960, 540), (256, 144))])
def test_i420_image_gives_the_model_the_rgb_frames_input(shared, box, size):
    """A frame's planes, cropped anywhere (odd corners too) and resized to a model's input, even or
    odd: within about a level of converting the frame to RGB first and resizing that."""
    from livebg.frames.yuv import I420Image, downscale

    yuv = yuv_frames(shared, 1)[0]
    rgb = cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420)
    image = I420Image(yuv)
    assert image.shape == rgb.shape
    if box is not None:
        x0, y0, x1, y1 = box
        image, rgb = image[y0:y1, x0:x1], rgb[y0:y1, x0:x1]
        assert image.shape == rgb.shape and image.box == box
    ours, theirs = downscale(image, size), downscale(rgb, size)
    assert ours.shape == theirs.shape == (size[1], size[0], 3) and ours.dtype == np.uint8
    diff = np.abs(ours.astype(np.int16) - theirs.astype(np.int16))
    assert diff.mean() < 2.0 and np.percentile(diff, 99) < 24, (diff.mean(), np.percentile(diff, 99))


def test_segmenters_read_planes_as_they_read_rgb(shared):
    """The default stream predictor (crop pass, follower) on doctor frames given as planes
    finds the same person as on the RGB frames."""
    from livebg.frames.yuv import I420Image

    segmenter, _ = load_segmenter(ModelConfig())
    assert segmenter.reads_planes
    by_rgb, by_planes = segmenter.stream(), segmenter.stream()
    for yuv in yuv_frames(shared, 3):
        a = by_rgb.predict([cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420)])[0]
        b = by_planes.predict([I420Image(yuv)])[0]
        assert a.shape == b.shape
        assert np.abs(a - b).mean() < 0.01 and iou(a > 0.5, b > 0.5) > 0.96  # 60 frames: >= 0.974


def test_inference_threads_stop_at_the_machines_cores(capsys, monkeypatch):
    """--threads 1000 ran the selfie model at 0.4 fps on 2 cores, with no word said."""
    from livebg.segment.onnx_model import inference_threads

    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    capsys.readouterr()
    assert inference_threads(0) == 3  # one core left to the pipeline
    assert inference_threads(2) == 2 and inference_threads(4) == 4
    assert capsys.readouterr().err == ""
    assert inference_threads(1000) == 4
    assert capsys.readouterr().err == "livebg: --threads 1000 is more than the 4 cores here: using 4\n"
