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


@pytest.fixture(scope="module")
def seg():
    return samcell_rs.Segmenter()


def test_counter_advances_during_segment(seg):
    image = np.random.default_rng(0).integers(0, 256, (768, 768), dtype=np.uint8)
    assert_runs_alongside(lambda: seg.segment(image))


def test_counter_advances_during_postprocess(seg):
    rng = np.random.default_rng(1)
    dmap = rng.random((2048, 2048), dtype=np.float32)
    assert_runs_alongside(lambda: seg.postprocess(dmap, 0.9, 0.5))


def grid_labels():
    labels = np.zeros((2048, 2048), np.uint32)
    labels[::8, ::8] = np.arange(1, 256 * 256 + 1, dtype=np.uint32).reshape(256, 256)
    return labels


def test_counter_advances_during_measure():
    labels = grid_labels()
    assert_runs_alongside(lambda: samcell_rs.measure(labels))


def test_counter_advances_during_evaluate():
    labels = grid_labels()
    assert_runs_alongside(lambda: samcell_rs.evaluate(labels, labels))
