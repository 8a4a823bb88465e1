"""PersonCropSegmenter: the second model pass on a crop around the person, on real lucia frames."""
from __future__ import annotations

import numpy as np
import pytest

from livebg.config import Config, ModelConfig
from livebg.evaluation import boundary_f, iou, load_labeled
from livebg.matte import Matter
from livebg.segmentation import OnnxSegmenter, PersonCropSegmenter, load_segmenter


class CountingSegmenter:
    """Wraps a segmenter and records the size of every batch it is given."""

    def __init__(self, inner):
        self.inner = inner
        self.calls: list[int] = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def predict(self, frames):
        self.calls.append(len(frames))
        return self.inner.predict(frames)


@pytest.fixture(scope="module")
def plain():
    segmenter, _ = load_segmenter(ModelConfig(device="cpu", crop_pass=False))
    assert isinstance(segmenter, OnnxSegmenter)
    return segmenter


@pytest.fixture(scope="module")
def lucia(shared):
    pairs = load_labeled(shared / "media/labeled/davis_lucia")
    return pairs[::7][:10]  # 10 frames spread over the walk


def scores(segmenter, pairs):
    matter = Matter(Config())
    alphas = [matter(segmenter.predict([image])[0], image) for image, _ in pairs]
    return (np.mean([iou(a, t) for a, (_, t) in zip(alphas, pairs)]),
            np.mean([boundary_f(a, t) for a, (_, t) in zip(alphas, pairs)]))


def test_load_segmenter_wraps_when_asked(plain):
    wrapped, _ = load_segmenter(ModelConfig(device="cpu", crop_pass=True))
    assert isinstance(wrapped, PersonCropSegmenter)
    assert "crop pass" in wrapped.describe()
    assert (wrapped.name, wrapped.device, wrapped.precision, wrapped.batch_size) == \
        (plain.name, plain.device, plain.precision, plain.batch_size)


def test_crop_pass_scores_higher_on_lucia(plain, lucia):
    iou_plain, bf_plain = scores(plain, lucia)
    iou_crop, bf_crop = scores(PersonCropSegmenter(plain), lucia)
    assert iou_crop > iou_plain + 0.01
    assert bf_crop > bf_plain + 0.02


def test_output_shape_dtype_range_and_batches(plain, lucia):
    counting = CountingSegmenter(plain)
    crop = PersonCropSegmenter(counting)
    frames = [image for image, _ in lucia[:3]]
    probs = crop.predict(frames)
    h, w = frames[0].shape[:2]
    assert len(probs) == 3
    for p in probs:
        assert p.dtype == np.float32 and p.ndim == 2
        assert min(p.shape) == 360 and abs(p.shape[1] / p.shape[0] - w / h) < 0.01
        assert 0.0 <= p.min() and p.max() <= 1.0
    assert counting.calls == [3, 3]  # one full-frame batch, one batch of crops
    # a batch gives what single frames give
    singles = [crop.predict([f])[0] for f in frames]
    for a, b in zip(probs, singles):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_crop_blends_without_a_step_at_its_border(plain, lucia):
    image = lucia[0][0]
    crop = PersonCropSegmenter(plain)
    full = plain.predict([image])[0]
    box = crop.crop_box(full, image.shape[:2])
    assert box is not None
    out = crop.predict([image])[0]
    h, w = image.shape[:2]
    sx, sy = out.shape[1] / w, out.shape[0] / h
    x0, x1 = round(box[0] * sx), round(box[2] * sx)
    # across a crop edge inside the frame the map changes no faster than inside the full pass
    steps = np.abs(np.diff(out, axis=1))
    for x in (x0, x1 - 1):
        if 1 <= x < out.shape[1] - 1:
            assert steps[:, x - 1:x + 1].max() < 0.5


def test_no_person_skips_the_second_pass(plain):
    counting = CountingSegmenter(plain)
    crop = PersonCropSegmenter(counting)
    empty = np.full((480, 854, 3), (90, 140, 200), np.uint8)
    probs = crop.predict([empty, empty])
    assert counting.calls == [2]
    assert probs[0].shape == (360, 640) and probs[0].max() < 0.5


def test_setting_reaches_config_and_cli():
    from livebg.cli import build_parser
    from livebg.config import apply_settings

    assert Config().model.crop_pass is True
    assert apply_settings(Config(), crop_pass=False).model.crop_pass is False
    args = build_parser().parse_args(["video", "in.mp4", "--no-crop-pass"])
    assert args.crop_pass is False
    assert build_parser().parse_args(["video", "in.mp4"]).crop_pass is None
