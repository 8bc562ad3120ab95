"""pyformance's ``Meter``: ``mark(value=1)`` over the core meter."""

from __future__ import annotations

from graphmetrics import meters

__all__ = ["Meter"]


class Meter(meters.Meter):
    """The core meter (Dropwizard's 5-second EWMA ticks) under pyformance's keyword: ``mark(value=3)``."""

    __slots__ = ()

    def mark(self, value: int = 1) -> None:
        super().mark(value)
