"""Dropwizard's exponentially decaying reservoir: a sample biased to the last few minutes."""

from __future__ import annotations

import math
import random
from heapq import heapify, heappush, heapreplace

from graphmetrics.clock import Clock
from graphmetrics.reservoirs.base import TimedReservoir, finite
from graphmetrics.snapshots import Snapshot, WeightedSnapshot

__all__ = ["ExpDecayingReservoir"]


class ExpDecayingReservoir(TimedReservoir):
    """Dropwizard's exponentially decaying reservoir (Cormode et al.'s forward decay).

    A value added at time t gets weight ``exp(alpha * (t - start))`` and a random priority
    ``weight / u``; the ``size`` highest priorities are kept. Quantiles, mean and stddev are
    *weighted*, as in Dropwizard: with the defaults a value from five minutes ago counts about
    ``exp(-4.5)`` as much as a new one. Weights are rescaled every hour so they never overflow;
    samples whose weight underflows to zero are dropped.
    """

    __slots__ = ("size", "alpha", "_heap", "_start", "_next_rescale")

    RESCALE_THRESHOLD = 3600.0

    def __init__(self, size: int = 1028, alpha: float = 0.015, clock: Clock | None = None) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, not {size!r}")
        if not alpha > 0.0:
            raise ValueError(f"alpha must be positive, not {alpha!r}")
        self.size = size
        self.alpha = alpha
        super().__init__(clock)
        self._reset()

    def _reset(self) -> None:
        self._heap: list[tuple[float, float, float]] = []  # (priority, value, weight), a min-heap
        self._start = self._now()
        self._next_rescale = self._start + self.RESCALE_THRESHOLD

    def update(self, value: float) -> None:
        finite(value)
        with self._lock:
            now = self._now()
            if now >= self._next_rescale:
                self._rescale(now)
            weight = math.exp(self.alpha * (now - self._start))
            priority = weight / (1.0 - random.random())  # 1 - random() is in (0, 1]
            self._count += 1
            self._sum += value
            heap = self._heap
            if len(heap) < self.size:
                heappush(heap, (priority, value, weight))
            elif priority > heap[0][0]:
                heapreplace(heap, (priority, value, weight))

    def _rescale(self, now: float) -> None:
        factor = math.exp(-self.alpha * (now - self._start))
        self._start = now
        self._next_rescale = now + self.RESCALE_THRESHOLD
        heap = [(p * factor, v, w * factor) for p, v, w in self._heap if w * factor > 0.0]
        heapify(heap)
        self._heap = heap

    def snapshot(self) -> Snapshot:
        with self._lock:
            now = self._now()
            if now >= self._next_rescale:
                self._rescale(now)
            samples = [(value, weight) for _, value, weight in self._heap]
            count, total = self._count, self._sum
        return WeightedSnapshot(samples, count, total)
