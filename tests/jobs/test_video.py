"""livebg/jobs/video.py: the choice between the YUV 4:2:0 fast path and the RGB path in
``run_video``, and the fast path's output against the RGB path's."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import livebg.jobs.video as video_job
from livebg.composite.blur import BlurBackground
from livebg.config import Config
from livebg.frames.frame import Frame
from livebg.jobs import run_video
from livebg.sinks.video import VideoFileSink
from livebg.sources.video import VideoFileSource
from tests.support import (
    ConstantSegmenter,
    decode_index,
    read_video,
    write_clip,
)
from tests.support.fastpath import (
    decoded,
    levels,
)


class Spy:
    """Counts the sink's calls of write / write_i420."""

    def __init__(self, monkeypatch):
        self.calls = {"write": 0, "write_i420": 0}
        for name in self.calls:
            original = getattr(VideoFileSink, name)

            def wrapper(sink, *args, _name=name, _original=original):
                self.calls[_name] += 1
                return _original(sink, *args)

            monkeypatch.setattr(VideoFileSink, name, wrapper)


# measured: porch Y mean 0.0058, chroma 0.048; blur (the default) Y 0.18, chroma 0.14
@pytest.mark.parametrize("bg, y_mean, chroma_mean", [("porch", 0.015, 0.1), ("blur", 0.3, 0.3)])
def test_run_video_fast_path_matches_the_rgb_path(doctor_480, porch_photo, default_model, tmp_path, monkeypatch, bg, y_mean, chroma_mean):
    spec = str(porch_photo) if bg == "porch" else bg
    config = Config().override("background", bg=spec).override("output", crf=0)  # lossless: compare the paths, not x264
    spy = Spy(monkeypatch)
    made_rgb, rgb_backgrounds = [], []
    original_rgb = Frame.rgb
    monkeypatch.setattr(Frame, "rgb", lambda frame: made_rgb.append(frame.index) or original_rgb(frame))
    original_blur = BlurBackground.frame_at
    monkeypatch.setattr(BlurBackground, "frame_at",
                        lambda bg, t, frame: rgb_backgrounds.append(t) or original_blur(bg, t, frame))
    fast = run_video(str(doctor_480), tmp_path / "fast.mp4", config, segmenter=default_model, progress=False)
    assert spy.calls == {"write": 0, "write_i420": 20}
    assert made_rgb == []  # the fast path never makes the full-size RGB frame
    assert rgb_backgrounds == []  # nor blurs one: the planes are blurred
    monkeypatch.setattr(VideoFileSink, "takes_i420", property(lambda sink: False))
    slow = run_video(str(doctor_480), tmp_path / "slow.mp4", config, segmenter=default_model, progress=False)
    assert spy.calls == {"write": 20, "write_i420": 20}
    assert sorted(set(made_rgb)) == list(range(20))
    assert len(rgb_backgrounds) == (20 if bg == "blur" else 0)
    assert fast.frames == slow.frames == 20
    fast_frames, fast_pts, fast_info = decoded(fast.output)
    slow_frames, slow_pts, slow_info = decoded(slow.output)
    input_frames, input_pts, input_info = decoded(doctor_480)
    assert len(fast_frames) == len(slow_frames) == 20
    assert fast_pts == slow_pts
    assert [p * fast_info["time_base"] for p in fast_pts] == [p * input_info["time_base"] for p in input_pts]
    for key in ("width", "height", "rate", "pix_fmt"):
        assert fast_info[key] == slow_info[key] == input_info[key], key
    y_means, c_means = [], []
    for f, s in zip(fast_frames, slow_frames):
        d = levels(f, s)
        y_means.append(d[:270].mean())
        c_means.append(d[270:].mean())
    print(f"\nrun_video fast vs RGB path, {bg}: Y mean {max(y_means):.4f}, chroma mean {max(c_means):.4f}")
    assert max(y_means) < y_mean and max(c_means) < chroma_mean
    # the background was replaced: the output differs from the input (and the RGB path's test
    # against the background is in test_i420_compositor_matches_the_rgb_path_on_real_frames)
    assert levels(fast_frames[0][:270], input_frames[0][:270]).mean() > 10


