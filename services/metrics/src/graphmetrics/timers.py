"""Timers: a histogram of durations plus a meter of how often something happens, composed of a
reservoir and the :class:`~graphmetrics.meters.Rates` of its count (as Dropwizard's Timer is of a
Histogram and a Meter).

``with timer.time():`` is the common use, so stopping a context does the whole recording itself
(one clock read and, with the default sketch on the system clock, one append to the sketch's pending
values) instead of going through timer, histogram and meter methods in turn. The rates count what
the reservoir counts, so they cost nothing per measurement. With the C speedups built, such a
timer's ``time`` and its contexts are C objects (``_speedups.Stopwatch``) doing the same steps.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from time import perf_counter
from typing import Any, TypeVar

from graphmetrics._native import speedups
from graphmetrics.clock import Clock, interval_source
from graphmetrics.histograms import attach_reservoir, reservoir_buckets
from graphmetrics.meters import RateAccessors, Rates
from graphmetrics.reservoirs import LogBucketSketch, Reservoir
from graphmetrics.reservoirs.pending import FOLD_AT, PendingValues
from graphmetrics.snapshots import Snapshot

__all__ = ["Timer", "TimerContext", "Stopwatch", "UNITS"]

UNITS: dict[str, float] = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}
"""Units a timer can report durations in, as multipliers of seconds."""

F = TypeVar("F", bound=Callable[..., Any])


class Stopwatch:
    """What a timer's ``time()`` is: it starts contexts, and holds what they need to record a duration.

    Everything a stopping context uses is here, read as public attributes, so recording stays one
    clock read, one comparison and one append (see the module docstring). ``_speedups.Stopwatch`` is its
    C twin, built from the same parts.
    """

    __slots__ = ("clock", "rates", "scale", "pending", "fold", "record", "decorate")

    def __init__(
        self,
        clock: Callable[[], float],
        rates: Rates,
        scale: float,
        record: Callable[[float], None],
        decorate: Callable[[Any], Any],
        sketch: LogBucketSketch | None = None,
    ) -> None:
        self.clock = clock
        self.rates = rates
        self.scale = scale
        self.record = record
        """Records a duration in the timer's unit (the reservoir's ``update``)."""
        self.decorate = decorate
        self.pending: PendingValues | None = sketch.pending if sketch is not None else None
        """The sketch's pending values, appended to directly (the sketch's ``update`` inlined), or None."""
        self.fold: Callable[[], None] | None = sketch.fold if sketch is not None else None

    def time(self, *args: Any, **kwargs: Any) -> Any:
        """``time()``: a started :class:`TimerContext`; or, given just a function, that function timed.

        Other arguments are accepted and ignored, as pyformance passes them to a signal.
        """
        if args and len(args) == 1 and callable(args[0]) and not kwargs:
            return self.decorate(args[0])
        context = _new_context(TimerContext)
        context._watch = self
        context.elapsed = None
        context._start = self.clock()
        return context


class TimerContext:
    """One running measurement: a context manager, or call ``stop()`` yourself.

    After it stops, ``elapsed`` is the duration it recorded, in the timer's unit.
    """

    __slots__ = ("_watch", "_start", "elapsed")

    _watch: Stopwatch | None
    _start: float
    elapsed: float | None

    def __enter__(self) -> TimerContext:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        watch = self._watch
        if watch is None:
            raise RuntimeError("this timer context was already stopped")
        self._watch = None
        now = watch.clock()
        if now >= watch.rates.next_tick:
            watch.rates.tick(now)
        self.elapsed = elapsed = (now - self._start) * watch.scale
        pending = watch.pending
        if pending is None:
            watch.record(elapsed)
        else:  # the sketch's update, inlined: perf_counter differences need no finiteness check
            pending.append(elapsed)
            if len(pending) >= FOLD_AT:
                watch.fold()  # type: ignore[misc]

    def stop(self) -> float:
        """Record the time since the context was created; return it in the timer's unit."""
        self.__exit__(None, None, None)
        return self.elapsed  # type: ignore[return-value]

    def __call__(self, fn: F) -> F:
        """``@timer.time()`` as a decorator: time every call of ``fn``."""
        watch = self._watch
        if watch is None:
            raise RuntimeError("this timer context was already stopped")
        self._watch = None
        return watch.decorate(fn)  # type: ignore[no-any-return]


_new_context = object.__new__


class Timer(RateAccessors):
    """Durations (reported in ``unit``, milliseconds by default) and the rate of measurements.

    ``time()`` starts a measurement and returns its context; ``with timer.time() as ctx:`` works, and
    so do ``@timer.time`` and ``@timer.time()`` on a function. ``update(seconds)`` records a duration
    measured elsewhere. Composed like Dropwizard's: a reservoir (as a histogram's) and the
    :class:`~graphmetrics.meters.Rates` of its count (as a meter's), as ``rates``.
    """

    __slots__ = ("unit", "rates", "refused", "_reservoir", "_record", "_now", "_scale", "time")

    time: Callable[..., Any]

    def __init__(self, reservoir: Reservoir | None = None, unit: str = "ms", clock: Clock | None = None) -> None:
        if unit not in UNITS:
            raise ValueError(f"unit must be one of {sorted(UNITS)}, not {unit!r}")
        self.unit = unit
        self.refused = 0
        """``update`` calls refused: a negative or NaN duration is no measurement (a stepped clock, a bug)."""
        self._scale = UNITS[unit]
        self._now = interval_source(clock)
        self._reservoir = reservoir = attach_reservoir(reservoir, clock)
        self._record = reservoir.update
        self.rates = Rates(self._now, self)  # get_count(): the reservoir's count
        # With the default sketch and the system clock, contexts append to the sketch's pending values
        # themselves (one frame less per measurement); any other clock's readings go through update().
        sketch = reservoir if isinstance(reservoir, LogBucketSketch) and self._now is perf_counter else None
        if speedups is not None and sketch is not None and isinstance(sketch.pending, speedups.Pending):
            self.time = speedups.Stopwatch(self.rates, sketch.pending, perf_counter, self._scale, self._decorate)
        else:
            self.time = Stopwatch(self._now, self.rates, self._scale, self._record, self._decorate, sketch).time

    @property
    def reservoir(self) -> Reservoir:
        return self._reservoir

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
        if now >= self.rates.next_tick:
            self.rates.tick(now)
        self._record(seconds * self._scale)

    def get_count(self) -> int:
        return self._reservoir.count


    def snapshot(self) -> Snapshot:
        return self._reservoir.snapshot()

    def clear(self) -> None:
        self.rates.reset(self._reservoir.clear)

    def buckets(self) -> list[tuple[float, int]] | None:
        """The durations' mergeable buckets, as :meth:`Histogram.buckets`."""
        return reservoir_buckets(self._reservoir)

    def fields(self) -> dict[str, int | float]:
        """What a report holds of it: the durations' snapshot fields and the measurements' rates."""
        fields = self._reservoir.snapshot().fields()
        fields.update(self.rates.fields())
        return fields
