"""Histograms: the distribution of a value (sizes, latencies), kept by a choosable reservoir."""

from __future__ import annotations

from collections.abc import Callable

from graphmetrics.clock import Clock
from graphmetrics.reservoirs import LogBucketSketch, Reservoir
from graphmetrics.snapshots import Snapshot

__all__ = ["Histogram", "DistributionAccessors"]


def attach_reservoir(reservoir: Reservoir | None, clock: Clock | None) -> Reservoir:
    """The reservoir a new histogram or timer uses: the default sketch, or ``reservoir`` on ``clock``."""
    if reservoir is None:
        return LogBucketSketch()
    if not isinstance(reservoir, Reservoir):
        raise TypeError(f"not a reservoir (needs update, snapshot, clear, count): {reservoir!r}")
    bind = getattr(reservoir, "_bind_clock", None)
    if bind is not None:
        bind(clock)
    return reservoir


def reservoir_buckets(reservoir: Reservoir) -> list[tuple[float, int]] | None:
    """What a histogram or timer exports as buckets: only a sketch's buckets merge exactly."""
    return reservoir.buckets() if isinstance(reservoir, LogBucketSketch) else None


class DistributionAccessors:
    """pyformance's getters for anything with a ``snapshot()`` (histograms and timers)."""

    __slots__ = ()

    def snapshot(self) -> Snapshot:
        raise NotImplementedError

    def get_snapshot(self) -> Snapshot:
        return self.snapshot()

    def get_sum(self) -> float:
        return self.snapshot().sum

    def get_min(self) -> float:
        return self.snapshot().min

    def get_max(self) -> float:
        return self.snapshot().max

    def get_mean(self) -> float:
        return self.snapshot().mean

    def get_stddev(self) -> float:
        return self.snapshot().stddev

    def get_var(self) -> float:
        return self.snapshot().stddev ** 2


class Histogram(DistributionAccessors):
    """``add(v)`` (alias ``update``) and a :class:`~graphmetrics.snapshots.Snapshot` of the distribution.

    ``add`` *is* the reservoir's ``update`` (bound once here), so recording costs a single call.
    ``count`` and ``sum`` cover every value added; min, max, mean, stddev and percentiles describe
    what the reservoir keeps (everything, for the default sketch).
    """

    __slots__ = ("_reservoir", "add", "update")

    add: Callable[[float], None]
    update: Callable[[float], None]

    def __init__(self, reservoir: Reservoir | None = None, clock: Clock | None = None) -> None:
        self._reservoir = attach_reservoir(reservoir, clock)
        self.add = self.update = self._reservoir.update

    @property
    def reservoir(self) -> Reservoir:
        return self._reservoir

    def snapshot(self) -> Snapshot:
        return self._reservoir.snapshot()

    def get_count(self) -> int:
        return self._reservoir.count

    def clear(self) -> None:
        self._reservoir.clear()

    def fields(self) -> dict[str, int | float]:
        """What a report holds of it: the snapshot's fields (count, sum, min, max, mean, percentiles...)."""
        return self._reservoir.snapshot().fields()

    def buckets(self) -> list[tuple[float, int]] | None:
        """The reservoir's mergeable buckets (:meth:`LogBucketSketch.buckets`); None for other reservoirs."""
        return reservoir_buckets(self._reservoir)
