"""pyformance's ``registry`` module: ``MetricsRegistry``, ``RegexRegistry``, the global registry,
its module-level helpers and the four decorators.

The registry is the core one (one name is one metric, names sanitised for Graphite) whose
get-or-create methods make the pyformance-flavoured metrics of :mod:`..meters`, so what they return
takes pyformance's keywords. Its histograms and timers use the core default reservoir, the
log-bucket sketch; its timers report seconds.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

from graphmetrics import decorators, registry
from graphmetrics.clock import Clock
from graphmetrics.compat.pyformance.meters import (
    CallbackGauge,
    Counter,
    Gauge,
    Histogram,
    Meter,
    SimpleGauge,
    Timer,
)
from graphmetrics.registry import Metric
from graphmetrics.reservoirs import LogBucketSketch

__all__ = [
    "MetricsRegistry",
    "RegexRegistry",
    "global_registry",
    "set_global_registry",
    "counter",
    "histogram",
    "meter",
    "timer",
    "gauge",
    "dump_metrics",
    "clear",
    "get_qualname",
    "count_calls",
    "meter_calls",
    "hist_calls",
    "time_calls",
]

M = TypeVar("M")


class MetricsRegistry(registry.MetricsRegistry):
    """The core registry with pyformance's methods; ``clock`` defaults to the system clock."""

    def __init__(self, clock: Clock | None = None) -> None:
        super().__init__(clock)
        self._made: dict[str, Metric] = {}  # every metric this face made or added, by the name asked for
        self._made_lock = threading.Lock()

    def _made_here(self, key: str, cls: type[M], make: Callable[[], M], find: Callable[[str], Any]) -> M:
        """The metric ``key`` of type ``cls``, made by ``make`` if the registry has none yet.

        ``find`` is the core get-or-create of that type: after our ``add`` it finds what is there,
        and raises the core ``TypeError`` when the key holds another type.
        """
        metric = self._made.get(key)
        if isinstance(metric, cls):
            return metric
        try:
            super().add(key, cast(Metric, make()))
        except LookupError:
            pass  # made meanwhile, or by the core API: find returns it, or says why not
        found = find(key)
        with self._made_lock:
            self._made[key] = found
        return cast(M, found)

    def counter(self, key: str) -> Counter:  # type: ignore[override]
        return self._made_here(key, Counter, Counter, super().counter)

    def meter(self, key: str) -> Meter:  # type: ignore[override]
        return self._made_here(key, Meter, lambda: Meter(self.clock), super().meter)

    def histogram(self, key: str) -> Histogram:  # type: ignore[override]
        return self._made_here(
            key, Histogram, lambda: Histogram(clock=self.clock, sample=LogBucketSketch()), super().histogram
        )

    def timer(self, key: str, *, unit: str = "s") -> Timer:  # type: ignore[override]
        """The timer ``key``, in seconds (``unit=`` picks ``ms``, ``us`` or ``ns`` when it is created)."""

        def make() -> Timer:
            return Timer(clock=self.clock, sink=self.create_sink(), sample=LogBucketSketch(), unit=unit)

        return self._made_here(key, Timer, make, lambda name: super(MetricsRegistry, self).timer(name, unit=unit))

    def create_sink(self) -> Any:
        """What new timers pass every duration to (pyformance's hook for subclasses); None here."""
        return None

    def gauge(self, key: str, gauge: Any = None, default: float = math.nan) -> Gauge:  # type: ignore[override]
        """The gauge ``key``; if there is none: ``gauge`` itself if it is a ``Gauge``, a callback
        gauge if it is callable (or has a ``get_value()``), else a set-value gauge holding ``default``.
        An existing gauge is returned as it is, as in pyformance."""
        def make() -> Gauge:
            if gauge is None:
                return SimpleGauge(default)
            if isinstance(gauge, Gauge):
                return gauge
            getter = getattr(gauge, "get_value", None)  # e.g. a gauge of pyformance itself
            callback = getter if callable(getter) else gauge
            if not callable(callback):
                raise TypeError(f"gauge getter not callable: {type(gauge).__name__}")
            return CallbackGauge(callback)

        return self._made_here(key, Gauge, make, lambda name: super(MetricsRegistry, self).gauge(name))

    def add(self, key: str, metric: Metric) -> None:  # type: ignore[override]
        """Register a metric built elsewhere; ``LookupError`` if ``key`` is taken, ``TypeError`` for a non-metric."""
        super().add(key, metric)
        with self._made_lock:
            self._made[key] = metric

    def clear(self) -> None:
        with self._made_lock:
            super().clear()
            self._made = {}

    def get_metrics(self, key: str) -> dict[str, int | float]:  # type: ignore[override]
        return super().get_metrics(key)

    def dump_metrics(self) -> dict[str, dict[str, int | float]]:
        """Every metric's fields by name: ``snapshot()``."""
        return self.snapshot()

    def _get_kind_metrics(self, key: str, cls: type) -> dict[str, int | float]:
        return self.get_metrics(key) if isinstance(self._made.get(key), cls) else {}

    def _get_counter_metrics(self, key: str) -> dict[str, int | float]:
        return self._get_kind_metrics(key, Counter)

    def _get_gauge_metrics(self, key: str) -> dict[str, int | float]:
        return self._get_kind_metrics(key, Gauge)

    def _get_histogram_metrics(self, key: str) -> dict[str, int | float]:
        return self._get_kind_metrics(key, Histogram)

    def _get_meter_metrics(self, key: str) -> dict[str, int | float]:
        return self._get_kind_metrics(key, Meter)

    def _get_timer_metrics(self, key: str) -> dict[str, int | float]:
        return self._get_kind_metrics(key, Timer)


