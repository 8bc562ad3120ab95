"""Clocks: the manual clock tests rely on, and the interval source metrics read."""

from __future__ import annotations

import time

import pytest

from graphmetrics.clock import SYSTEM_CLOCK, Clock, ManualClock, SystemClock, interval_source


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(start=100.0)
    assert clock.time() == 100.0
    clock.advance(2.5)
    assert clock.time() == 102.5
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    assert clock.time() == 102.5


def test_system_clock_is_wall_time() -> None:
    before = time.time()
    now = SystemClock().time()
    assert before <= now <= time.time()
    assert isinstance(SYSTEM_CLOCK, Clock) and isinstance(ManualClock(), Clock)


def test_interval_source_is_monotonic_for_the_system_clock_and_the_clock_otherwise() -> None:
    for system in (None, SYSTEM_CLOCK, SystemClock(), time):
        assert interval_source(system) is time.perf_counter
    manual = ManualClock(7.0)
    source = interval_source(manual)
    manual.advance(1.0)
    assert source() == 8.0