def test_alpha_out_takes_the_rgb_path(doctor_480, default_model, tmp_path, monkeypatch):
    spy = Spy(monkeypatch)
    config = Config().override("background", bg="white").override("output", alpha_out=str(tmp_path / "alpha.mp4"))
    result = run_video(str(doctor_480), tmp_path / "out.mp4", config, segmenter=default_model, progress=False)
    assert result.alpha_output is not None and result.frames == 20
    assert spy.calls == {"write": 40, "write_i420": 0}  # 20 composites and 20 mattes


class DropPlanesOfOddFrames:
    """A VideoFileSource whose odd frames come without their YUV planes."""

    def __init__(self, source):
        self.source = source

    def __getattr__(self, name):
        return getattr(self.source, name)

    def __iter__(self):
        for frame in self.source:
            if frame.index % 2:
                frame.rgb()  # an RGB frame, as a source without planes gives it
                frame.yuv = None
            yield frame


def test_frames_without_planes_join_the_yuv_chain(doctor_480, tmp_path, monkeypatch):
    """The chain is chosen once per job: a source that gives planes for most frames but some as
    RGB has those converted to planes (Frame.i420) and blended by the kernel like the others;
    all arrive, in order. With alpha 1 everywhere the kernel copies the planes as they are, so
    the converted frames come back to within the round trip RGB -> I420."""
    monkeypatch.setattr(video_job, "open_source", lambda spec, **kwargs: DropPlanesOfOddFrames(VideoFileSource(spec)))
    spy = Spy(monkeypatch)
    config = Config().override("background", bg="black").override("output", crf=0)
    result = run_video(str(doctor_480), tmp_path / "out.mp4", config, segmenter=ConstantSegmenter(1.0), progress=False)
    assert result.frames == 20
    assert spy.calls == {"write": 0, "write_i420": 20}
    inputs, input_pts, _ = decoded(doctor_480)
    outputs, output_pts, _ = decoded(result.output)
    assert output_pts == input_pts
    means = []
    for k, got in enumerate(outputs):
        diffs = [levels(got, sent).mean() for sent in inputs]
        assert int(np.argmin(diffs)) == k  # in order: each output is nearest to its own input
        if k % 2 == 0:
            assert np.array_equal(got, inputs[k]), k
        else:
            means.append(diffs[k])
    print(f"\nconverted frames vs input: mean |diff| {max(means):.4f}")
    assert max(means) < 0.05  # measured 0.020 through the RGB path before


def test_odd_size_video_takes_the_rgb_path(tmp_path, monkeypatch):
    """161x121 yuv420p (FFV1 allows odd sizes): no planes from the source, the sink pads, and
    every frame goes through the RGB path."""
    path = write_clip(tmp_path / "odd.mkv", picture="index", frames=6, rate=Fraction(25), size=(161, 121),
                            codec="ffv1", pix_fmt="yuv420p")
    _, info = read_video(path)
    assert info["pix_fmt"] == "yuv420p"  # so it is the size, not the format, that rules the planes out
    with VideoFileSource(path) as source:
        frames = list(source)
    assert len(frames) == 6
    assert all(f.yuv is None and f.image.shape == (121, 161, 3) for f in frames)
    spy = Spy(monkeypatch)
    config = Config().override("background", bg="black").override("output", crf=0)
    result = run_video(str(path), tmp_path / "out.mp4", config, segmenter=ConstantSegmenter(1.0), progress=False)
    assert result.frames == 6 and spy.calls == {"write": 6, "write_i420": 0}
    images, info = read_video(result.output)
    assert (info["width"], info["height"]) == (162, 122)  # padded for yuv420p
    assert [decode_index(image[60, 80]) for image in images] == list(range(6))
    for image, frame in zip(images, frames):
        assert levels(image[:121, :161], frame.image).mean() < 2
