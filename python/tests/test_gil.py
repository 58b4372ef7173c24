"""The GIL is released while the Rust core works: another Python thread keeps running.

A worker thread times one call; the main thread counts in a loop and notes the time every 1000
turns. With the GIL held during the call the main thread could not run a single turn inside it;
released, its notes fill the call's whole span, the middle half included.
"""

import threading
import time

import numpy as np
import pytest

import samcell_rs


def assert_runs_alongside(call):
    span = {}
    done = threading.Event()

    def work():
        t0 = time.perf_counter()
        call()
        span["t"] = (t0, time.perf_counter())
        done.set()

    worker = threading.Thread(target=work)
    notes, count = [], 0
    worker.start()
    while not done.is_set():
        count += 1
        if count % 1000 == 0:
            notes.append(time.perf_counter())
    worker.join()
    t0, t1 = span["t"]
    assert t1 - t0 > 0.05, "the call was too quick to tell"
    inside = [t for t in notes if t0 + 0.25 * (t1 - t0) < t < t0 + 0.75 * (t1 - t0)]
    assert len(inside) >= 10, (len(inside), len(notes), t1 - t0)


def long_enough(make, call, side, max_side):
    """`make(side)`, its side grown by 1.5x until one untimed `call` on it takes at least 0.2 s
    (or `max_side` is reached), so that a fast machine does not finish the timed call before the
    counter can show anything."""
    while True:
        x = make(side)
        t0 = time.perf_counter()
        call(x)
        if time.perf_counter() - t0 >= 0.2 or side >= max_side:
            return x
        side = min(int(side * 1.5), max_side)


@pytest.fixture(scope="module")
def seg():
    return samcell_rs.Segmenter()


def test_counter_advances_during_segment(seg):
    image = np.random.default_rng(0).integers(0, 256, (768, 768), dtype=np.uint8)
    assert_runs_alongside(lambda: seg.segment(image))


def test_counter_advances_during_postprocess(seg):
    rng = np.random.default_rng(1)

    def post(dmap):
        return seg.postprocess(dmap, 0.9, 0.5)

    dmap = long_enough(lambda n: rng.random((n, n), dtype=np.float32), post, 2048, 6144)
    assert_runs_alongside(lambda: post(dmap))


def grid_labels(side):
    """One-pixel cells every 8 pixels of a side x side image (side a multiple of 8)."""
    side -= side % 8
    labels = np.zeros((side, side), np.uint32)
    k = side // 8
    labels[::8, ::8] = np.arange(1, k * k + 1, dtype=np.uint32).reshape(k, k)
    return labels


def test_counter_advances_during_measure():
    labels = long_enough(grid_labels, samcell_rs.measure, 2048, 6144)
    assert_runs_alongside(lambda: samcell_rs.measure(labels))


def test_counter_advances_during_evaluate():
    def ev(labels):
        return samcell_rs.evaluate(labels, labels)

    labels = long_enough(grid_labels, ev, 2048, 6144)
    assert_runs_alongside(lambda: ev(labels))


def test_counter_advances_during_track():
    def tr(labels):
        return samcell_rs.track([labels, labels, labels])

    labels = long_enough(grid_labels, tr, 512, 4096)
    assert_runs_alongside(lambda: tr(labels))
