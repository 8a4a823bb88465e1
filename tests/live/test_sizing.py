"""The live working size (live/sizing.py): chosen at startup from timed calls, stepped down when
the calls stay over the camera's budget, to the selfie model below the smallest, and back up."""
from __future__ import annotations

from livebg.live.sizing import (
    FALLBACK,
    RETRY_SECONDS,
    STEP_DOWN_SECONDS,
    STEP_UP_SECONDS,
    LiveSizer,
    startup_size,
)

SIZES = (384, 320, 256, 192)


def cost(short: int, per_px: float = 30e-3 / 256**2) -> float:
    """A model whose call grows with its pixels: 30 ms at 256 px."""
    return per_px * short**2


def test_startup_takes_the_largest_size_that_fits_timing_from_the_smallest_up():
    timed: list[int] = []

    def seconds_at(short: int) -> float:
        timed.append(short)
        return cost(short)

    assert startup_size(seconds_at, 0.033, SIZES) == 256
    assert timed == [192, 256, 320]  # stops at the first that does not fit
    assert startup_size(cost, 0.001, SIZES) == 192  # none fits: the smallest (the sizer takes it from there)
    assert startup_size(cost, 1.0, SIZES) == 384


def run(sizer: LiveSizer, seconds_of, start: float, end: float, step: float = 1 / 30):
    """Calls every ``step`` s from ``start`` to ``end``, each taking ``seconds_of(size)``."""
    changes = []
    t = start
    while t < end:
        change = sizer.observe(seconds_of(sizer.short), t)
        if change is not None:
            changes.append((round(t, 2), change.short))
        t += step
    return changes


def test_a_busy_machine_steps_down_one_size_at_a_time_then_to_the_selfie_model_and_back():
    sizer = LiveSizer(0.033, 256, SIZES)
    assert run(sizer, cost, 0, 10) == []  # 30 ms of 33: holds; 320 px (47 ms) is not predicted to fit

    def busy(short):  # another program takes a core: every call costs twice
        return 2 * cost(short)

    changes = run(sizer, busy, 10, 20)
    assert [size for _, size in changes] == [192, FALLBACK]
    assert STEP_DOWN_SECONDS <= changes[0][0] - 10 <= STEP_DOWN_SECONDS + 0.2
    assert "over the 33 ms" in sizer.changes[0].reason
    # on the selfie model, RVM is tried again after RETRY_SECONDS, at the smallest size
    fell_back = changes[1][0]
    retry = run(sizer, lambda short: 0.005, fell_back + 1 / 30, fell_back + RETRY_SECONDS + 0.1)
    assert retry == [] or retry[0][1] == 192
    assert sizer.short == 192 and "trying RVM again" in sizer.changes[-1].reason
    # still busy: back to the selfie model, and the next try waits twice as long
    again = run(sizer, busy, fell_back + RETRY_SECONDS + 0.2, fell_back + 4 * RETRY_SECONDS)
    assert [size for _, size in again][:2] == [FALLBACK, 192] and again[1][0] - again[0][0] >= 2 * RETRY_SECONDS - 0.1
    # the machine is idle again: up, a size at a time, while the next size is predicted to fit
    t = again[1][0] + 1 / 30
    sizer = LiveSizer(0.040, 192, SIZES)  # a 25 fps camera: 256 px (30 ms) is predicted within 80 % of 40 ms
    up = run(sizer, cost, t, t + 30)
    assert [size for _, size in up] == [256]
    assert up[0][0] - t >= STEP_UP_SECONDS


def test_without_a_fallback_it_stays_at_the_smallest_size():
    sizer = LiveSizer(0.010, 192, SIZES, fallback=False)
    assert run(sizer, cost, 0, 10) == [] and sizer.short == 192


def test_small_calls_from_a_small_box_around_the_people_climb_to_the_largest_size():
    """The box around a small person costs a fraction of the whole frame: the size climbs."""
    sizer = LiveSizer(0.033, 192, SIZES)
    changes = run(sizer, lambda short: 0.2 * cost(short), 0, 30)
    assert [size for _, size in changes] == [256, 320, 384]
