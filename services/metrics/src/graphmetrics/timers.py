"""Timers: a histogram of durations plus a meter of how often something happens.

``with timer.time():`` is the common use, so stopping a context does the whole recording itself
(one clock read and, with the default sketch on the system clock, one append to the sketch's pending
values) instead of going through timer, histogram and meter methods in turn. The meter part counts
what the reservoir counts, so it costs nothing per measurement. With the C speedups built, such a
timer's ``time`` and its contexts are C objects (``_speedups.Stopwatch``) doing the same steps.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from time import perf_counter
from typing import Any, TypeVar

from graphmetrics._native import speedups
from graphmetrics.clock import Clock
from graphmetrics.histograms import attach_reservoir
from graphmetrics.meters import Metered
from graphmetrics.reservoirs import LogBucketSketch, Reservoir
from graphmetrics.reservoirs.sketch import FOLD_AT, PendingValues
from graphmetrics.snapshots import Snapshot

__all__ = ["Timer", "TimerContext", "UNITS"]

UNITS: dict[str, float] = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}
"""Units a timer can report durations in, as multipliers of seconds."""

F = TypeVar("F", bound=Callable[..., Any])


class TimerContext:
    """One running measurement: a context manager, or call ``stop()`` yourself.

    After it stops, ``elapsed`` is the duration it recorded, in the timer's unit.
    """

    __slots__ = ("_timer", "_start", "elapsed")

    _timer: Timer | None
    _start: float
    elapsed: float | None

    def __enter__(self) -> TimerContext:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        timer = self._timer
        if timer is None:
            raise RuntimeError("this timer context was already stopped")
        self._timer = None
        now = timer._now()
        if now >= timer._next_tick:
            timer._tick(now)
        self.elapsed = elapsed = (now - self._start) * timer._scale
        pending = timer._pending
        if pending is None:
            timer._record(elapsed)
        else:  # the sketch's update, inlined: perf_counter differences need no finiteness check
            pending.append(elapsed)
            if len(pending) >= FOLD_AT:
                timer._reservoir._fold()  # type: ignore[attr-defined]

    def stop(self) -> float:
        """Record the time since the context was created; return it in the timer's unit."""
        self.__exit__(None, None, None)
        return self.elapsed  # type: ignore[return-value]

    def __call__(self, fn: F) -> F:
        """``@timer.time()`` as a decorator: time every call of ``fn``."""
        timer = self._timer
        if timer is None:
            raise RuntimeError("this timer context was already stopped")
        self._timer = None
        return timer._decorate(fn)


_new_context = object.__new__


class Timer(Metered):
    """Durations (reported in ``unit``, milliseconds by default) and the rate of measurements.

    ``time()`` starts a measurement and returns its context; ``with timer.time() as ctx:`` works, and
    so do ``@timer.time`` and ``@timer.time()`` on a function. ``update(seconds)`` records a duration
    measured elsewhere.
    """

    __slots__ = ("unit", "_reservoir", "_record", "_pending", "_scale", "time", "refused")

    time: Callable[..., Any]

    def __init__(self, reservoir: Reservoir | None = None, unit: str = "ms", clock: Clock | None = None) -> None:
        if unit not in UNITS:
            raise ValueError(f"unit must be one of {sorted(UNITS)}, not {unit!r}")
        super().__init__(clock)
        self.unit = unit
        self.refused = 0
        """``update`` calls refused: a negative or NaN duration is no measurement (a stepped clock, a bug)."""
        self._scale = UNITS[unit]
        self._reservoir = attach_reservoir(reservoir, clock)
        self._record = self._reservoir.update
        # With the default sketch and the system clock, contexts append to the sketch's pending values
        # themselves (one frame less per measurement); any other clock's readings go through update().
        sketch = self._reservoir if isinstance(self._reservoir, LogBucketSketch) else None
        self._pending: PendingValues | None = (
            sketch._pending if sketch is not None and self._now is perf_counter else None
        )
        if speedups is not None and isinstance(self._pending, speedups.Pending):
            self.time = speedups.Stopwatch(self, self._pending, perf_counter, self._scale)
        else:
            self.time = self._time

    @property
    def reservoir(self) -> Reservoir:
        return self._reservoir

    def _time(self, *args: Any, **kwargs: Any) -> Any:
        """``time()``: a started :class:`TimerContext`; or, given just a function, that function timed.

        Other arguments are accepted and ignored, as pyformance passes them to a signal.
        """
        if args and len(args) == 1 and callable(args[0]) and not kwargs:
            return self._decorate(args[0])
        context = _new_context(TimerContext)
        context._timer = self
        context.elapsed = None
        context._start = self._now()
        return context

    def _decorate(self, fn: F) -> F:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.time():
                return fn(*args, **kwargs)

        return timed  # type: ignore[return-value]

    def update(self, seconds: float) -> None:
        """Record a duration measured elsewhere, given in seconds. A negative or NaN one is refused:
        ``ValueError``, counted in ``refused``, not recorded (it would drag the percentiles down)."""
        if not seconds >= 0:
            self.refused += 1
            raise ValueError(f"a duration must be a number of seconds >= 0, not {seconds!r}")
        now = self._now()
        if now >= self._next_tick:
            self._tick(now)
        self._record(seconds * self._scale)

    def get_count(self) -> int:
        return self._reservoir.count

    def _count_locked(self) -> int:
        return self._reservoir.count

    def snapshot(self) -> Snapshot:
        return self._reservoir.snapshot()

    def clear(self) -> None:
        super().clear()
        self._reservoir.clear()

    def _fields(self) -> dict[str, int | float]:
        fields = self._reservoir.snapshot().fields()
        fields.update(self._rate_fields())
        return fields
