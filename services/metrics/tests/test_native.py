"""The hot paths that have a C version (``_speedups.c``) and a pure-Python twin.

`make test-unit` runs the whole suite twice, once with the C speedups and once with
GRAPHMETRICS_PURE_PYTHON=1, so every behaviour test covers both. The tests here pin what only the
system-clock timer path and the sketch's pending values do (the paths the C code replaces), and that
the C fold counts exactly the buckets of the pure-Python one.
"""

from __future__ import annotations

import gc
import math
import os
import random
import shutil
import sysconfig
import time
import weakref
from pathlib import Path

import pytest
from core_threads import run_threads

from graphmetrics import MetricsRegistry
from graphmetrics._native import speedups
from graphmetrics.counters import Counter
from graphmetrics.reservoirs import LogBucketSketch
from graphmetrics.reservoirs.pending import FOLD_AT
from graphmetrics.reservoirs.sketch import _Buckets
from graphmetrics.timers import Timer

PURE = bool(os.environ.get("GRAPHMETRICS_PURE_PYTHON"))
native = pytest.mark.skipif(speedups is None, reason="the C speedups are not in use in this run")


def _can_build() -> bool:
    """A C compiler and Python's headers: what installing the package needs to build the speedups."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    return shutil.which(compiler) is not None and headers.exists()


def test_the_speedups_are_in_use_unless_pure_python_is_asked_for() -> None:
    """Where they can be built, `make venv` built them: a build that silently fell back to pure Python
    fails here instead of showing up only as slower benchmarks."""
    timer, sketch, counter = Timer(), LogBucketSketch(), Counter()
    if PURE:
        assert speedups is None
        assert type(timer.time).__name__ == "method" and type(sketch.update).__name__ == "function"
        assert type(counter).inc.__qualname__ == "_PyCount.inc"
    elif speedups is None and not _can_build():
        pytest.skip("no C compiler or Python headers on this machine: graphmetrics runs in pure Python")
    else:
        assert speedups is not None, "a C compiler and Python.h are here, but the speedups were not built"
        assert isinstance(timer.time, speedups.Stopwatch) and isinstance(sketch.update, speedups.Pending)
        assert isinstance(counter, speedups.Count)


def test_a_system_clock_context_records_once_and_reports_elapsed() -> None:
    timer = Timer()
    context = timer.time()
    assert context.elapsed is None
    elapsed = context.stop()
    assert elapsed == context.elapsed and 0.0 <= elapsed < 1000.0  # milliseconds
    with pytest.raises(RuntimeError, match="already stopped"):
        context.stop()
    with timer.time() as second:
        pass
    assert second.elapsed is not None and second.elapsed >= 0.0
    snapshot = timer.snapshot()
    assert timer.get_count() == snapshot.count == 2
    assert snapshot.max == pytest.approx(max(elapsed, second.elapsed))
    assert snapshot.sum == pytest.approx(elapsed + second.elapsed)


def test_a_system_clock_timer_times_functions_and_ignores_pyformance_arguments() -> None:
    timer = Timer(unit="s")

    @timer.time
    def bare(x: int) -> int:
        return x + 1

    @timer.time()
    def called(x: int) -> int:
        return x * 2

    assert bare(1) == 2 and called(2) == 4 and bare.__name__ == "bare"
    with timer.time("name", extra=1):
        pass
    with timer.time(None):
        pass
    assert timer.get_count() == 4
    assert timer.snapshot().max < 1.0  # seconds


def test_an_exception_inside_is_timed_and_propagates() -> None:
    timer = Timer()
    with pytest.raises(KeyError), timer.time():
        raise KeyError("boom")
    assert timer.get_count() == 1


def test_a_due_tick_is_applied_when_a_context_stops() -> None:
    """Marks are ticked lazily (Dropwizard): a context stopping after a tick is due applies it first,
    so the measurements before it count in that tick's rate."""
    timer = Timer()
    for _ in range(10):
        with timer.time():
            pass
    timer.rates.next_tick = time.perf_counter() - 0.001  # a tick came due
    with timer.time():
        pass
    assert timer.rates.next_tick > time.perf_counter()
    assert timer.rates.one_minute() == pytest.approx(10 / 5.0)  # the 10 earlier ones, over one 5 s tick


def test_timers_and_sketches_are_garbage_collected() -> None:
    """A timer and its time(), a sketch and its pending values refer to each other: cycles the
    collector must be able to break."""

    class Tracked(Timer):
        __slots__ = ("__weakref__",)

    timer = Tracked()
    with timer.time():
        pass
    ref = weakref.ref(timer)
    del timer
    gc.collect()
    assert ref() is None


