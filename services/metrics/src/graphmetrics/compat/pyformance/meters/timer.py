"""pyformance's ``Timer(threshold, size, alpha, clock, sink, sample)`` over the core timer.

Durations are in seconds, as pyformance reports them (``unit=`` picks another). ``threshold`` is
kept but nothing fires: pyformance's ``call_too_long`` is a blinker signal, and without blinker
pyformance itself sets it to None, as this module does. A ``sink`` gets every duration in seconds
through its ``add``, as in pyformance.
"""

from __future__ import annotations

from typing import Any, Protocol

from graphmetrics import timers
from graphmetrics.clock import Clock, interval_source
from graphmetrics.compat.pyformance.meters.histogram import DistributionReads
from graphmetrics.compat.pyformance.stats.samples import DEFAULT_ALPHA, DEFAULT_SIZE
from graphmetrics.reservoirs import ExpDecayingReservoir, Reservoir
from graphmetrics.timers import TimerContext

__all__ = ["Timer", "TimerContext", "call_too_long"]

call_too_long = None
"""pyformance's signal for a call over ``threshold``: None, as pyformance has it without blinker."""


class Sink(Protocol):
    def add(self, seconds: float) -> None: ...


class Timer(timers.Timer, DistributionReads):
    """A core timer in seconds with pyformance's constructor; built directly it keeps pyformance's
    decaying sample of ``size`` values, a registry's timers use the core sketch."""

    __slots__ = ("threshold", "sink")

    def __init__(
        self,
        threshold: float | None = None,
        size: int = DEFAULT_SIZE,
        alpha: float = DEFAULT_ALPHA,
        clock: Clock | None = None,
        sink: Sink | None = None,
        sample: Reservoir | None = None,
        *,
        unit: str = "s",
    ) -> None:
        super().__init__(ExpDecayingReservoir(size, alpha) if sample is None else sample, unit, clock)
        self.threshold = threshold
        self.sink = sink
        if sink is not None:  # durations must pass through update(), where the sink sees them
            now = interval_source(clock)
            self.time = lambda *args, **kwargs: _SinkContext(self, now)

    def update(self, seconds: float) -> None:
        super().update(seconds)
        if self.sink is not None:
            self.sink.add(seconds)

    _update = update  # pyformance's name, which its users call


class _SinkContext:
    """A running measurement of a timer with a sink: ``with`` it or ``stop()`` it."""

    __slots__ = ("_timer", "_now", "_start")

    def __init__(self, timer: Timer, now: Any) -> None:
        self._timer, self._now = timer, now
        self._start = now()

    def __enter__(self) -> _SinkContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> float:
        """Record the duration; return it in seconds."""
        seconds: float = self._now() - self._start
        self._timer.update(seconds)
        return seconds
