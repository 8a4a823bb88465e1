"""The person crop pass: a second model pass on a box round the person, and its video
follower that skips the whole-frame pass on most frames.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from livebg.frames.yuv import downscale
from livebg.segment.base import (
    Prediction,
    Predictor,
    Segmenter,
    alphas,
    short_side_size,
)


class PersonCropSegmenter(Segmenter):
    """A second model pass on a crop around the person, pasted into the full-frame probability.

    A model with a small fixed input (256x256 for the selfie model) sees a person who fills a
    fifth of the frame with only a few dozen pixels and misses feet and hands. This wrapper runs
    the wrapped segmenter on the whole frame, takes the box of its ``prob > threshold`` pixels,
    pads it by ``margin`` (so limbs the full pass lost are inside), widens it (or heightens it)
    until its aspect is within ``max_stretch`` of the model's, and runs the model again on that
    crop, resized to the model's input. A standing person is about twice as tall as wide: a
    square crop would spend half the model's columns on the backdrop, a crop stretched up to 2x
    gives them to the person's outline.
    The output is a map at ``working_short_side`` px with the frame's aspect: the crop pass
    inside the box, the full pass outside, feathered across ``feather`` of the box at its edges.
    Frames with no person, or where the box covers most of the frame, skip the second pass.
    ``predict`` is stateless: each frame's box comes from that frame alone. For video, ``stream()``
    gives a CropFollower that skips the whole-frame pass on most frames.
    """

    def __init__(self, inner: Segmenter, *, working_short_side: int = 360, margin: float = 0.10,
                 threshold: float = 0.5, max_cover: float = 0.8, feather: float = 0.08,
                 full_pass_every: int = 1, max_stretch: float = 2.0):
        if max_stretch < 1:
            raise ValueError(f"max_stretch must be at least 1 (1 = the model's own aspect), got {max_stretch}")
        self.inner = inner
        self.max_stretch = max_stretch
        self.full_pass_every = full_pass_every
        self.working_short_side = working_short_side
        self.margin = margin
        self.threshold = threshold
        self.max_cover = max_cover
        self.feather = feather

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.inner.name

    @property
    def device(self) -> str:  # type: ignore[override]
        return self.inner.device

    @property
    def precision(self) -> str:  # type: ignore[override]
        return self.inner.precision

    @property
    def batch_size(self) -> int:  # type: ignore[override]
        return self.inner.batch_size

    @property
    def reads_planes(self) -> bool:  # type: ignore[override]
        return self.inner.reads_planes

    @property
    def infer_size(self) -> int:  # type: ignore[override]
        return self.inner.infer_size

    @property
    def stream_note(self) -> str:
        """How the crop pass follows the person on video ("" when it does not; photos never do,
        so their startup line leaves it out)."""
        every = self.full_pass_every
        return f"; on video the crop follows the person, whole frame every {every} frames" if every > 1 else ""

    def close(self) -> None:
        self.inner.close()

    def describe(self) -> str:
        return f"{self.inner.describe()}, + person crop pass (working map {self.working_short_side} px short side)"

    def _crop_input_size(self) -> tuple[int, int]:
        """(w, h) the crops are resized to, so that a batch of them shares one size."""
        size = self.inner.input_size
        if size is not None:
            return size
        side = self.inner.infer_size or 256
        return side, side

    def person_extent(self, prob: np.ndarray, region: tuple[int, int, int, int]) -> tuple[float, float, float, float] | None:
        """Bounding box in frame pixels of the ``prob > threshold`` pixels of a map that covers
        ``region`` (x0, y0, x1, y1) of the frame; None when there are none."""
        mask = prob > self.threshold
        ys = np.flatnonzero(mask.any(axis=1))  # rows and columns with a person pixel: far
        if ys.size == 0:                       # cheaper than the coordinates of every one
            return None
        xs = np.flatnonzero(mask.any(axis=0))
        x0, y0, x1, y1 = region
        fx, fy = (x1 - x0) / prob.shape[1], (y1 - y0) / prob.shape[0]
        return x0 + xs[0] * fx, y0 + ys[0] * fy, x0 + (xs[-1] + 1) * fx, y0 + (ys[-1] + 1) * fy

    def box_around(self, extent: tuple[float, float, float, float],
                   frame_shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
        """The crop for a person whose bounding box in frame pixels is ``extent``: padded by the
        margin, brought within ``max_stretch`` of the model's aspect and kept inside the frame;
        None to skip."""
        h, w = frame_shape
        bx0, by0, bx1, by1 = extent
        pad = self.margin * max(bx1 - bx0, by1 - by0)
        bx0, by0, bx1, by1 = bx0 - pad, by0 - pad, bx1 + pad, by1 + pad
        cw, ch = self._crop_input_size()
        aspect = cw / ch
        bw, bh = bx1 - bx0, by1 - by0
        if bw / bh < aspect / self.max_stretch:  # too narrow for the model: widen
            bw = bh * aspect / self.max_stretch
        elif bw / bh > aspect * self.max_stretch:  # too wide: heighten
            bh = bw / (aspect * self.max_stretch)
        bw, bh = min(bw, w), min(bh, h)  # larger than the frame: clamp (the model sees it more squashed)
        cx = min(max((bx0 + bx1) / 2, bw / 2), w - bw / 2)
        cy = min(max((by0 + by1) / 2, bh / 2), h - bh / 2)
        x0, y0 = int(round(cx - bw / 2)), int(round(cy - bh / 2))
        x1, y1 = min(w, x0 + int(round(bw))), min(h, y0 + int(round(bh)))
        # a box within a pixel of the frame's border ends on it (a side on the border is not
        # checked or feathered as an inner edge)
        x0, y0 = (0 if x0 <= 1 else x0), (0 if y0 <= 1 else y0)
        x1, y1 = (w if x1 >= w - 1 else x1), (h if y1 >= h - 1 else y1)
        if (x1 - x0) * (y1 - y0) > self.max_cover * w * h or x1 - x0 < 8 or y1 - y0 < 8:
            return None
        return x0, y0, x1, y1

    def _feather_weights(self, size: tuple[int, int], box: tuple[int, int, int, int],
                         frame_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Weight of the crop pass over the box in working pixels, as the column and row factors
        (wx, wy) of the separable weight wy * wx: 1 inside, ramping to 0 at box edges that lie
        inside the frame (edges on the frame border have nothing to blend with)."""
        bw, bh = size
        x0, y0, x1, y1 = box
        h, w = frame_shape
        ramp = max(1.0, self.feather * max(bw, bh))

        def axis(n: int, at_start: bool, at_end: bool) -> np.ndarray:
            i = np.arange(n, dtype=np.float32) + 0.5
            r = np.ones(n, np.float32)
            if not at_start:
                r = np.minimum(r, i / ramp)
            if not at_end:
                r = np.minimum(r, (n - i) / ramp)
            return r

        return axis(bw, x0 <= 0, x1 >= w), axis(bh, y0 <= 0, y1 >= h)

    def working_size(self, frame_shape: tuple[int, int]) -> tuple[int, int]:
        """(w, h) of the output map for frames of this (h, w)."""
        h, w = frame_shape
        # Never coarser than the wrapped model's own output (torchvision models at 520 px).
        short = max(self.working_short_side, self.inner.infer_size)
        wh, ww = short_side_size(h, w, min(short, h, w))
        return ww, wh

    def crop_input(self, frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        x0, y0, x1, y1 = box
        return downscale(frame[y0:y1, x0:x1], self._crop_input_size())

    def paste_crop(self, out: np.ndarray, crop_prob: np.ndarray, box: tuple[int, int, int, int],
                   frame_shape: tuple[int, int], *, feather: bool = True) -> None:
        """Put one crop's probability into the working map ``out``: blended across the feathered
        bands at the box's inner edges, or (``feather=False``) copied in as it is."""
        h, w = frame_shape
        sx, sy = out.shape[1] / w, out.shape[0] / h
        x0, y0, x1, y1 = box
        wx0, wy0 = int(round(x0 * sx)), int(round(y0 * sy))
        wx1, wy1 = max(wx0 + 1, int(round(x1 * sx))), max(wy0 + 1, int(round(y1 * sy)))
        size = (wx1 - wx0, wy1 - wy0)
        crop_prob = cv2.resize(crop_prob, size, interpolation=cv2.INTER_LINEAR)
        if feather:
            paste(out[wy0:wy1, wx0:wx1], crop_prob, *self._feather_weights(size, box, frame_shape))
        else:
            out[wy0:wy1, wx0:wx1] = crop_prob

    def predict(self, frames: Sequence[np.ndarray], *, cuts: Sequence[bool] | None = None) -> list[Prediction]:
        return [Prediction(out) for out, _ in self.predict_with_extents(frames)]

    def predict_with_extents(self, frames: Sequence[np.ndarray],
                             full: Sequence[np.ndarray] | None = None) -> list[tuple[np.ndarray, tuple | None]]:
        """Each frame's map with the person's bounding box in frame pixels (None: no one): the
        union of what the whole-frame pass and the crop pass found. ``full``: the whole-frame
        pass's maps, when they have been computed already."""
        if not frames:
            return []
        h, w = frames[0].shape[:2]
        size = self.working_size((h, w))
        if full is None:
            full = alphas(self.inner.predict(frames))
        extents = [self.person_extent(prob, (0, 0, w, h)) for prob in full]
        boxes = [self.box_around(e, (h, w)) if e is not None else None for e in extents]
        # The crops of the whole batch go through the model in one call.
        crops = [self.crop_input(frame, box) for frame, box in zip(frames, boxes) if box is not None]
        crop_probs = iter(alphas(self.inner.predict(crops))) if crops else iter(())
        results = []
        for prob, box, extent in zip(full, boxes, extents):
            out = cv2.resize(prob, size, interpolation=cv2.INTER_LINEAR)
            if box is not None:
                crop_prob = next(crop_probs)
                self.paste_crop(out, crop_prob, box, (h, w))
                extent = union(extent, self.person_extent(crop_prob, box))
            results.append((out, extent))
        return results

    def stream(self) -> Predictor:
        """A predictor for consecutive frames of one video: a CropFollower when ``full_pass_every``
        is above 1, else this stateless segmenter."""
        return CropFollower(self, self.full_pass_every) if self.full_pass_every > 1 else self


class CropFollower(Predictor):
    """The crop pass for consecutive frames of one stream, following the person's box.

    Most frames skip the whole-frame pass: the crop box is built round the person the previous
    frame's crop found (the sharper of the two estimates), so a frame costs one model call
    instead of two. The whole-frame pass runs again, on the same frame, whenever following
    could be wrong:

    - every ``full_pass_every`` frames (someone new may have walked in elsewhere);
    - when the crop finds no person (they left the box, or a scene cut);
    - when the person reaches the box's edge on a side inside the frame (they are moving out
      of it, or the box cut them).

    Outside the box a followed frame is background (0). State belongs to one stream: ``reset()``
    it between unrelated frames (the live camera does on effect toggles).
    """

    def __init__(self, crop: PersonCropSegmenter, full_pass_every: int = 8, edge: float = 0.02,
                 hold_area: float = 1.5, hold_shift: float = 0.05):
        self.crop = crop
        self.edge = edge
        self.hold_area = hold_area
        self.hold_shift = hold_shift
        self.full_pass_every = full_pass_every
        self.full_passes = 0
        self.reset()

    def reset(self) -> None:
        self._box: tuple[int, int, int, int] | None = None
        self._shape: tuple[int, int] | None = None
        self._since_full = 0

    # what the startup line and the pipeline ask are the crop segmenter's
    @property
    def name(self) -> str:  # type: ignore[override]
        return self.crop.name

    @property
    def device(self) -> str:  # type: ignore[override]
        return self.crop.device

    @property
    def precision(self) -> str:  # type: ignore[override]
        return self.crop.precision

    @property
    def reads_planes(self) -> bool:  # type: ignore[override]
        return self.crop.reads_planes

    @property
    def infer_size(self) -> int:  # type: ignore[override]
        return self.crop.infer_size

    def predict(self, frames: Sequence[np.ndarray], *, cuts: Sequence[bool] | None = None) -> list[Prediction]:
        """``cuts`` do not matter here: a box that no longer fits a person sends the whole frame
        again on its own."""
        return [Prediction(self._one(frame)) for frame in frames]

    def _one(self, frame: np.ndarray) -> np.ndarray:
        shape = frame.shape[:2]
        h, w = shape
        box = self._box if shape == self._shape else None
        self._shape = shape
        full = result = None
        if box is not None:
            if self._since_full < self.full_pass_every - 1:
                result = self._follow(frame, box)
            else:
                # The periodic look at the whole frame: if no one is outside the box, this frame
                # is followed like the others (a different crop window only on these frames
                # would make the matte jump every full_pass_every frames).
                full = alphas(self.crop.inner.predict([frame]))
                extent = self.crop.person_extent(full[0], (0, 0, w, h))
                if extent is not None and inside(extent, box):
                    result = self._follow(frame, box)
        whole_frame = full is not None or result is None
        if result is None:  # nothing to follow, or following failed: a crop round the whole frame's person
            result = self.crop.predict_with_extents([frame], full)[0]
        if whole_frame:
            self.full_passes += 1
            self._since_full = 0
        else:
            self._since_full += 1
        out, extent = result
        new_box = self.crop.box_around(extent, shape) if extent is not None else None
        self._box = self.held(box, new_box)
        return out

    def held(self, old: tuple | None, new: tuple | None) -> tuple | None:
        """The box for the next frame: the current one while the person's new box still fits
        it well, else the new one. A crop window that stays put gives the model the same view
        of a still person frame after frame (re-centring it on every frame's extent made a
        seated person's matte change 1.5x as much per frame) and stops a box that shrinks onto
        the person from clipping specks at its edge (which forced whole-frame passes)."""
        if old is None or new is None:
            return new
        area = (new[2] - new[0]) * (new[3] - new[1])
        if inside(new, old) and (old[2] - old[0]) * (old[3] - old[1]) <= self.hold_area * area:
            return old
        size = max(new[2] - new[0], new[3] - new[1])
        if max(abs(a - b) for a, b in zip(old, new)) <= self.hold_shift * size:
            return old
        return new

    def _follow(self, frame: np.ndarray, box: tuple[int, int, int, int]):
        """(map, person extent) from the crop pass alone, or None when the box no longer fits the person."""
        h, w = frame.shape[:2]
        crop_prob = self.crop.inner.predict([self.crop.crop_input(frame, box)])[0].alpha
        extent = self.crop.person_extent(crop_prob, box)
        if extent is None:
            return None
        # Nothing of the person may reach the edge of the box (the outer ``edge`` of it) on a side
        # inside the frame: that part may be cut off. Closer than the margin is fine: the next
        # box is built round this frame's person, unless it still fits this one (see held).
        x0, y0, x1, y1 = box
        mx, my = self.edge * (x1 - x0), self.edge * (y1 - y0)
        ex0, ey0, ex1, ey1 = extent
        if ((x0 > 0 and ex0 < x0 + mx) or (x1 < w and ex1 > x1 - mx)
                or (y0 > 0 and ey0 < y0 + my) or (y1 < h and ey1 > y1 - my)):
            return None
        # Nothing outside the box to blend with: the crop is copied in as it is, and the rest is 0.
        ww, wh = self.crop.working_size((h, w))
        out = np.zeros((wh, ww), np.float32)
        self.crop.paste_crop(out, crop_prob, box, (h, w), feather=False)
        return out, extent


def inside(inner: tuple, outer: tuple) -> bool:
    """True when box ``inner`` (x0, y0, x1, y1) lies within box ``outer``."""
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


def union(a: tuple | None, b: tuple | None) -> tuple | None:
    """The bounding box of two (x0, y0, x1, y1) boxes, either of which may be None."""
    if a is None or b is None:
        return a if b is None else b
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def paste(region: np.ndarray, crop: np.ndarray, wx: np.ndarray, wy: np.ndarray) -> None:
    """region += wy * wx * (crop - region), in place: a plain copy where the weight is 1 (the
    middle of the box, most of it) and the blend only on the feathered bands at its edges."""
    cols = np.flatnonzero(wx >= 1.0)
    rows = np.flatnonzero(wy >= 1.0)
    if cols.size == 0 or rows.size == 0:
        region += np.outer(wy, wx) * (crop - region)
        return
    (c0, c1), (r0, r1) = (cols[0], cols[-1] + 1), (rows[0], rows[-1] + 1)
    region[r0:r1, c0:c1] = crop[r0:r1, c0:c1]
    # bands: the rows above and below the middle (full width), then left and right of it
    for rs, cs in ((slice(0, r0), slice(None)), (slice(r1, None), slice(None)),
                   (slice(r0, r1), slice(0, c0)), (slice(r0, r1), slice(c1, None))):
        part = region[rs, cs]
        if part.size:
            part += np.outer(wy[rs], wx[cs]) * (crop[rs, cs] - part)
