"""pyformance's ``Histogram(size, alpha, clock, sample)`` and its ``get_*`` readers over the core histogram.

Built directly, it keeps pyformance's sample (a forward-decaying reservoir of ``size`` values, here
with Dropwizard's weighted quantiles); a registry's histograms use the core default, the log-bucket
sketch. Reads come from the reservoir's snapshot, so min, max, mean and stddev describe what it keeps.
"""

from __future__ import annotations

from typing import Protocol

from graphmetrics import histograms, snapshots
from graphmetrics.clock import Clock
from graphmetrics.compat.pyformance.stats.samples import DEFAULT_ALPHA, DEFAULT_SIZE
from graphmetrics.compat.pyformance.stats.snapshot import Snapshot
from graphmetrics.reservoirs import ExpDecayingReservoir, Reservoir

__all__ = ["Histogram", "DistributionReads"]


class _Distribution(Protocol):
    def snapshot(self) -> snapshots.Snapshot: ...


class DistributionReads:
    """pyformance's readers of a distribution, for histograms and timers (one snapshot per call)."""

    __slots__ = ()

    def get_snapshot(self: _Distribution) -> Snapshot:
        return Snapshot.of(self.snapshot())

    def get_sum(self: _Distribution) -> float:
        return self.snapshot().sum

    def get_min(self: _Distribution) -> float:
        return self.snapshot().min

    def get_max(self: _Distribution) -> float:
        return self.snapshot().max

    def get_mean(self: _Distribution) -> float:
        return self.snapshot().mean

    def get_stddev(self: _Distribution) -> float:
        return self.snapshot().stddev

    def get_var(self: _Distribution) -> float:
        return self.snapshot().stddev ** 2


class Histogram(histograms.Histogram, DistributionReads):
    """``add(value)`` records; ``sample`` is any graphmetrics reservoir (it replaces ``size``/``alpha``)."""

    __slots__ = ("add",)

    def __init__(
        self,
        size: int = DEFAULT_SIZE,
        alpha: float = DEFAULT_ALPHA,
        clock: Clock | None = None,
        sample: Reservoir | None = None,
    ) -> None:
        super().__init__(ExpDecayingReservoir(size, alpha) if sample is None else sample, clock)
        self.add = self.update
