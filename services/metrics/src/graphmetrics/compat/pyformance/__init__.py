"""pyformance 0.4's public modules, backed by graphmetrics: rename ``pyformance`` to
``graphmetrics.compat.pyformance`` in every import and the code runs.

The tree mirrors pyformance's: :mod:`.meters`, :mod:`.registry`, :mod:`.stats` (``snapshot``,
``moving_average``, ``samples``) and :mod:`.reporters` (``carbon_reporter``, ``console_reporter``,
``hosted_graphite_reporter``), with pyformance's signatures and keyword names. Behind them are the
core metrics and the real reporters and runners. Every deliberate difference, with its reason, is
in the differences table of docs/library.md.
"""

from graphmetrics.compat.pyformance.meters import (
    CallbackGauge,
    Counter,
    Gauge,
    Histogram,
    Meter,
    SimpleGauge,
    Timer,
)
from graphmetrics.compat.pyformance.meters.timer import call_too_long
from graphmetrics.compat.pyformance.registry import (
    MetricsRegistry,
    RegexRegistry,
    clear,
    count_calls,
    counter,
    dump_metrics,
    gauge,
    global_registry,
    hist_calls,
    histogram,
    meter,
    meter_calls,
    set_global_registry,
    time_calls,
    timer,
)
from graphmetrics.reservoirs import ExpDecayingReservoir, SlidingTimeWindowReservoir

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
    "count_calls",
    "meter_calls",
    "hist_calls",
    "time_calls",
    "call_too_long",
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
