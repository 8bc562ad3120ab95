"""Gauges: a value that is set, or a callable read when a snapshot is taken.

The registry reads gauges inside ``snapshot()``; a callback that raises or returns something that is
not a number is left out of that snapshot and counted, so one broken gauge never costs the others.
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["Gauge", "SimpleGauge", "CallbackGauge"]


class Gauge:
    """Base class (as in pyformance): subclasses implement ``get_value()``."""

    __slots__ = ()

    def get_value(self) -> float:
        raise NotImplementedError

    def fields(self) -> dict[str, int | float]:
        """What a report holds of it: ``{"value": v}``, ``{}`` for a NaN or infinite value (nothing to
        report); raises for a non-number."""
        value = self.get_value()
        if isinstance(value, int):
            return {"value": int(value)}  # a bool becomes 0 or 1
        if not isinstance(value, float):
            raise TypeError(f"gauge value must be a number, not {type(value).__name__}")
        return {"value": value} if math.isfinite(value) else {}


class SimpleGauge(Gauge):
    """A gauge holding the last value set (NaN, reported as nothing, until the first ``set``)."""

    __slots__ = ("_value",)

    def __init__(self, value: float = math.nan) -> None:
        self._value = value

    def get_value(self) -> float:
        return self._value

    def set_value(self, value: float) -> None:
        self._value = value



class CallbackGauge(Gauge):
    """A gauge whose value is ``callback()``, read at snapshot time (e.g. a queue's length)."""

    __slots__ = ("callback",)

    def __init__(self, callback: Callable[[], float]) -> None:
        if not callable(callback):
            raise TypeError(f"gauge callback must be callable, not {type(callback).__name__}")
        self.callback = callback

    def get_value(self) -> float:
        return self.callback()
