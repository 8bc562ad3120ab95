"""Clocks: anything with a ``time()`` method returning seconds as a float.

Every time-based behaviour in graphmetrics (meter ticks, decaying reservoirs, time windows) reads
time through one of these, so tests can drive it deterministically with :class:`ManualClock`.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock", "ManualClock", "SYSTEM_CLOCK", "interval_source"]


@runtime_checkable
class Clock(Protocol):
    """The structural type of a clock (pyformance's ``clock`` argument has the same shape)."""

    def time(self) -> float: ...


class SystemClock:
    """Wall-clock time, ``time.time()``."""

    __slots__ = ()

    def time(self) -> float:
        return _time.time()


class ManualClock:
    """A clock that only moves when told to: the deterministic clock for tests."""

    __slots__ = ("_now",)

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a clock cannot go backwards (advance({seconds!r}))")
        self._now += seconds


SYSTEM_CLOCK = SystemClock()


def interval_source(clock: Clock | None) -> Callable[[], float]:
    """The function metrics call to measure elapsed time with ``clock``.

    Only differences of its readings matter, so for the system clock (``None``, a
    :class:`SystemClock`, or the ``time`` module as pyformance passes it) this is the monotonic
    ``time.perf_counter``, which a wall-clock step cannot make run backwards. Any other clock is read
    through its own ``time()``, so a :class:`ManualClock` drives everything in tests.
    """
    if clock is None or clock is _time or type(clock) is SystemClock:
        return _time.perf_counter
    return clock.time
