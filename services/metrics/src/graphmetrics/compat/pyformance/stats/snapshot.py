"""pyformance's ``Snapshot``: its getters over a core snapshot.

``Snapshot(values)`` builds one from values, as pyformance's does, with the same interpolation
(Dropwizard's uniform rule); histograms and timers hand out snapshots of their own reservoir.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from graphmetrics import snapshots

__all__ = ["Snapshot"]


class Snapshot:
    """``get_median()``, ``get_75th_percentile()`` ... ``get_percentile(q)``, ``get_size()``.

    An empty snapshot's percentiles are 0.0.
    """

    __slots__ = ("_snapshot",)

    MEDIAN = 0.5
    P75_Q = 0.75
    P95_Q = 0.95
    P99_Q = 0.99
    P999_Q = 0.999

    def __init__(self, values: Iterable[float]) -> None:
        values = list(values)
        self._snapshot: snapshots.Snapshot = snapshots.UniformSnapshot(values, len(values), math.fsum(values))

    @classmethod
    def of(cls, snapshot: snapshots.Snapshot) -> Snapshot:
        """The pyformance face of a core snapshot (what ``get_snapshot()`` returns)."""
        face = cls.__new__(cls)
        face._snapshot = snapshot
        return face

    def get_size(self) -> int:
        return self._snapshot.size

    def get_median(self) -> float:
        return self._snapshot.value(self.MEDIAN)

    def get_75th_percentile(self) -> float:
        return self._snapshot.value(self.P75_Q)

    def get_95th_percentile(self) -> float:
        return self._snapshot.value(self.P95_Q)

    def get_98th_percentile(self) -> float:
        return self._snapshot.value(0.98)

    def get_99th_percentile(self) -> float:
        return self._snapshot.value(self.P99_Q)

    def get_999th_percentile(self) -> float:
        return self._snapshot.value(self.P999_Q)

    def get_percentile(self, percentile: float) -> float:
        """The value at ``percentile`` (0 to 1; ``ValueError`` outside)."""
        return self._snapshot.value(percentile)
