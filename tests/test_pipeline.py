"""pipeline.run_stages: Ctrl-C handling never lets the caller go while stage threads still run."""
from __future__ import annotations

import _thread
import threading
import time

import cv2
import pytest

from livebg.pipeline import run_stages
from livebg.signals import SAME_STOP_SECONDS

RETURNED = threading.Event()  # set once run_stages has returned to the caller
LATE: list[int] = []  # stage work that ran after that: must stay empty


def slow_stage(items):
    for item in items:
        time.sleep(0.01)  # a stand-in for native work (a model call, the encoder)
        if RETURNED.is_set():
            LATE.append(item)
        yield item


def finished(pipeline):
    RETURNED.set()
    time.sleep(0.05)  # give a stray thread the time to show itself
    alive = [t for t in threading.enumerate() if t.name.startswith("livebg-")]
    for t in alive:
        t.join(1.0)
    RETURNED.clear()
    assert LATE == [], LATE
    assert all(not t.is_alive() for t in alive)


def test_second_ctrl_c_during_the_first_ones_handler_still_joins_every_thread():
    """The second SIGINT can land while the first is being handled (the message is printed):
    run_stages must count it, stop, and return only after every thread has ended."""
    seen = []
    main_stages_running = threading.Event()

    def sink(items):
        for item in items:
            seen.append(item)
            main_stages_running.set()
        return
        yield

    def on_interrupt(_pipeline):
        # the second Ctrl-C, arriving inside the handler of the first (late enough not to be
        # taken for the first one repeated)
        time.sleep(SAME_STOP_SECONDS + 0.05)
        _thread.interrupt_main()
        time.sleep(0.01)

    timer = threading.Timer(0.2, _thread.interrupt_main)  # the first Ctrl-C
    timer.start()
    try:
        pipeline = run_stages(iter(range(10_000)), [slow_stage, sink], on_interrupt=on_interrupt)
    finally:
        timer.cancel()
    assert main_stages_running.is_set()
    assert pipeline.interrupted
    assert pipeline.stop_event.is_set()  # two Ctrl-C: abandoned, not drained
    finished(pipeline)
    assert 0 < len(seen) < 10_000


def test_one_ctrl_c_drains_and_keeps_every_frame_taken():
    taken = []

    def source():
        for i in range(10_000):
            taken.append(i)
            yield i

    out = []

    def sink(items):
        for item in items:
            out.append(item)
        return
        yield

    timer = threading.Timer(0.2, _thread.interrupt_main)
    timer.start()
    try:
        pipeline = run_stages(source(), [slow_stage, sink])
    finally:
        timer.cancel()
    assert pipeline.interrupted and not pipeline.stop_event.is_set()
    assert out == taken[:len(out)] and len(out) >= len(taken) - 1  # nothing taken is lost (the source
    # may have read one item it never queued)
    finished(pipeline)


def test_a_signal_repeated_at_once_is_the_same_stop():
    """`timeout` signals the process and then its process group: two SIGINTs microseconds
    apart. They must drain the job as one Ctrl-C does, not abandon it; a second Ctrl-C after
    SAME_STOP_SECONDS does abandon it."""
    def slower_stage(items):  # draining the queued items outlasts the second signal
        for item in items:
            time.sleep(0.25)
            yield item

    for gap, abandoned in ((0.0, False), (0.03, False), (SAME_STOP_SECONDS + 0.1, True)):
        out = []
        both_sent = threading.Event()

        def sink(items):
            for item in items:
                out.append(item)
            return
            yield

        def twice():
            _thread.interrupt_main()
            time.sleep(gap)
            _thread.interrupt_main()
            both_sent.set()

        timer = threading.Timer(0.3, twice)
        timer.start()
        try:
            pipeline = run_stages(iter(range(100_000)), [slower_stage, sink])
        finally:
            timer.cancel()
        assert both_sent.is_set(), gap
        assert pipeline.interrupted, gap
        assert pipeline.stop_event.is_set() == abandoned, gap
        assert len(out) < 100_000 and (abandoned or len(out) > 1), (gap, len(out))


def test_stages_run_without_opencvs_thread_pool_and_it_is_restored_after():
    """The stages are the parallelism; OpenCV's pool on top of them only adds hand-offs."""
    cv2.setNumThreads(2)
    seen = []

    def stage(items):
        for item in items:
            seen.append(cv2.getNumThreads())
            yield item

    def failing(items):
        for _ in items:
            raise ValueError("a stage failed")
        yield

    run_stages(iter(range(3)), [stage])
    assert seen == [1, 1, 1]
    assert cv2.getNumThreads() == 2
    with pytest.raises(ValueError):
        run_stages(iter(range(3)), [failing])
    assert cv2.getNumThreads() == 2


def test_hex_colours_long_and_short():
    from livebg.config import parse_hex_color

    assert parse_hex_color("#FFAA00") == parse_hex_color("#fa0") == (255, 170, 0)
    assert parse_hex_color("#102030") == (16, 32, 48)
    for bad in ("#ggg", "#12345", "#1234", "fa0", "#fa00"):
        assert parse_hex_color(bad) is None, bad
