"""Dropwizard's sliding time window reservoir: every value of the last ``window`` seconds."""

from __future__ import annotations

from collections import deque

from graphmetrics.clock import Clock
from graphmetrics.reservoirs.base import TimedReservoir, finite
from graphmetrics.snapshots import Snapshot, UniformSnapshot

__all__ = ["SlidingTimeWindowReservoir"]


class SlidingTimeWindowReservoir(TimedReservoir):
    """Every value of the last ``window`` seconds (Dropwizard's sliding time window reservoir):
    a value recorded at ``t`` is in snapshots taken before ``t + window``, not at it.

    Percentiles are exact but memory grows with the update rate: 1,000 updates/s over a 60 s window
    keep 60,000 values.
    """

    __slots__ = ("window", "_times", "_values")

    def __init__(self, window: float = 60.0, clock: Clock | None = None) -> None:
        if not window > 0.0:
            raise ValueError(f"window must be positive, not {window!r}")
        self.window = window
        super().__init__(clock)
        self._reset()

    def _reset(self) -> None:
        self._times: deque[float] = deque()
        self._values: deque[float] = deque()

    def _trim(self, now: float) -> None:
        # Dropwizard's rule: a value exactly ``window`` old has left the window.
        expired = now - self.window
        times, values = self._times, self._values
        while times and times[0] <= expired:
            times.popleft()
            values.popleft()

    def update(self, value: float) -> None:
        finite(value)
        with self._lock:
            now = self._now()
            self._times.append(now)
            self._values.append(value)
            self._count += 1
            self._sum += value
            self._trim(now)

    def snapshot(self) -> Snapshot:
        with self._lock:
            self._trim(self._now())
            values = list(self._values)
            count, total = self._count, self._sum
        return UniformSnapshot(values, count, total)
