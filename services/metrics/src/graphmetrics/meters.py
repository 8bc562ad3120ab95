"""Meters: a count and its rates, with Dropwizard's exponentially weighted moving averages.

The 1, 5 and 15 minute rates are EWMAs updated by 5-second ticks. Nothing runs in the background:
ticks are applied lazily, by the first ``mark()`` or read that finds one due, catching up on every
missed tick at once (closed form, so a meter idle for a week costs no more than one idle for 10 s).
Until then ``mark()`` costs one clock read, one comparison and one lock-free count increment.
"""

from __future__ import annotations

import math

from graphmetrics.clock import Clock, interval_source
from graphmetrics.counters import AtomicCount

__all__ = ["Meter", "TICK_INTERVAL"]

TICK_INTERVAL = 5.0
"""Seconds between EWMA updates (Dropwizard's value)."""

_ALPHAS = tuple(1.0 - math.exp(-TICK_INTERVAL / (60.0 * minutes)) for minutes in (1, 5, 15))


class Metered(AtomicCount):
    """Count plus mean and moving-average rates per second; the base of :class:`Meter` and timers."""

    __slots__ = ("_now", "_start", "_next_tick", "_ticked_count", "_initialized", "_m1", "_m5", "_m15")

    def __init__(self, clock: Clock | None = None) -> None:
        super().__init__()
        self._now = interval_source(clock)
        self._reset_rates()

    def _reset_rates(self) -> None:
        self._start = self._now()
        self._next_tick = self._start + TICK_INTERVAL
        self._ticked_count = 0  # the count at the last tick: what the next tick has not yet seen
        self._initialized = False  # Dropwizard: the first tick sets the rates, later ones blend in
        self._m1 = self._m5 = self._m15 = 0.0

    def _tick(self, now: float) -> None:
        """Apply every tick due at ``now``: the first with the events since the last tick, the rest empty."""
        with self._lock:
            if now < self._next_tick:
                return  # another thread got here first
            ticks = int((now - self._next_tick) // TICK_INTERVAL) + 1
            self._next_tick += ticks * TICK_INTERVAL
            total = self._count_locked()
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

    def tick(self) -> None:
        """Apply any tick that is due (reads do this themselves)."""
        now = self._now()
        if now >= self._next_tick:
            self._tick(now)

    def get_one_minute_rate(self) -> float:
        self.tick()
        return self._m1

    def get_five_minute_rate(self) -> float:
        self.tick()
        return self._m5

    def get_fifteen_minute_rate(self) -> float:
        self.tick()
        return self._m15

    def get_mean_rate(self) -> float:
        """Events per second since creation (or ``clear()``)."""
        return self._rate_fields()["mean_rate"]

    def _rate_fields(self) -> dict[str, int | float]:
        now = self._now()
        if now >= self._next_tick:
            self._tick(now)
        total = self.get_count()
        elapsed = now - self._start
        return {
            "count": total,
            "mean_rate": total / elapsed if total and elapsed > 0.0 else 0.0,
            "1m_rate": self._m1,
            "5m_rate": self._m5,
            "15m_rate": self._m15,
        }

    def clear(self) -> None:
        with self._lock:
            self._reset_count()
            self._reset_rates()


class Meter(Metered):
    """Marks events; reports their count, mean rate and 1/5/15-minute rates (events per second)."""

    __slots__ = ()

    def mark(self, n: int = 1) -> None:
        now = self._now()
        if now >= self._next_tick:
            self._tick(now)  # before counting: these events belong to the interval that starts now
        if n == 1:
            next(self._ticks)
        else:
            self._add(n)

    def fields(self) -> dict[str, int | float]:
        """What a report holds of it: count, mean rate and the 1/5/15-minute rates."""
        return self._rate_fields()
