"""pyformance's ``ExpWeightedMovingAvg``: an exponentially weighted moving average of a rate.

Events are ``add``-ed; each ``tick()`` turns the events since the previous tick into a rate per
second and blends it in with ``alpha = 1 - exp(-elapsed / period)``, so a late tick weighs what it
covers. ``get_rate()`` ticks itself once ``interval`` seconds have passed. (Meters do not use this
class: they keep Dropwizard's three averages in one object.)
"""

from __future__ import annotations

import math
import threading

from graphmetrics.clock import Clock, interval_source

__all__ = ["ExpWeightedMovingAvg"]


class ExpWeightedMovingAvg:
    """A rate per second averaged over ``period`` minutes, ticked every ``interval`` seconds."""

    INTERVAL = 5.0
    SECONDS_PER_MINUTE = 60.0

    def __init__(self, period: float, interval: float = INTERVAL, clock: Clock | None = None) -> None:
        if not period > 0:
            raise ValueError(f"period must be positive minutes, not {period!r}")
        if not interval > 0:
            raise ValueError(f"interval must be positive seconds, not {interval!r}")
        self.clock = clock
        self.interval = interval
        self.period = period * self.SECONDS_PER_MINUTE
        self._now = interval_source(clock)
        self._lock = threading.Lock()
        self._uncounted = 0.0
        self._rate: float | None = None  # None until the first tick, which sets it outright
        self._last_tick = self._now()

    def add(self, value: float) -> None:
        with self._lock:
            self._uncounted += value

    def tick(self) -> None:
        """Blend the events since the last tick into the rate (nothing if no time has passed)."""
        with self._lock:
            now = self._now()
            elapsed = now - self._last_tick
            if elapsed <= 0:
                return
            instant = self._uncounted / elapsed
            self._uncounted = 0.0
            if self._rate is None:
                self._rate = instant
            else:
                self._rate += (1.0 - math.exp(-elapsed / self.period)) * (instant - self._rate)
            self._last_tick = now

    def get_rate(self) -> float:
        """Events per second; 0.0 before the first tick."""
        if self._now() - self._last_tick >= self.interval:
            self.tick()
        rate = self._rate
        return 0.0 if rate is None else rate
