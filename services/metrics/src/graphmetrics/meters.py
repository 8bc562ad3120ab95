"""Meters: a count and its rates, with Dropwizard's exponentially weighted moving averages.

The 1, 5 and 15 minute rates are EWMAs updated by 5-second ticks. Nothing runs in the background:
ticks are applied lazily, by the first ``mark()`` or read that finds one due, catching up on every
missed tick at once (closed form, so a meter idle for a week costs no more than one idle for 10 s).
Until then ``mark()`` costs one clock read, one comparison and one lock-free count increment.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Protocol

from graphmetrics.clock import Clock, interval_source
from graphmetrics.counters import AtomicCount

__all__ = ["Meter", "Rates", "RateAccessors", "Counted", "TICK_INTERVAL"]

TICK_INTERVAL = 5.0
"""Seconds between EWMA updates (Dropwizard's value)."""

_ALPHAS = tuple(1.0 - math.exp(-TICK_INTERVAL / (60.0 * minutes)) for minutes in (1, 5, 15))


class Counted(Protocol):
    """What rates are kept of: a meter's own count, a timer's reservoir's."""

    def get_count(self) -> int: ...


class Rates:
    """The rates of a count: mean rate and 1/5/15-minute EWMAs, ticked lazily every ``TICK_INTERVAL``.

    Shared by :class:`Meter` (its own count) and :class:`~graphmetrics.timers.Timer` (its reservoir's
    count), as Dropwizard composes a Timer from a Meter and a Histogram. The tick logic is all in
    :meth:`tick`; a recording hot path compares its clock reading with :attr:`next_tick` itself and
    calls ``tick(now)`` only when one is due (Meter.mark, Timer.update, a timer context's stop and
    its C twin: listed in docs/library.md).
    """

    __slots__ = ("next_tick", "_now", "_counted", "_lock", "_start", "_ticked_count", "_initialized", "_m1", "_m5", "_m15")

    next_tick: float
    """When the next tick is due, on the clock's scale."""

    def __init__(self, now: Callable[[], float], counted: Counted) -> None:
        """``counted.get_count()`` is the count whose rates these are: the owner itself, so a meter or
        timer allocates no bound method or closure for it (they are many in a big registry)."""
        self._now = now
        self._counted = counted
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._start = self._now()
        self.next_tick = self._start + TICK_INTERVAL
        self._ticked_count = 0  # the count at the last tick: what the next tick has not yet seen
        self._initialized = False  # Dropwizard: the first tick sets the rates, later ones blend in
        self._m1 = self._m5 = self._m15 = 0.0

    def reset(self, reset_count: Callable[[], None]) -> None:
        """Reset the count (with ``reset_count``) and the rates together: no tick sees one without the other."""
        with self._lock:
            reset_count()
            self._reset()

    def tick(self, now: float | None = None) -> None:
        """Apply every tick due at ``now`` (default: the clock's reading): the first with the events
        since the last tick, the rest empty (closed form, so a week idle costs no more than 10 s)."""
        if now is None:
            now = self._now()
        if now < self.next_tick:
            return
        with self._lock:
            if now < self.next_tick:
                return  # another thread got here first
            ticks = int((now - self.next_tick) // TICK_INTERVAL) + 1
            self.next_tick += ticks * TICK_INTERVAL
            total = self._counted.get_count()
            instant = (total - self._ticked_count) / TICK_INTERVAL
            self._ticked_count = total
            a1, a5, a15 = _ALPHAS
            if self._initialized:
                m1 = self._m1 + a1 * (instant - self._m1)
                m5 = self._m5 + a5 * (instant - self._m5)
                m15 = self._m15 + a15 * (instant - self._m15)
            else:
                m1 = m5 = m15 = instant
                self._initialized = True
            idle = ticks - 1  # each empty tick multiplies a rate by (1 - alpha)
            self._m1 = m1 * (1.0 - a1) ** idle
            self._m5 = m5 * (1.0 - a5) ** idle
            self._m15 = m15 * (1.0 - a15) ** idle

    def one_minute(self) -> float:
        self.tick()
        return self._m1

    def five_minutes(self) -> float:
        self.tick()
        return self._m5

    def fifteen_minutes(self) -> float:
        self.tick()
        return self._m15

    def fields(self) -> dict[str, int | float]:
        """``count``, ``mean_rate`` (events per second since creation or reset) and the EWMAs, ticked first."""
        now = self._now()
        if now >= self.next_tick:  # the guard inlined: a report reads every meter and timer
            self.tick(now)
        total = self._counted.get_count()
        elapsed = now - self._start
        return {
            "count": total,
            "mean_rate": total / elapsed if total and elapsed > 0.0 else 0.0,
            "1m_rate": self._m1,
            "5m_rate": self._m5,
            "15m_rate": self._m15,
        }


class RateAccessors:
    """pyformance's rate getters for anything with a :class:`Rates` as ``rates`` (meters and timers)."""

    __slots__ = ()

    rates: Rates

    def tick(self) -> None:
        """Apply any tick that is due (reads do this themselves)."""
        self.rates.tick()

    def get_one_minute_rate(self) -> float:
        return self.rates.one_minute()

    def get_five_minute_rate(self) -> float:
        return self.rates.five_minutes()

    def get_fifteen_minute_rate(self) -> float:
        return self.rates.fifteen_minutes()

    def get_mean_rate(self) -> float:
        """Events per second since creation (or ``clear()``)."""
        return self.rates.fields()["mean_rate"]


class Meter(AtomicCount, RateAccessors):
    """Marks events; reports their count, mean rate and 1/5/15-minute rates (events per second)."""

    __slots__ = ("rates", "_now")

    def __init__(self, clock: Clock | None = None) -> None:
        super().__init__()
        self._now = interval_source(clock)
        self.rates = Rates(self._now, self)

    def mark(self, n: int = 1) -> None:
        now = self._now()
        if now >= self.rates.next_tick:
            self.rates.tick(now)  # before counting: these events belong to the interval that starts now
        if n == 1:
            next(self._ticks)
        else:
            self._add(n)

    def clear(self) -> None:
        self.rates.reset(self._clear_count)

    def _clear_count(self) -> None:
        with self._lock:
            self._reset_count()

    def fields(self) -> dict[str, int | float]:
        """What a report holds of it: count, mean rate and the 1/5/15-minute rates."""
        return self.rates.fields()
