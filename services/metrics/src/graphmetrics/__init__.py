"""graphmetrics: application metrics kept in process memory, read out in one snapshot per report.

Zero runtime dependencies. Start with :class:`MetricsRegistry`; reporters that send snapshots to
Graphite live in :mod:`graphmetrics.reporters`, the loops that drive them in :mod:`graphmetrics.runners`.
"""

from graphmetrics.clock import ManualClock, SystemClock
from graphmetrics.counters import Counter
from graphmetrics.decorators import count_calls, hist_calls, meter_calls, time_calls
from graphmetrics.gauges import CallbackGauge, Gauge, SimpleGauge
from graphmetrics.histograms import Histogram
from graphmetrics.meters import Meter
from graphmetrics.names import metric_key, sanitize_name, series_path, split_key
from graphmetrics.registry import MetricsRegistry, global_registry, set_global_registry
from graphmetrics.reservoirs import ExpDecayingReservoir, LogBucketSketch, SlidingTimeWindowReservoir
from graphmetrics.snapshots import Snapshot
from graphmetrics.timers import Timer

__all__ = [
    "MetricsRegistry",
    "global_registry",
    "set_global_registry",
    "Counter",
    "Gauge",
    "SimpleGauge",
    "CallbackGauge",
    "Meter",
    "Histogram",
    "Timer",
    "Snapshot",
    "LogBucketSketch",
    "ExpDecayingReservoir",
    "SlidingTimeWindowReservoir",
    "SystemClock",
    "ManualClock",
    "metric_key",
    "sanitize_name",
    "series_path",
    "split_key",
    "count_calls",
    "meter_calls",
    "hist_calls",
    "time_calls",
]
