"""pyformance's public names, backed by graphmetrics: change ``pyformance`` to this module in imports.

What stays the same: ``MetricsRegistry`` with ``counter/histogram/meter/timer/gauge``, ``add``,
``get_metrics``, ``dump_metrics``, ``_get_*_metrics``, ``clear``; the module-level helpers working on
the global registry; the ``count_calls``, ``meter_calls``, ``hist_calls`` and ``time_calls``
decorators; the metric classes and their ``get_*`` accessors; the snapshot field names.

What differs (see docs/library.md): timers report milliseconds, not seconds (``timer(name,
unit="s")`` keeps seconds); the default histogram reservoir is a log-bucket sketch (pass
``reservoir=ExpDecayingReservoir()`` for pyformance's, with Dropwizard's weighted quantiles);
one name is one metric (a counter and a meter named alike raise ``TypeError``); counts are ints;
the ``call_too_long`` signal is not provided.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphmetrics.counters import Counter
from graphmetrics.decorators import count_calls, hist_calls, meter_calls, time_calls
from graphmetrics.gauges import CallbackGauge, Gauge, SimpleGauge
from graphmetrics.histograms import Histogram
from graphmetrics.meters import Meter
from graphmetrics.registry import MetricsRegistry, global_registry, set_global_registry
from graphmetrics.reservoirs import ExpDecayingReservoir, SlidingTimeWindowReservoir
from graphmetrics.timers import Timer

__all__ = [
    "MetricsRegistry",
    "global_registry",
    "set_global_registry",
    "counter",
    "histogram",
    "meter",
    "timer",
    "gauge",
    "dump_metrics",
    "clear",
    "count_calls",
    "meter_calls",
    "hist_calls",
    "time_calls",
    "Counter",
    "Histogram",
    "Meter",
    "Timer",
    "Gauge",
    "CallbackGauge",
    "SimpleGauge",
    "ExpDecayingReservoir",
    "SlidingTimeWindowReservoir",
]


def counter(key: str) -> Counter:
    return global_registry().counter(key)


def histogram(key: str) -> Histogram:
    return global_registry().histogram(key)


def meter(key: str) -> Meter:
    return global_registry().meter(key)


def timer(key: str) -> Timer:
    return global_registry().timer(key)


def gauge(key: str, gauge: Callable[[], float] | Gauge | float | None = None) -> Gauge:
    return global_registry().gauge(key, gauge)


def dump_metrics() -> dict[str, dict[str, Any]]:
    return global_registry().dump_metrics()


def clear() -> None:
    global_registry().clear()
