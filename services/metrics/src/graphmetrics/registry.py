"""The registry: metrics by name (and tags), created on first use, read out in one snapshot.

Looking a metric up by a plain name is one dict lookup and a type check, so
``registry.counter("hits").inc()`` on every request is fine. A name always means one metric: asking
for it as another type is a ``TypeError`` (pyformance keeps one dict per type, so a counter and a
meter of the same name silently collide in its reports).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import TypeVar

from graphmetrics.clock import Clock
from graphmetrics.counters import Counter
from graphmetrics.gauges import CallbackGauge, Gauge, SimpleGauge
from graphmetrics.histograms import Histogram
from graphmetrics.meters import Meter
from graphmetrics.names import metric_key
from graphmetrics.reservoirs import Reservoir
from graphmetrics.timers import Timer

__all__ = ["MetricsRegistry", "Metric", "global_registry", "set_global_registry"]

log = logging.getLogger(__name__)

Metric = Counter | Gauge | Meter | Histogram | Timer
M = TypeVar("M", Counter, Gauge, Meter, Histogram, Timer)

_KIND = {Counter: "counter", Gauge: "gauge", Meter: "meter", Histogram: "histogram", Timer: "timer"}


def _kind(metric: object) -> str:
    for cls, kind in _KIND.items():
        if isinstance(metric, cls):
            return kind
    return type(metric).__name__


class MetricsRegistry:
    """Every metric of a process (or of one component), keyed by :func:`~graphmetrics.names.metric_key`.

    ``clock`` is anything with a ``time()`` method; every meter, timer and time-based reservoir the
    registry creates reads it, so a :class:`~graphmetrics.clock.ManualClock` drives them all in tests.
    All methods are safe to call from many threads.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._untagged: dict[str, Metric] = {}  # plain names: looked up directly by the name given
        self._tagged: dict[str, Metric] = {}
        self._aliases: dict[str, Metric] = {}  # raw names that sanitise to a different key
        self._origins: dict[str, str] = {}  # key -> the raw name that created it, where sanitising changed it
        self._generation = 0
        self.gauge_errors = 0
        """Gauge reads that raised or returned a non-number, left out of snapshots."""

    @property
    def clock(self) -> Clock | None:
        return self._clock

    @property
    def generation(self) -> int:
        """Bumped whenever a metric is registered or the registry cleared: a reader may keep what it
        learnt of the registry's layout (:class:`graphmetrics.readout.Layout`) while it stays the same."""
        return self._generation

    # -- get or create -------------------------------------------------------------------------

    def counter(self, name: str, tags: Mapping[str, str] | None = None) -> Counter:
        if tags is None:
            metric = self._untagged.get(name) or self._aliases.get(name)
            if metric.__class__ is Counter:
                return metric  # type: ignore[return-value]
        return self._get_or_create(name, tags, Counter, Counter)

    def meter(self, name: str, tags: Mapping[str, str] | None = None) -> Meter:
        if tags is None:
            metric = self._untagged.get(name) or self._aliases.get(name)
            if metric.__class__ is Meter:
                return metric  # type: ignore[return-value]
        return self._get_or_create(name, tags, Meter, lambda: Meter(self._clock))

    def histogram(
        self, name: str, reservoir: Reservoir | None = None, tags: Mapping[str, str] | None = None
    ) -> Histogram:
        """The histogram ``name``; ``reservoir`` (default: a new :class:`LogBucketSketch`) is used only
        when it is created, and asking again with a reservoir of another type is a ``TypeError``."""
        if tags is None and reservoir is None:
            metric = self._untagged.get(name) or self._aliases.get(name)
            if metric.__class__ is Histogram:
                return metric  # type: ignore[return-value]
        histogram = self._get_or_create(name, tags, Histogram, lambda: Histogram(reservoir, self._clock))
        _check_reservoir(name, histogram.reservoir, reservoir)
        return histogram

    def timer(
        self,
        name: str,
        reservoir: Reservoir | None = None,
        unit: str = "ms",
        tags: Mapping[str, str] | None = None,
    ) -> Timer:
        """The timer ``name``, reporting durations in ``unit`` (``s``, ``ms``, ``us`` or ``ns``)."""
        if tags is None and reservoir is None:
            metric = self._untagged.get(name) or self._aliases.get(name)
            if metric.__class__ is Timer and metric.unit == unit:  # type: ignore[union-attr]
                return metric  # type: ignore[return-value]
        timer = self._get_or_create(name, tags, Timer, lambda: Timer(reservoir, unit, self._clock))
        _check_reservoir(name, timer.reservoir, reservoir)
        if timer.unit != unit:
            raise ValueError(f"timer {name!r} exists with unit {timer.unit!r}, not {unit!r}")
        return timer

    def gauge(
        self,
        name: str,
        fn_or_value: Callable[[], float] | Gauge | float | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Gauge:
        """A gauge: a callable (or an object with ``get_value()``) makes a callback gauge read at
        snapshot time, a number makes (or sets) a set-value gauge.

        For an existing gauge a number sets its value and a callable replaces its callback; a gauge
        instance is registered as it is.
        """
        if isinstance(fn_or_value, Gauge):
            return self._get_or_create(name, tags, Gauge, lambda: fn_or_value)
        getter = getattr(fn_or_value, "get_value", None)  # e.g. a pyformance Gauge
        callback = getter if callable(getter) else fn_or_value if callable(fn_or_value) else None
        if callback is not None:
            gauge = self._get_or_create(name, tags, Gauge, lambda: CallbackGauge(callback))
            if not isinstance(gauge, CallbackGauge):
                raise TypeError(f"gauge {name!r} holds a set value; it cannot take a callback")
            gauge.callback = callback
            return gauge
        gauge = self._get_or_create(name, tags, Gauge, SimpleGauge)
        if fn_or_value is not None:
            if not isinstance(gauge, SimpleGauge):
                raise TypeError(f"gauge {name!r} is read from a callback; it cannot be set")
            if not isinstance(fn_or_value, (int, float)):
                raise TypeError(f"gauge value must be a number or a callable, not {type(fn_or_value).__name__}")
            gauge.set_value(fn_or_value)
        return gauge

    def add(self, name: str, metric: Metric, tags: Mapping[str, str] | None = None) -> None:
        """Register a metric built elsewhere (pyformance's ``add``); ``LookupError`` if the key is taken."""
        if not isinstance(metric, tuple(_KIND)):
            raise TypeError(f"not a metric: {metric!r}")
        key = metric_key(name, tags)
        store = self._tagged if tags else self._untagged
        with self._lock:
            if key in store:
                raise LookupError(f"metric {key!r} is already registered")
            store[key] = metric
            self._generation += 1

    def _get_or_create(
        self, name: str, tags: Mapping[str, str] | None, cls: type[M], factory: Callable[[], M]
    ) -> M:
        key = metric_key(name, tags)
        store = self._tagged if tags else self._untagged
        with self._lock:
            metric = store.get(key)
            if metric is None:
                metric = store[key] = factory()
                self._generation += 1
                if not tags and key != name:  # once per name: later calls find it in _aliases
                    self._origins[key] = name
                    log.warning("metric name %r is reported as %r: any other name that becomes %r, that "
                                "one included, is the same metric", name, key, key)
            elif not tags and key != name and self._origins.get(key, key) != name:
                log.warning("metric names %r and %r are one metric, %r: both sanitise to it",
                            self._origins.get(key, key), name, key)
            if not isinstance(metric, cls):
                raise TypeError(f"metric {key!r} is a {_kind(metric)}, not a {_KIND[cls]}")
            if not tags and key != name:
                self._aliases[name] = metric
        return metric

    def _find(self, name: str, tags: Mapping[str, str] | None = None) -> Metric | None:
        if tags is None:
            found = self._untagged.get(name)
            if found is None:
                found = self._aliases.get(name)
            if found is not None:
                return found
        return (self._tagged if tags else self._untagged).get(metric_key(name, tags))

    def clear(self) -> None:
        """Forget every metric (references held elsewhere keep working but are no longer reported)."""
        with self._lock:
            self._untagged = {}
            self._tagged = {}
            self._aliases = {}
            self._origins = {}
            self._generation += 1

    # -- read out ------------------------------------------------------------------------------

    def _metrics(self) -> list[tuple[str, Metric]]:
        with self._lock:
            return [*self._untagged.items(), *self._tagged.items()]

    def keys(self) -> list[str]:
        """Every metric key, in ``snapshot()`` order: one list of existing strings, no pairs to allocate,
        for readers that go through a big registry a slice at a time (:mod:`graphmetrics.readout`)."""
        with self._lock:
            return [*self._untagged, *self._tagged]

    def get(self, key: str) -> Metric | None:
        """The metric registered under the metric key ``key`` now; None once ``clear()`` removed it."""
        return (self._tagged if ";" in key else self._untagged).get(key)

    def read(self, metric: Metric) -> dict[str, int | float] | None:
        """``metric.fields()``; ``None`` (and one more of :attr:`gauge_errors`) for a gauge that cannot be read."""
        try:
            return metric.fields()
        except Exception:
            if not isinstance(metric, Gauge):
                raise
            with self._lock:
                self.gauge_errors += 1
            return None

    @staticmethod
    def buckets(metric: Metric) -> list[tuple[float, int]] | None:
        """The metric's mergeable buckets: a histogram's or timer's ``buckets()``, None for other types."""
        if isinstance(metric, (Histogram, Timer)):
            return metric.buckets()
        return None

    def snapshot(self) -> dict[str, dict[str, int | float]]:
        """Every metric's current fields, keyed by metric key (plain data, safe to keep)."""
        out: dict[str, dict[str, int | float]] = {}
        for key, metric in self._metrics():
            fields = self.read(metric)
            if fields:
                out[key] = fields
        return out

    def bucket_snapshot(self) -> dict[str, list[tuple[float, int]]]:
        """Buckets of every histogram and timer kept in a :class:`LogBucketSketch`, to merge elsewhere."""
        out: dict[str, list[tuple[float, int]]] = {}
        for key, metric in self._metrics():
            if (buckets := self.buckets(metric)) is not None:
                out[key] = buckets
        return out

    def get_metrics(self, name: str, tags: Mapping[str, str] | None = None) -> dict[str, int | float]:
        """One metric's current fields (``{}`` if there is no such metric)."""
        metric = self._find(name, tags)
        return (self.read(metric) or {}) if metric is not None else {}


def _check_reservoir(name: str, existing: Reservoir, requested: Reservoir | None) -> None:
    if requested is not None and type(existing) is not type(requested):
        raise TypeError(f"{name!r} exists with a {type(existing).__name__}, not a {type(requested).__name__}")


_global_registry = MetricsRegistry()


def global_registry() -> MetricsRegistry:
    """The process-wide registry used by the module-level helpers and the decorators."""
    return _global_registry


def set_global_registry(registry: MetricsRegistry) -> None:
    global _global_registry
    if not isinstance(registry, MetricsRegistry):
        raise TypeError(f"not a MetricsRegistry: {registry!r}")
    _global_registry = registry

