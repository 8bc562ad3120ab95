"""When to report: ticks on interval boundaries of the epoch, never a burst of missed ones.

Boundaries of the epoch (not of the start time) give every replica the same timestamps, so their
points land in the same Whisper slot and ``sumSeries`` adds like with like. After a stall (a long
GC, a suspended VM or laptop, a clock step) only the latest boundary is reported: the values are
cumulative, so the missed ticks would only repeat them, and a burst would hit carbon when it is the
least welcome.
"""

from __future__ import annotations

import math

__all__ = ["Schedule", "check_interval"]


def check_interval(interval: float) -> float:
    """``interval`` as a float if it is a whole number of seconds >= 1, else ``ValueError``.

    Whole seconds because timestamps are whole seconds on the boundaries (as Whisper steps are): a
    fractional interval would put two reports in one slot or skip one.
    """
    valid = isinstance(interval, (int, float)) and math.isfinite(interval) and interval >= 1
    if not (valid and float(interval).is_integer()):
        raise ValueError(f"interval must be a whole number of seconds >= 1 (like Whisper steps), not {interval!r}")
    return float(interval)


class Schedule:
    """Aligned ticks of ``interval`` seconds, driven by whatever clock the runner reads."""

    def __init__(self, interval: float, now: float) -> None:
        self.interval = check_interval(interval)
        self._last = self.boundary(now)
        self.skipped = 0
        """Ticks not reported because the clock jumped past them."""

    def boundary(self, now: float) -> float:
        """The latest interval boundary at or before ``now``."""
        return math.floor(now / self.interval) * self.interval

    @property
    def next_at(self) -> float:
        return self._last + self.interval

    def delay(self, now: float) -> float:
        """Seconds from ``now`` until the next tick is due (0 if it is due already)."""
        return max(0.0, self.next_at - now)

    def due(self, now: float) -> int | None:
        """The timestamp to report now, or None if no tick is due. Missed ticks are skipped."""
        if now < self._last:  # the clock was stepped back: re-anchor rather than stay silent
            self._last = self.boundary(now)
            return None
        if now < self.next_at:
            return None
        tick = self.boundary(now)
        self.skipped += max(0, round((tick - self._last) / self.interval) - 1)
        self._last = tick
        return int(tick)

    def closing(self, now: float) -> int:
        """Timestamp of a final report at ``now``: a boundary not reported yet.

        That is the tick due now if one is, else the boundary ending the interval in progress; never
        the last reported one, whose slot already holds a point (an aggregator would add both).
        """
        tick = self.boundary(now)
        return int(tick if tick > self._last else self._last + self.interval)
