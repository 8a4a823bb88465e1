"""Percentiles of timings, for the live statistics and the benchmark scripts (below every stage)."""
from __future__ import annotations

from array import array
from collections.abc import Sequence

import numpy as np


def percentile(values: Sequence[float] | array, q: float, *, empty: float = 0.0) -> float:
    """The ``q``-th percentile (0..100) of ``values``, interpolated linearly between the two
    nearest (numpy's default); ``empty`` when there are no values."""
    if not len(values):
        return empty
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))
