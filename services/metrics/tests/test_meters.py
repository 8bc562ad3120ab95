"""Meters: Dropwizard's EWMA reference values, lazy ticks, catch-up, and exact counts."""

from __future__ import annotations

import math

import pytest

from core_threads import run_threads

from graphmetrics.clock import ManualClock
from graphmetrics.meters import TICK_INTERVAL, Meter

# Dropwizard's EWMATest: one update of 3, one tick, then 12 ticks (one minute) at a time.
EXPECTED = [
    (0.22072766, 0.49123845, 0.56130419),
    (0.08120117, 0.40219203, 0.52510399),
    (0.02987224, 0.32928698, 0.49123845),
]


def _rates(meter: Meter) -> tuple[float, float, float]:
    return meter.get_one_minute_rate(), meter.get_five_minute_rate(), meter.get_fifteen_minute_rate()


def test_dropwizard_ewma_reference_values_with_a_read_every_tick() -> None:
    clock = ManualClock()
    meter = Meter(clock)
    meter.mark(3)
    clock.advance(TICK_INTERVAL)
    assert _rates(meter) == pytest.approx((0.6, 0.6, 0.6), abs=1e-9)
    for expected in EXPECTED:
        for _ in range(12):
            clock.advance(TICK_INTERVAL)
            _rates(meter)
        assert _rates(meter) == pytest.approx(expected, abs=1e-6)


def test_missed_ticks_are_caught_up_at_once() -> None:
    clock = ManualClock()
    meter = Meter(clock)
    meter.mark(3)
    clock.advance(TICK_INTERVAL)
    assert meter.get_one_minute_rate() == pytest.approx(0.6)
    clock.advance(60.0)  # twelve ticks, applied by this one read
    assert _rates(meter) == pytest.approx(EXPECTED[0], abs=1e-6)
    clock.advance(120.0 + 4.9)  # 24 more ticks and a partial one that must not count yet
    assert _rates(meter) == pytest.approx(EXPECTED[2], abs=1e-6)


def test_first_tick_sets_the_rate_even_when_it_comes_late() -> None:
    clock = ManualClock()
    meter = Meter(clock)
    meter.mark(3)
    clock.advance(65.0)  # the mark's tick, then twelve empty ones
    assert _rates(meter) == pytest.approx(EXPECTED[0], abs=1e-6)


def test_dropwizard_meter_example() -> None:
    # MeterTest.marksEventsAndUpdatesRatesAndCount: mark() at 0 s, mark(2) at 10 s.
    clock = ManualClock()
    meter = Meter(clock)
    meter.mark()
    clock.advance(10.0)
    meter.mark(2)
    assert meter.get_count() == 3
    assert meter.get_mean_rate() == pytest.approx(0.3, abs=1e-3)
    assert _rates(meter) == pytest.approx((0.1840, 0.1966, 0.1988), abs=1e-3)


def test_marks_belong_to_the_interval_they_happen_in() -> None:
    clock = ManualClock()
    meter = Meter(clock)
    clock.advance(TICK_INTERVAL)
    meter.mark(5)  # the tick due now runs first, with no events, before these are counted
    assert meter.get_one_minute_rate() == 0.0
    clock.advance(TICK_INTERVAL)
    assert meter.get_one_minute_rate() == pytest.approx(1 - math.exp(-5 / 60))  # 0 blended with 1/s


def test_no_tick_before_five_seconds() -> None:
    clock = ManualClock()
    meter = Meter(clock)
    meter.mark(10)
    clock.advance(4.999)
    assert _rates(meter) == (0.0, 0.0, 0.0)


def test_fields_and_clear() -> None:
    clock = ManualClock(1000.0)
    meter = Meter(clock)
    assert meter.fields() == {"count": 0, "mean_rate": 0.0, "1m_rate": 0.0, "5m_rate": 0.0, "15m_rate": 0.0}
    meter.mark(4)
    clock.advance(2.0)
    fields = meter.fields()
    assert fields["count"] == 4 and type(fields["count"]) is int
    assert fields["mean_rate"] == 2.0
    meter.clear()
    clock.advance(10.0)
    assert meter.fields()["count"] == 0 and meter.get_one_minute_rate() == 0.0


def test_bad_mark_amount_changes_nothing() -> None:
    meter = Meter(ManualClock())
    meter.mark()
    with pytest.raises(TypeError):
        meter.mark(1.5)  # type: ignore[arg-type]
    assert meter.get_count() == 1


def test_marks_from_threads_are_exact() -> None:
    clock = ManualClock()
    meter = Meter(clock)

    def work() -> None:
        for i in range(50_000):
            meter.mark()
            if i % 1000 == 0:
                meter.get_one_minute_rate()

    run_threads(4, work)
    assert meter.get_count() == 200_000
    clock.advance(TICK_INTERVAL)
    assert meter.get_one_minute_rate() == pytest.approx(200_000 / TICK_INTERVAL)