def test_concurrent_adds_and_timings_lose_nothing() -> None:
    registry = MetricsRegistry()
    histogram, timer = registry.histogram("h"), registry.timer("t")
    per_thread = 3 * FOLD_AT + 7

    def work() -> None:
        add = histogram.update
        for i in range(per_thread):
            add(float(i % 97) + 0.5)
            with timer.time():
                pass

    run_threads(4, work)
    assert histogram.get_count() == histogram.snapshot().count == 4 * per_thread
    assert timer.get_count() == timer.snapshot().count == 4 * per_thread
    assert histogram.snapshot().sum == pytest.approx(4 * sum(float(i % 97) + 0.5 for i in range(per_thread)))


@pytest.mark.parametrize("name", ["latencies", "signed", "tiny-and-huge", "all-equal"])
def test_the_c_fold_counts_the_same_buckets_as_the_python_fold(name: str) -> None:
    rng = random.Random(7)
    values = {
        "latencies": [rng.lognormvariate(math.log(50.0), 1.0) for _ in range(FOLD_AT)],
        "signed": [rng.gauss(0.0, 100.0) for _ in range(FOLD_AT - 5)] + [0.0] * 5,
        "tiny-and-huge": [10.0 ** rng.uniform(-300, 300) for _ in range(FOLD_AT)],
        "all-equal": [3.25] * FOLD_AT,
    }[name]
    sketch = LogBucketSketch()
    expected = _Buckets()
    expected.add(list(values), sketch._gamma, sketch._mult)
    for value in values:  # the FOLD_AT-th value folds
        sketch.update(value)
    folded = sketch._buckets
    assert len(sketch.pending) == 0
    assert folded.positive == expected.positive and folded.negative == expected.negative
    assert (folded.zero, folded.count, folded.min, folded.max) == (
        expected.zero, expected.count, expected.min, expected.max)
    assert folded.sum == pytest.approx(expected.sum, rel=1e-12, abs=1e-9)
    assert folded.m2 == pytest.approx(expected.m2, rel=1e-9)


@native
def test_a_pending_refuses_bad_values_with_the_sketchs_errors_and_keeps_none() -> None:
    sketch = LogBucketSketch()
    for bad, error in [(math.nan, ValueError), (math.inf, ValueError), ("1", TypeError), (None, TypeError),
                       (b"1", TypeError), (10**400, TypeError)]:
        with pytest.raises(error, match="histogram values must be"):
            sketch.update(bad)
    sketch.update(True)
    sketch.update(2)
    assert sketch.count == 2 and sketch.pending.tolist() == [1.0, 2.0]
    with pytest.raises(TypeError):
        sketch.update(1.0, 2.0)  # type: ignore[call-arg]


@native
def test_fold_into_reports_what_it_moved() -> None:
    assert speedups is not None
    folds: list[int] = []
    pending = speedups.Pending(4, lambda: folds.append(len(pending)), lambda value: None)
    for value in (2.0, -2.0, 0.0):
        pending(value)
    assert folds == [] and len(pending) == 3
    pending(4.0)
    assert folds == [4]
    positive: dict[int, int] = {}
    negative: dict[int, int] = {}
    gamma = 1.01 / 0.99
    mult = 1.0 / math.log2(gamma)
    count, zeros, total, m2, low, high = pending.fold_into(positive, negative, gamma, mult)
    assert (count, zeros, total, low, high) == (4, 1, 4.0, -2.0, 4.0)
    assert m2 == pytest.approx(sum((v - 1.0) ** 2 for v in (2.0, -2.0, 0.0, 4.0)))
    assert sum(positive.values()) == 2 and sum(negative.values()) == 1 and len(pending) == 0
    assert pending.fold_into(positive, negative, gamma, mult) is None


def test_values_near_the_largest_float_neither_raise_nor_leave_the_data_range() -> None:
    sketch = LogBucketSketch()
    for i in range(FOLD_AT + 10):  # folded and pending values
        sketch.update(1.79e308 if i % 2 else -1.79e308)
    snapshot = sketch.snapshot()
    assert snapshot.count == FOLD_AT + 10
    for quantile in (0.5, 0.75, 0.99, 0.999):
        assert -1.79e308 <= snapshot.value(quantile) <= 1.79e308
    bounds = [bound for bound, _ in sketch.buckets()]
    assert all(math.isfinite(bound) for bound in bounds) and bounds == sorted(bounds)
