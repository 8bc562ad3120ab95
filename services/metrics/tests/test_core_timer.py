"""Timers: context manager, decorator, units, manual updates, and the meter they carry."""

from __future__ import annotations

import math

import pytest
from core_threads import run_threads

from graphmetrics.clock import ManualClock
from graphmetrics.reservoirs import SlidingTimeWindowReservoir
from graphmetrics.reservoirs.pending import FOLD_AT
from graphmetrics.timers import Timer, TimerContext


def test_context_manager_returns_the_context_and_records_milliseconds() -> None:
    clock = ManualClock()
    timer = Timer(clock=clock)
    with timer.time() as context:
        assert isinstance(context, TimerContext) and context.elapsed is None
        clock.advance(0.25)
    assert context.elapsed == 250.0
    snapshot = timer.snapshot()
    assert snapshot.count == 1 and snapshot.max == 250.0 and snapshot.sum == 250.0
    assert timer.get_count() == 1


def test_exceptions_are_timed_and_propagate() -> None:
    clock = ManualClock()
    timer = Timer(clock=clock)
    with pytest.raises(KeyError):
        with timer.time():
            clock.advance(0.5)
            raise KeyError("boom")
    assert timer.snapshot().max == 500.0


@pytest.mark.parametrize(("unit", "expected"), [("s", 0.002), ("ms", 2.0), ("us", 2000.0), ("ns", 2e6)])
def test_units(unit: str, expected: float) -> None:
    clock = ManualClock()
    timer = Timer(unit=unit, clock=clock)
    context = timer.time()
    clock.advance(0.002)
    assert context.stop() == pytest.approx(expected)
    timer.update(0.004)  # seconds in, the timer's unit out
    assert timer.snapshot().max == pytest.approx(2 * expected)


def test_stopping_twice_is_an_error_not_a_second_measurement() -> None:
    timer = Timer(clock=ManualClock())
    context = timer.time()
    context.stop()
    with pytest.raises(RuntimeError, match="already stopped"):
        context.stop()
    assert timer.get_count() == 1


def test_decorator_forms_time_every_call() -> None:
    clock = ManualClock()
    timer = Timer(clock=clock)

    @timer.time
    def bare(x: int) -> int:
        clock.advance(0.001)
        return x + 1

    @timer.time()
    def called() -> str:
        clock.advance(0.003)
        return "ok"

    assert bare(1) == 2 and bare(2) == 3 and called() == "ok"
    assert bare.__name__ == "bare" and called.__name__ == "called"
    snapshot = timer.snapshot()
    assert snapshot.count == 3 and snapshot.sum == pytest.approx(5.0)


def test_pyformance_style_arguments_are_accepted() -> None:
    clock = ManualClock()
    timer = Timer(clock=clock)
    with timer.time(fn="name", extra=1):
        clock.advance(0.01)
    assert timer.get_count() == 1


def test_rates_follow_the_measurements() -> None:
    clock = ManualClock()
    timer = Timer(clock=clock)
    for _ in range(10):
        timer.update(0.001)
    clock.advance(5.0)
    assert timer.get_one_minute_rate() == pytest.approx(2.0)
    assert timer.get_mean_rate() == pytest.approx(2.0)
    fields = timer.fields()
    assert fields["count"] == 10 and fields["1m_rate"] == pytest.approx(2.0)
    assert fields["max"] == pytest.approx(1.0)


def test_timer_with_another_reservoir_and_clear() -> None:
    clock = ManualClock()
    timer = Timer(reservoir=SlidingTimeWindowReservoir(60.0), clock=clock)
    timer.update(0.1)
    clock.advance(61.0)
    assert timer.snapshot().size == 0 and timer.get_count() == 1
    timer.clear()
    assert timer.get_count() == 0 and timer.get_mean_rate() == 0.0


def test_zero_and_bad_durations() -> None:
    timer = Timer(clock=ManualClock())
    with timer.time():
        pass  # the manual clock did not move: a zero duration is still a measurement
    assert timer.snapshot().fields()["max"] == 0.0 and timer.get_count() == 1
    with pytest.raises(ValueError):
        timer.update(math.nan)
    assert timer.get_count() == 1


def test_snapshot_of_durations_in_the_timers_unit() -> None:
    timer = Timer(clock=ManualClock())
    for seconds in (0.001, 0.003):
        timer.update(seconds)
    snapshot = timer.snapshot()
    assert snapshot.sum == pytest.approx(4.0)
    assert (snapshot.min, snapshot.max, snapshot.mean) == pytest.approx((1.0, 3.0, 2.0))
    assert snapshot.stddev == pytest.approx(math.sqrt(2))
    assert snapshot.value(0.5) == pytest.approx(1.0, rel=0.01)


def test_contexts_on_the_system_clock_append_to_the_sketch_and_fold_it() -> None:
    """With the default sketch and the system clock, contexts skip update() and fold it themselves."""
    timer = Timer()
    pending = timer.reservoir.pending  # type: ignore[attr-defined]
    recorded = []
    for _ in range(FOLD_AT + 10):
        with timer.time() as context:
            pass
        recorded.append(context.elapsed)
    assert len(pending) == 10  # one fold happened, ten are pending
    snapshot = timer.snapshot()
    assert snapshot.count == timer.get_count() == FOLD_AT + 10
    assert snapshot.sum == pytest.approx(math.fsum(recorded), rel=1e-9)
    assert (snapshot.min, snapshot.max) == (min(recorded), max(recorded))
    assert all(elapsed >= 0.0 for elapsed in recorded)


def test_other_clocks_go_through_update_and_its_checks() -> None:
    class NanClock:
        def time(self) -> float:
            return math.nan

    assert Timer(clock=ManualClock()).time.__self__.pending is None  # a timers.Stopwatch's, in both modes
    timer = Timer(clock=NanClock())
    context = timer.time()
    with pytest.raises(ValueError):
        context.stop()
    assert timer.get_count() == 0


def test_contexts_from_many_threads_are_all_counted() -> None:
    timer = Timer()

    def work() -> None:
        for _ in range(FOLD_AT):
            with timer.time():
                pass

    run_threads(4, work)
    assert timer.get_count() == timer.snapshot().count == 4 * FOLD_AT


def test_a_negative_or_nan_duration_is_refused_and_counted() -> None:
    """Found: Timer.update(-5) was recorded."""
    timer = Timer()
    timer.update(0.002)
    for bad in (-5, -0.001, math.nan):
        with pytest.raises(ValueError, match=">= 0"):
            timer.update(bad)
    timer.update(0)
    assert (timer.get_count(), timer.refused) == (2, 3)
    assert timer.snapshot().fields()["min"] == 0.0
