"""What every reservoir shares: the protocol histograms use, lifetime totals, input checks, clocks."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from graphmetrics.clock import Clock, interval_source
from graphmetrics.snapshots import Snapshot

__all__ = ["Reservoir", "BaseReservoir", "TimedReservoir", "finite"]


@runtime_checkable
class Reservoir(Protocol):
    """What a histogram needs from its reservoir."""

    @property
    def count(self) -> int: ...

    def update(self, value: float) -> None: ...

    def snapshot(self) -> Snapshot: ...

    def clear(self) -> None: ...


def finite(value: float) -> float:
    """``value`` if it is a finite real number; a clear error (and no state change) otherwise."""
    try:
        if math.isfinite(value):
            return value
    except (TypeError, OverflowError):
        raise TypeError(f"histogram values must be numbers, not {type(value).__name__}: {value!r}") from None
    raise ValueError(f"histogram values must be finite, not {value!r}")


class BaseReservoir:
    """A lock and the lifetime count and sum (a sampling reservoir keeps fewer values than it saw)."""

    __slots__ = ("_lock", "_count", "_sum")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._sum = 0.0

    @property
    def count(self) -> int:
        """Values added since creation or ``clear()``."""
        return self._count

    def clear(self) -> None:
        with self._lock:
            self._count = 0
            self._sum = 0.0
            self._reset()

    def _reset(self) -> None:
        raise NotImplementedError


class TimedReservoir(BaseReservoir):
    """A reservoir that reads a clock; without one of its own it takes its histogram's."""

    __slots__ = ("_now", "_own_clock")

    def __init__(self, clock: Clock | None) -> None:
        super().__init__()
        self._now: Callable[[], float] = interval_source(clock)
        self._own_clock = clock is not None

    def bind_clock(self, clock: Clock | None) -> None:
        """Adopt the registry's clock, unless a clock was given explicitly or values were added."""
        with self._lock:
            if not self._own_clock and self._count == 0:
                self._now = interval_source(clock)
                self._reset()
