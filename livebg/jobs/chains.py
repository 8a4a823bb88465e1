"""The two chains of stages a video job runs, chosen once per job (``jobs.video.run_video``).

- The YUV chain: the decoder's yuv420p planes go to an encoder that takes them as they are.
  The model reads the planes (``frames.yuv.I420Image``), the matte stays as low-resolution
  ``LumaCoefficients`` and ``I420Compositor`` upsamples, blends and writes the encoder's planes
  in one compiled pass. No full-size RGB frame is made unless a background needs one.
- The RGB chain: everything else (image sequences, alpha out, transparency, light wrap,
  GPU blending, PNG frames, odd sizes): RGB frames, a full-size alpha, ``Compositor``.

What passes between the stages is typed: ``Segmented`` (segment -> matte: the model's map, its
foreground estimate, whether a shot starts here), ``Matted`` (matte -> composite) and
``Composited`` (composite -> encode). Scene cuts are detected once, in the segment stage, with
``[smoothing] cut_threshold``, and the verdict goes to the model (a recurrent one drops its
state) and, with the frame, to the matte (the smoother and the look-ahead do not reach across).

With a matting model that estimates the foreground's own colour (RVM's ``fgr``, in its
``Prediction``), the estimate travels with the frame to the composite stage (a
``ForegroundEstimate``), which blends it at the edge instead of the frame's mix of foreground
and old background; both chains do (``edge_colour``).

Each stage is a generator function from an iterator of items to an iterator of items
(pipeline.py runs each on its own thread).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generic, Iterator, TypeVar

import numpy as np

from livebg.composite.blend import Compositor
from livebg.composite.i420 import I420Compositor
from livebg.frames.cuts import CUT_THRESHOLD, CutDetector, frame_thumbnail
from livebg.frames.frame import ForegroundEstimate, Frame, LumaCoefficients
from livebg.frames.yuv import I420Image
from livebg.matte.foreground import model_foreground, model_foreground_i420
from livebg.matte.matter import Matter
from livebg.pipeline import Stage
from livebg.segment.base import Segmenter
from livebg.sinks import FrameSink

MatteT = TypeVar("MatteT", np.ndarray, LumaCoefficients)


@dataclass(frozen=True)
class Segmented:
    """The segment stage's output for one frame."""
    frame: Frame
    prob: np.ndarray  # the model's map (``Prediction.alpha``) at its size
    estimate: ForegroundEstimate | None  # the model's foreground colour, when it gives one and it is kept
    cut: bool  # a new shot starts at this frame


@dataclass(frozen=True)
class Matted(Generic[MatteT]):
    """The matte stage's output: the full-size alpha (RGB chain) or its LumaCoefficients (YUV)."""
    frame: Frame
    matte: MatteT
    estimate: ForegroundEstimate | None


@dataclass(frozen=True)
class Composited:
    """The composite stage's output: the picture to encode (RGB, or the encoder's yuv420p
    planes) and, on the RGB chain, the alpha for the matte's own file."""
    frame: Frame
    picture: np.ndarray
    alpha: np.ndarray | None = None


def segment_stage(segmenter: Segmenter, *, planes: bool, edge_colour: bool = True,
                  cut_threshold: float = CUT_THRESHOLD) -> Stage:
    """Batch frames, detect scene cuts (once per frame, on the frame's own thumbnail), run the
    model, emit a ``Segmented`` per frame in order. ``planes``: the source gives yuv420p frames
    and the segmenter reads them as they are (the ONNX ones), on either chain, so that both
    chains give the model the same input. ``edge_colour``: keep the model's estimate of the
    foreground's colour when it gives one (``Prediction.foreground``)."""
    predictor = segmenter.stream()
    cuts = CutDetector(cut_threshold)

    def view(frame: Frame):
        return I420Image(frame.i420()) if planes else frame.rgb()

    def run(batch: list[Frame], batch_cuts: list[bool]) -> Iterator[Segmented]:
        predictions = predictor.predict([view(f) for f in batch], cuts=batch_cuts)
        for frame, prediction, cut in zip(batch, predictions, batch_cuts, strict=True):
            colour = prediction.foreground if edge_colour else None
            estimate = ForegroundEstimate(colour, prediction.alpha) if colour is not None else None
            yield Segmented(frame, prediction.alpha, estimate, cut)

    def segment(frames: Iterator[Frame]) -> Iterator[Segmented]:
        batch: list[Frame] = []
        batch_cuts: list[bool] = []
        for frame in frames:
            batch.append(frame)
            batch_cuts.append(cuts(thumb=frame_thumbnail(frame)))
            if len(batch) >= segmenter.batch_size:
                yield from run(batch, batch_cuts)
                batch, batch_cuts = [], []
        if batch:
            yield from run(batch, batch_cuts)

    return segment


