"""The two chains of stages a video job runs, chosen once per job (``jobs.video.run_video``).

- The YUV chain: the decoder's yuv420p planes go to an encoder that takes them as they are.
  The model reads the planes (``frames.yuv.I420Image``), the matte stays as low-resolution
  ``LumaCoefficients`` and ``I420Compositor`` upsamples, blends and writes the encoder's planes
  in one compiled pass. No full-size RGB frame is made unless a background needs one.
- The RGB chain: everything else (image sequences, alpha out, transparency, light wrap,
  GPU blending, PNG frames, odd sizes): RGB frames, a full-size alpha, ``Compositor``.

With a matting model that estimates the foreground's own colour (RVM's ``fgr``), the segment
stage reads it right after each model call and it travels with the frame to the composite
stage (a ``ForegroundEstimate``), which blends it at the edge instead of the frame's mix of
foreground and old background; both chains do (``edge_colour``).

Each stage is a generator function from an iterator of items to an iterator of items
(pipeline.py runs each on its own thread).
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from livebg.composite.blend import Compositor
from livebg.composite.i420 import I420Compositor
from livebg.frames.frame import ForegroundEstimate, Frame
from livebg.frames.yuv import I420Image
from livebg.matte.foreground import model_foreground, model_foreground_i420
from livebg.matte.matter import Matter
from livebg.pipeline import Stage
from livebg.segment.base import Segmenter
from livebg.sinks import FrameSink


def segment_stage(segmenter: Segmenter, *, planes: bool, edge_colour: bool = True) -> Stage:
    """Batch frames, run the model, emit (frame, probability, ForegroundEstimate or None)
    in order. ``planes``: the source gives yuv420p frames and the segmenter reads them as they
    are (the ONNX ones), on either chain, so that both chains give the model the same input.
    ``edge_colour``: keep the model's estimate of the foreground's colour when it gives one
    (``Segmenter.last_foreground``, read here, on the thread that ran the model)."""
    predictor = segmenter.stream()

    def view(frame: Frame):
        return I420Image(frame.i420()) if planes else frame.rgb()

    def run(batch: list[Frame]):
        probs = predictor.predict([view(f) for f in batch])
        # the estimate is the last frame's: kept for calls on one frame (RVM's; batched models give none)
        colour = predictor.last_foreground if edge_colour and len(batch) == 1 else None
        estimates = [None] * len(batch) if colour is None else [ForegroundEstimate(colour, probs[0])]
        return zip(batch, probs, estimates)

    def segment(frames: Iterator[Frame]):
        batch: list[Frame] = []
        for frame in frames:
            batch.append(frame)
            if len(batch) >= segmenter.batch_size:
                yield from run(batch)
                batch = []
        if batch:
            yield from run(batch)

    return segment


def mattes(matter: Matter, items: Iterator[tuple], image: Callable[[Frame], np.ndarray], *,
           luma: bool = False) -> Iterator[tuple]:
    """The segment stage's (frame, probability, estimate) -> (frame, matte, estimate) through
    ``matter.stream`` (``image(frame)``: what the matte is fitted on), the estimate carried
    beside its frame through the look-ahead's delay."""
    for (frame, estimate), matte in matter.stream((((frame, estimate), prob, image(frame))
                                                  for frame, prob, estimate in items), luma=luma):
        yield frame, matte, estimate


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
              done: Callable[[], None], *, keep: range | None = None, edge_colour: bool = True) -> list[Stage]:
    """Stages from decoded frames to the encoder, all in YUV 4:2:0; ``done`` is called per frame
    written; ``keep``: the indices of the frames written (see ``written``); ``edge_colour``:
    blend a matting model's own foreground colour at the edge (see segment_stage)."""

    def matte(items):
        yield from written(mattes(matter, items, lambda frame: frame.i420()[:frame.height], luma=True), keep)

    def composite(items):
        for frame, coefficients, estimate in items:
            yuv = frame.i420()
            colour = model_foreground_i420(yuv, estimate) if estimate is not None else None
            # frame.image: the RGB frame when one was made already (backgrounds made from it reuse it)
            yield frame, compositor(frame.image, yuv, coefficients, frame.time, colour)

    def encode(items):
        for frame, planes in items:
            sink.write_i420(planes, frame.pts)
            done()
        return
        yield

    return [segment_stage(segmenter, planes=segmenter.reads_planes, edge_colour=edge_colour), matte, composite, encode]


def rgb_chain(segmenter: Segmenter, matter: Matter, compositor: Compositor, sink: FrameSink,
              alpha_sink: FrameSink | None, done: Callable[[], None], *, planes: bool,
              keep: range | None = None, edge_colour: bool = True) -> list[Stage]:
    """Stages from decoded frames to the encoder (and the matte's own file), in RGB; ``planes``:
    the source's frames come as yuv420p (see segment_stage); ``keep`` and ``edge_colour`` as
    for ``yuv_chain``."""

    def matte(items):
        yield from written(mattes(matter, items, Frame.rgb), keep)

    def composite(items):
        for frame, alpha, estimate in items:
            image = frame.rgb()
            colour = model_foreground(image, estimate) if estimate is not None else None
            yield frame, alpha, compositor(image, alpha, frame.time, colour)

    def encode(items):
        for frame, alpha, image in items:
            sink.write(image, frame.pts)
            if alpha_sink is not None:
                alpha_sink.write(np.clip(alpha * 255 + 0.5, 0, 255).astype(np.uint8), frame.pts)
            done()
        return
        yield

    return [segment_stage(segmenter, planes=planes and segmenter.reads_planes, edge_colour=edge_colour),
            matte, composite, encode]
