"""The live capture's mailbox (sources/mailbox.py): the newest frame wins."""
from __future__ import annotations

import time
from fractions import Fraction

import numpy as np
import pytest

from livebg.frames.frame import Frame
from livebg.sources.mailbox import FrameMailbox


def frame(i: int) -> Frame:
    return Frame(i, i, Fraction(i, 30), np.zeros((2, 2, 3), np.uint8), time.perf_counter())


def test_mailbox_drops_the_oldest_never_the_newest():
    box = FrameMailbox(max_pending=2)
    for i in range(5):
        box.put(frame(i))
    assert box.dropped == 3 and box.received == 5
    assert [box.get(0).index, box.get(0).index] == [3, 4]
    assert box.get(0.01) is None
    assert box.wait_newer(3, 0).index == 4 and box.wait_newer(4, 0.01) is None
    box.end()
    assert box.ended and box.get(1.0) is None  # no wait once ended
    with pytest.raises(ValueError):
        FrameMailbox(max_pending=0)
