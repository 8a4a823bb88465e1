"""pipeline.run_stages: Ctrl-C handling never lets the caller go while stage threads still run."""
from __future__ import annotations

import _thread
import threading
import time

from livebg.pipeline import run_stages


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
        raise KeyboardInterrupt  # the second Ctrl-C, arriving inside the handler of the first

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


def test_hex_colours_long_and_short():
    from livebg.compositing import parse_hex_color

    assert parse_hex_color("#FFAA00") == parse_hex_color("#fa0") == (255, 170, 0)
    assert parse_hex_color("#102030") == (16, 32, 48)
    for bad in ("#ggg", "#12345", "#1234", "fa0", "#fa00"):
        assert parse_hex_color(bad) is None, bad