def mattes(matter: Matter, items: Iterator[Segmented], image: Callable[[Frame], np.ndarray], *,
           luma: bool = False) -> Iterator[Matted]:
    """The segment stage's items -> ``Matted`` through ``matter.stream`` (``image(frame)``: what
    the matte is fitted on), the item carried as the tag through the look-ahead's delay."""
    for item, matte in matter.stream(((item, item.prob, image(item.frame), item.cut) for item in items), luma=luma):
        yield Matted(item.frame, matte, item.estimate)


ItemT = TypeVar("ItemT", Matted, Segmented)


def written(items: Iterator[ItemT], keep: range | None) -> Iterator[ItemT]:
    """The matte stage's output without the frames that only warmed its state (a chunk's
    pre-roll, and the frames its look-ahead read past the end): ``keep`` holds the indices
    written (None: all)."""
    if keep is None:
        yield from items
        return
    for item in items:
        if item.frame.index in keep:
            yield item


def yuv_chain(segmenter: Segmenter, matter: Matter, compositor: I420Compositor, sink: FrameSink,
              done: Callable[[], None], *, keep: range | None = None, edge_colour: bool = True) -> list[Stage]:
    """Stages from decoded frames to the encoder, all in YUV 4:2:0; ``done`` is called per frame
    written; ``keep``: the indices of the frames written (see ``written``); ``edge_colour``:
    blend a matting model's own foreground colour at the edge (see segment_stage)."""

    def matte(items: Iterator[Segmented]) -> Iterator[Matted]:
        yield from written(mattes(matter, items, lambda frame: frame.i420()[:frame.height], luma=True), keep)

    def composite(items: Iterator[Matted]) -> Iterator[Composited]:
        for item in items:
            frame, yuv = item.frame, item.frame.i420()
            colour = model_foreground_i420(yuv, item.estimate) if item.estimate is not None else None
            # frame.image: the RGB frame when one was made already (backgrounds made from it reuse it)
            yield Composited(frame, compositor(frame.image, yuv, item.matte, frame.time, colour))

    def encode(items: Iterator[Composited]) -> Iterator[None]:
        for item in items:
            sink.write_i420(item.picture, item.frame.pts)
            done()
        return
        yield

    return [segment_stage(segmenter, planes=segmenter.reads_planes, edge_colour=edge_colour,
                          cut_threshold=matter.config.smoothing.cut_threshold), matte, composite, encode]


def rgb_chain(segmenter: Segmenter, matter: Matter, compositor: Compositor, sink: FrameSink,
              alpha_sink: FrameSink | None, done: Callable[[], None], *, planes: bool,
              keep: range | None = None, edge_colour: bool = True) -> list[Stage]:
    """Stages from decoded frames to the encoder (and the matte's own file), in RGB; ``planes``:
    the source's frames come as yuv420p (see segment_stage); ``keep`` and ``edge_colour`` as
    for ``yuv_chain``."""

    def matte(items: Iterator[Segmented]) -> Iterator[Matted]:
        yield from written(mattes(matter, items, Frame.rgb), keep)

    def composite(items: Iterator[Matted]) -> Iterator[Composited]:
        for item in items:
            image = item.frame.rgb()
            colour = model_foreground(image, item.estimate, item.matte) if item.estimate is not None else None
            yield Composited(item.frame, compositor(image, item.matte, item.frame.time, colour), item.matte)

    def encode(items: Iterator[Composited]) -> Iterator[None]:
        for item in items:
            sink.write(item.picture, item.frame.pts)
            if alpha_sink is not None and item.alpha is not None:
                alpha_sink.write(np.clip(item.alpha * 255 + 0.5, 0, 255).astype(np.uint8), item.frame.pts)
            done()
        return
        yield

    return [segment_stage(segmenter, planes=planes and segmenter.reads_planes, edge_colour=edge_colour,
                          cut_threshold=matter.config.smoothing.cut_threshold), matte, composite, encode]
