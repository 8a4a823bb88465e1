"""The working size of a matting model live on a CPU: the largest that holds the camera's rate.

RVM's cost grows with the pixels it is given: with the square of its working size, and with
the box around the people (``segment/region.py``), so small people (a small box) can be seen at
a larger size for the same time. ``LiveSizer`` follows the measured time of the model's calls,
which includes both:

- at startup, ``startup_size`` times one whole-frame call at each size of ``LIVE_SIZES`` and
  starts at the largest whose call fits ``STARTUP_BUDGET`` of a frame interval (a call timed
  alone runs slower live, beside the compositing, the capture and the sink);
- during the session, when the calls' running time stays over the budget for
  ``STEP_DOWN_SECONDS`` (the machine got busy, the people came closer), the size steps down one
  rung; below the smallest the bundled selfie model takes over (``FALLBACK``);
- when a rung up is predicted to fit (the time so far scaled by the pixels' ratio, within
  ``STEP_UP_SHARE`` of the budget) for ``STEP_UP_SECONDS``, it steps up; from the selfie model
  RVM is tried again at the smallest size after ``RETRY_SECONDS`` (doubling each time it fails).

Each change is said in one line, with its reason. A size given with ``--infer-size`` is kept.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from livebg.segment.rvm import LIVE_SIZES

# a call may take this share of the camera's frame interval: the loop waits for each frame's own
# mask (a mask one frame old costs more than a smaller size: docs/quality.md, "Live")
LIVE_BUDGET = 0.75
# ... and timed alone at startup, a call must fit this share: live, next to the compositing of
# the frame before, the capture's decoding and the sink, the same call took about a quarter
# longer (RVM zoomed at 160 px, 2 cores: 25 ms alone, 31-37 ms in `livebg cam`, varying from run
# to run on the same idle machine), and a call over the interval shows masks frames old
STARTUP_BUDGET = 0.5
# the loop waits for each frame's own mask while the calls' running time is within this share
# of the interval: above LIVE_BUDGET the size steps down (in STEP_DOWN_SECONDS), and meanwhile a
# mask one frame old costs more than the wait (breakdance: IoU 0.715 with 42 ms masks shown)
LIVE_WAIT = 0.9
# the temporal smoothing's strength at rest for RVM live, where the default (0.8) is left as it is:
# RVM's recurrent state already carries the past, and the smoothing's lag cost breakdance 0.06
# IoU (0.3 and none scored alike on every labelled clip, flicker included: docs/quality.md)
LIVE_MATTING_SMOOTHING = 0.3
STEP_DOWN_SECONDS = 1.0  # over the budget this long: a size down (the masks start to age soon after)
STEP_UP_SECONDS = 4.0
STEP_UP_SHARE = 0.8  # a rung up must be predicted within this share of the budget
RETRY_SECONDS = 10.0  # on the selfie model: RVM is tried again after this long (doubled after each failure)
SMOOTHING = 0.2  # weight of the newest call in the running time
FALLBACK = 0  # the "size" that means the selfie model


@dataclass(frozen=True)
class SizeChange:
    short: int  # the new working size, FALLBACK: the selfie model
    reason: str


def startup_size(seconds_at: Callable[[int], float], budget: float, sizes: Sequence[int] = LIVE_SIZES) -> int:
    """The largest of ``sizes`` whose call (``seconds_at(size)``) fits ``budget`` seconds,
    timed from the smallest up (stopping at the first that does not fit); the smallest if none."""
    chosen = sizes[-1]
    for size in reversed(sizes):
        if seconds_at(size) > budget:
            break
        chosen = size
    return chosen


class LiveSizer:
    """Follows the model's call times and says when to change the working size."""

    def __init__(self, budget: float, start: int, sizes: Sequence[int] = LIVE_SIZES, *, fallback: bool = True):
        self.sizes = tuple(sizes)
        self.budget = budget
        self.fallback = fallback
        self.short = self.first = start
        self.changes: list[SizeChange] = []
        self._running: float | None = None
        self._over_since: float | None = None
        self._fits_since: float | None = None
        self._retry_after = RETRY_SECONDS
        self._fell_back_at: float | None = None

    def observe(self, seconds: float, now: float) -> SizeChange | None:
        """One call took ``seconds`` (at time ``now``): the change to make, if any."""
        if self.short == FALLBACK:
            assert self._fell_back_at is not None
            if now - self._fell_back_at >= self._retry_after:
                self._retry_after *= 2
                return self._change(self.sizes[-1], now, f"trying RVM again ({self._retry_after / 2:.0f} s on the "
                                                        "selfie model)")
            return None
        self._running = seconds if self._running is None else (1 - SMOOTHING) * self._running + SMOOTHING * seconds
        running = self._running
        if running > self.budget:
            self._fits_since = None
            self._over_since = now if self._over_since is None else self._over_since
            if now - self._over_since >= STEP_DOWN_SECONDS:
                why = f"calls take {running * 1000:.0f} ms, over the {self.budget * 1000:.0f} ms the camera's rate allows"
                smaller = [s for s in self.sizes if s < self.short]
                if smaller:
                    return self._change(smaller[0], now, why)
                if self.fallback:
                    self._fell_back_at = now
                    return self._change(FALLBACK, now, why)
            return None
        self._over_since = None
        larger = [s for s in self.sizes if s > self.short]
        if not larger:
            return None
        up = larger[-1]
        predicted = running * (up / self.short) ** 2
        if predicted > STEP_UP_SHARE * self.budget:
            self._fits_since = None
            return None
        self._fits_since = now if self._fits_since is None else self._fits_since
        if now - self._fits_since >= STEP_UP_SECONDS:
            return self._change(up, now, f"calls take {running * 1000:.0f} ms, {up} px should take about "
                                         f"{predicted * 1000:.0f} ms of {self.budget * 1000:.0f}")
        return None

    def _change(self, short: int, now: float, reason: str) -> SizeChange:
        change = SizeChange(short, reason)
        self.short = short
        self.changes.append(change)
        self._running = None
        self._over_since = self._fits_since = None
        if short != FALLBACK and short != self.sizes[-1]:
            self._retry_after = RETRY_SECONDS  # RVM holds again: a later fallback waits the first time again
        return change
