"""pyformance's samples are graphmetrics reservoirs under pyformance's names and constructors."""

from __future__ import annotations

from graphmetrics.clock import Clock
from graphmetrics.compat.pyformance.stats.snapshot import Snapshot
from graphmetrics.reservoirs import ExpDecayingReservoir, SlidingTimeWindowReservoir

__all__ = ["ExpDecayingSample", "SlidingTimeWindowSample", "DEFAULT_SIZE", "DEFAULT_ALPHA"]

DEFAULT_SIZE = 1028
DEFAULT_ALPHA = 0.015


class ExpDecayingSample(ExpDecayingReservoir):
    """Forward-decaying sample (Dropwizard's weighted quantiles, where pyformance's are unweighted)."""

    __slots__ = ()

    def __init__(self, size: int = DEFAULT_SIZE, alpha: float = DEFAULT_ALPHA, clock: Clock | None = None) -> None:
        super().__init__(size, alpha, clock)

    def get_size(self) -> int:
        return self.snapshot().size

    def get_snapshot(self) -> Snapshot:
        return Snapshot.of(self.snapshot())


class SlidingTimeWindowSample(SlidingTimeWindowReservoir):
    """Every value of the last ``window`` seconds (pyformance's default: 300)."""

    __slots__ = ()

    DEFAULT_WINDOW = 300

    def __init__(self, window: float = DEFAULT_WINDOW, clock: Clock | None = None) -> None:
        super().__init__(window, clock)

    def get_snapshot(self) -> Snapshot:
        return Snapshot.of(self.snapshot())
