"""Histograms: add/update, pyformance accessors, and the reservoir bound to the registry clock."""

from __future__ import annotations

import pytest

from graphmetrics.clock import ManualClock
from graphmetrics.histograms import Histogram
from graphmetrics.reservoirs import ExpDecayingReservoir, LogBucketSketch, SlidingTimeWindowReservoir


def test_update_records_and_the_snapshot_follows() -> None:
    histogram = Histogram()
    histogram.update(1)
    histogram.update(3)
    assert isinstance(histogram.reservoir, LogBucketSketch)
    snapshot = histogram.snapshot()
    assert histogram.get_count() == 2 and snapshot.sum == 4
    assert (snapshot.min, snapshot.max, snapshot.mean) == (1, 3, 2)
    assert snapshot.stddev**2 == pytest.approx(2.0)
    assert histogram.fields()["999_percentile"] == 3
    histogram.clear()
    assert histogram.get_count() == 0


def test_a_reservoir_without_a_clock_takes_the_histograms() -> None:
    clock = ManualClock(100.0)
    window = SlidingTimeWindowReservoir(window=5.0)
    histogram = Histogram(window, clock=clock)
    histogram.update(1.0)
    clock.advance(6.0)
    assert histogram.snapshot().size == 0


def test_a_reservoir_keeps_its_own_clock() -> None:
    own, other = ManualClock(), ManualClock()
    histogram = Histogram(SlidingTimeWindowReservoir(window=5.0, clock=own), clock=other)
    histogram.update(1.0)
    other.advance(60.0)
    assert histogram.snapshot().size == 1
    own.advance(6.0)
    assert histogram.snapshot().size == 0


def test_decaying_reservoir_in_a_histogram_rescales_on_the_histograms_clock() -> None:
    clock = ManualClock()
    reservoir = ExpDecayingReservoir()
    histogram = Histogram(reservoir, clock=clock)
    histogram.update(5.0)
    clock.advance(3600.0)
    assert histogram.fields()["max"] == 5.0
    assert reservoir._start == 3600.0  # the read found the hourly rescale due on the manual clock
