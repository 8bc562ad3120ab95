"""Scheduling: ticks on interval boundaries of the epoch, skipped (not burst) after a stall."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphmetrics.runners.schedule import Schedule, check_interval

T0 = 1_700_000_000  # a multiple of 10


def test_first_tick_is_the_next_boundary_not_the_start_time() -> None:
    schedule = Schedule(10, T0 + 3.7)
    assert schedule.delay(T0 + 3.7) == pytest.approx(6.3)
    assert schedule.due(T0 + 9.99) is None
    assert schedule.due(T0 + 10.02) == T0 + 10
    assert schedule.due(T0 + 12) is None
    assert schedule.delay(T0 + 12) == pytest.approx(8)


def test_replicas_started_at_different_times_share_timestamps() -> None:
    a, b = Schedule(10, T0 + 1), Schedule(10, T0 + 8.5)
    assert a.due(T0 + 10.4) == b.due(T0 + 10.9) == T0 + 10


def test_after_a_stall_only_the_latest_boundary_is_reported() -> None:
    schedule = Schedule(10, T0)
    assert schedule.due(T0 + 10) == T0 + 10
    assert schedule.due(T0 + 65) == T0 + 60  # 20..50 are skipped, not sent in a burst
    assert schedule.skipped == 4
    assert schedule.due(T0 + 66) is None
    assert schedule.due(T0 + 70) == T0 + 70
    assert schedule.skipped == 4


def test_a_clock_stepped_back_reanchors_instead_of_going_silent() -> None:
    schedule = Schedule(10, T0 + 100)
    assert schedule.due(T0 + 5) is None
    assert schedule.due(T0 + 10) == T0 + 10


def test_closing_timestamp_is_a_boundary_not_reported_yet() -> None:
    schedule = Schedule(10, T0)
    schedule.due(T0 + 10)
    assert schedule.closing(T0 + 14) == T0 + 20  # ends the interval in progress
    assert schedule.closing(T0 + 20.5) == T0 + 20  # the tick due now, not yet reported
    assert schedule.closing(T0 + 47) == T0 + 40  # after a stall: the latest boundary


@given(st.floats(0, 1e9), st.sampled_from([1, 5, 10, 60, 3600]))
def test_due_timestamps_are_ints_on_boundaries(start: float, interval: float) -> None:
    schedule = Schedule(interval, start)
    now = schedule.next_at
    tick = schedule.due(now)
    assert isinstance(tick, int) and tick == int(schedule.boundary(now))


@pytest.mark.parametrize("interval", [0, 0.5, 2.5, -10, float("nan"), float("inf"), "10"])
def test_bad_intervals_are_refused(interval: object) -> None:
    with pytest.raises(ValueError, match="interval must be a whole number of seconds"):
        check_interval(interval)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="interval must be a whole number of seconds"):
        Schedule(interval, T0)  # type: ignore[arg-type]


@pytest.mark.parametrize("interval", [1, 10, 10.0, 3600])
def test_whole_seconds_are_accepted_as_floats(interval: float) -> None:
    assert check_interval(interval) == Schedule(interval, T0).interval == float(interval)
