"""The two chains of stages a video job runs, chosen once per job (``jobs.video.run_video``).

- The YUV chain: the decoder's yuv420p planes go to an encoder that takes them as they are.
  The model reads the planes (``frames.yuv.I420Image``), the matte stays as low-resolution
  ``LumaCoefficients`` and ``I420Compositor`` upsamples, blends and writes the encoder's planes
  in one compiled pass. No full-size RGB frame is made unless a background needs one.
- The RGB chain: everything else (image sequences, alpha out, transparency, light wrap,
  GPU blending, PNG frames, odd sizes): RGB frames, a full-size alpha, ``Compositor``.

Each stage is a generator function from an iterator of items to an iterator of items
(pipeline.py runs each on its own thread).
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from livebg.composite.blend import Compositor
from livebg.composite.i420 import I420Compositor
from livebg.frames.frame import Frame
from livebg.frames.yuv import I420Image
from livebg.matte.matter import Matter
from livebg.pipeline import Stage
from livebg.segment.base import Segmenter
from livebg.sinks import FrameSink


def segment_stage(segmenter: Segmenter, *, planes: bool) -> Stage:
    """Batch frames, run the model, emit (frame, probability) pairs in order. ``planes``: the
    source gives yuv420p frames and the segmenter reads them as they are (the ONNX ones), on
    either chain, so that both chains give the model the same input."""
    predictor = segmenter.stream()

    def view(frame: Frame):
        return I420Image(frame.i420()) if planes else frame.rgb()

    def segment(frames: Iterator[Frame]):
        batch: list[Frame] = []
        for frame in frames:
            batch.append(frame)
            if len(batch) >= segmenter.batch_size:
                yield from zip(batch, predictor.predict([view(f) for f in batch]))
                batch = []
        if batch:
            yield from zip(batch, predictor.predict([view(f) for f in batch]))

    return segment


def written(items: Iterator[tuple], keep: range | None) -> Iterator[tuple]:
    """The matte stage's output without the frames that only warmed its state (a chunk's
    pre-roll, and the frames its look-ahead read past the end): ``keep`` holds the indices
    written (None: all)."""
    if keep is None:
        yield from items
        return
    for item in items:
        if item[0].index in keep:
            yield item


def yuv_chain(segmenter: Segmenter, matter: Matter, compositor: I420Compositor, sink: FrameSink,
              done: Callable[[], None], *, keep: range | None = None) -> list[Stage]:
    """Stages from decoded frames to the encoder, all in YUV 4:2:0; ``done`` is called per frame
    written; ``keep``: the indices of the frames written (see ``written``)."""

    def matte(items):
        yield from written(matter.stream(((frame, prob, frame.i420()[:frame.height]) for frame, prob in items),
                                         luma=True), keep)

    def composite(items):
        for frame, coefficients in items:
            # frame.image: the RGB frame when one was made already (backgrounds made from it reuse it)
            yield frame, compositor(frame.image, frame.i420(), coefficients, frame.time)

    def encode(items):
        for frame, planes in items:
            sink.write_i420(planes, frame.pts)
            done()
        return
        yield

    return [segment_stage(segmenter, planes=segmenter.reads_planes), matte, composite, encode]


def rgb_chain(segmenter: Segmenter, matter: Matter, compositor: Compositor, sink: FrameSink,
              alpha_sink: FrameSink | None, done: Callable[[], None], *, planes: bool,
              keep: range | None = None) -> list[Stage]:
    """Stages from decoded frames to the encoder (and the matte's own file), in RGB; ``planes``:
    the source's frames come as yuv420p (see segment_stage); ``keep`` as for ``yuv_chain``."""

    def matte(items):
        yield from written(matter.stream((frame, prob, frame.rgb()) for frame, prob in items), keep)

    def composite(items):
        for frame, alpha in items:
            yield frame, alpha, compositor(frame.rgb(), alpha, frame.time)

    def encode(items):
        for frame, alpha, image in items:
            sink.write(image, frame.pts)
            if alpha_sink is not None:
                alpha_sink.write(np.clip(alpha * 255 + 0.5, 0, 255).astype(np.uint8), frame.pts)
            done()
        return
        yield

    return [segment_stage(segmenter, planes=planes and segmenter.reads_planes), matte, composite, encode]