class RegexRegistry(MetricsRegistry):
    r"""Groups names by a regex: the groups of every match, joined by ``/`` (sanitised to ``_`` for
    Graphite), are the key. ``^/api/(?P<model>\w+)/\d+/?(?P<verb>\w+)?$`` makes ``/api/users/1``
    ``users`` and ``/api/users/2/edit`` ``users/edit``. A name whose matches give no group text is
    kept as it is (pyformance files all of them under the empty name, one metric for everything
    unmatched, a reporter's own counters included).
    """

    def __init__(self, pattern: str | None = None, clock: Clock | None = None) -> None:
        super().__init__(clock)
        self.pattern = re.compile(pattern if pattern is not None else "^$")

    def _get_key(self, key: str) -> str:
        grouped = "/".join(group for match in self.pattern.finditer(key) for group in match.groups() if group)
        return grouped or key

    def counter(self, key: str) -> Counter:  # type: ignore[override]
        return super().counter(self._get_key(key))

    def meter(self, key: str) -> Meter:  # type: ignore[override]
        return super().meter(self._get_key(key))

    def histogram(self, key: str) -> Histogram:  # type: ignore[override]
        return super().histogram(self._get_key(key))

    def timer(self, key: str, *, unit: str = "s") -> Timer:  # type: ignore[override]
        return super().timer(self._get_key(key), unit=unit)

    def gauge(self, key: str, gauge: Any = None, default: float = math.nan) -> Gauge:  # type: ignore[override]
        return super().gauge(self._get_key(key), gauge, default)


_global_registry: Any = MetricsRegistry()


def global_registry() -> Any:
    """The registry the module-level helpers and the decorators use."""
    return _global_registry


def set_global_registry(registry: Any) -> None:
    """Make ``registry`` the global one: any object with pyformance's registry methods (duck-typed,
    as pyformance accepts it); a missing method is an ``AttributeError`` when it is first used."""
    global _global_registry
    _global_registry = registry


def counter(key: str) -> Counter:
    return _global_registry.counter(key)  # type: ignore[no-any-return]


def histogram(key: str) -> Histogram:
    return _global_registry.histogram(key)  # type: ignore[no-any-return]


def meter(key: str) -> Meter:
    return _global_registry.meter(key)  # type: ignore[no-any-return]


def timer(key: str) -> Timer:
    return _global_registry.timer(key)  # type: ignore[no-any-return]


def gauge(key: str, gauge: Any = None) -> Gauge:
    return _global_registry.gauge(key, gauge)  # type: ignore[no-any-return]


def dump_metrics() -> dict[str, dict[str, int | float]]:
    return _global_registry.dump_metrics()  # type: ignore[no-any-return]


def clear() -> None:
    _global_registry.clear()


def get_qualname(obj: Any) -> str:
    return str(obj.__qualname__)


class _Global:
    """What the core decorators record into: this module's global registry at call time."""

    def counter(self, key: str) -> Any:
        return _global_registry.counter(key)

    def meter(self, key: str) -> Any:
        return _global_registry.meter(key)

    def histogram(self, key: str) -> Any:
        return _global_registry.histogram(key)

    def timer(self, key: str) -> Any:
        return _global_registry.timer(key)


_GLOBAL = cast(registry.MetricsRegistry, _Global())


def count_calls(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Count the calls of ``fn`` in the counter ``<qualname>_calls`` of the global registry."""
    return decorators.count_calls(fn, registry=_GLOBAL)  # type: ignore[no-any-return]


def meter_calls(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark the meter ``<qualname>_calls`` of the global registry on every call of ``fn``."""
    return decorators.meter_calls(fn, registry=_GLOBAL)  # type: ignore[no-any-return]


def hist_calls(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add every int or float ``fn`` returns to the histogram ``<qualname>_calls`` of the global registry."""
    return decorators.hist_calls(fn, registry=_GLOBAL)  # type: ignore[no-any-return]


def time_calls(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Time every call of ``fn`` with the timer ``<qualname>_calls`` of the global registry."""
    return decorators.time_calls(fn, registry=_GLOBAL)  # type: ignore[no-any-return]
