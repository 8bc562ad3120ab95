"""pyformance's ``Counter``: ``inc(val=1)`` and ``dec(val=1)`` over the core counter."""

from __future__ import annotations

from graphmetrics import counters

__all__ = ["Counter"]


class Counter(counters.Counter):
    """The core counter under pyformance's keyword: ``inc(val=2)``. Amounts are ints, as in the core."""

    __slots__ = ()

    def inc(self, val: int = 1) -> None:
        super().inc(val)

    def dec(self, val: int = 1) -> None:
        super().dec(val)
