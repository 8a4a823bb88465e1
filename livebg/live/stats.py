"""Live statistics: frames in and out, drops, latency percentiles, mask age.
"""
from __future__ import annotations

import collections
from array import array

from livebg.percentile import percentile


# -- statistics --------------------------------------------------------------------------------
def rounded_percentile(values: array, q: float) -> float:
    """A percentile of milliseconds as the statistics show it (0.0 when there are none)."""
    return round(percentile(values, q), 1)


class LiveStats:
    """Latency (capture -> handed to the virtual camera or window) and mask age per output frame."""

    def __init__(self):
        self.frames_out = 0
        self.latency_ms = array("f")
        self.mask_age_ms = array("f")
        self.first_out: float | None = None
        self.last_out: float | None = None
        self._recent: collections.deque[tuple[float, float, float]] = collections.deque(maxlen=30)

    def record(self, captured_at: float, handed_at: float, mask_age_s: float | None) -> None:
        latency = (handed_at - captured_at) * 1000
        self.latency_ms.append(latency)
        age = max(0.0, mask_age_s * 1000) if mask_age_s is not None else 0.0
        if mask_age_s is not None:
            self.mask_age_ms.append(age)
        self.frames_out += 1
        self.first_out = handed_at if self.first_out is None else self.first_out
        self.last_out = handed_at
        self._recent.append((handed_at, latency, age))

    def fps(self) -> float:
        if self.frames_out < 2 or self.last_out is None or self.first_out is None or self.last_out == self.first_out:
            return 0.0
        return (self.frames_out - 1) / (self.last_out - self.first_out)

    def recent(self) -> tuple[float, float, float]:
        """fps, median latency (ms) and median mask age (ms) over the last 30 frames, for the overlay."""
        if len(self._recent) < 2:
            return 0.0, 0.0, 0.0
        times = [r[0] for r in self._recent]
        fps = (len(times) - 1) / max(1e-6, times[-1] - times[0])
        return fps, sorted(r[1] for r in self._recent)[len(times) // 2], sorted(r[2] for r in self._recent)[len(times) // 2]

    def summary(self, *, frames_in: int, dropped: int) -> dict:
        return {
            "frames_in": frames_in,
            "frames_out": self.frames_out,
            "dropped": dropped,
            "fps": round(self.fps(), 2),
            "latency_p50_ms": rounded_percentile(self.latency_ms, 50),
            "latency_p95_ms": rounded_percentile(self.latency_ms, 95),
            "mask_age_p95_ms": rounded_percentile(self.mask_age_ms, 95),
            "mask_age_p50_ms": rounded_percentile(self.mask_age_ms, 50),
            "latency_max_ms": rounded_percentile(self.latency_ms, 100),
        }


STATS_LINE_KEYS = ("frames_in", "frames_out", "dropped", "fps", "latency_p50_ms", "latency_p95_ms", "mask_age_p95_ms")


def stats_line(summary: dict) -> str:
    return " ".join(f"{key}={summary[key]}" for key in STATS_LINE_KEYS)
