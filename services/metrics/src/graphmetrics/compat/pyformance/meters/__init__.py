"""pyformance's ``meters`` package: the metric classes with pyformance's constructors and method names."""

from graphmetrics.compat.pyformance.meters.counter import Counter
from graphmetrics.compat.pyformance.meters.gauge import CallbackGauge, Gauge, SimpleGauge
from graphmetrics.compat.pyformance.meters.histogram import Histogram
from graphmetrics.compat.pyformance.meters.meter import Meter
from graphmetrics.compat.pyformance.meters.timer import Timer

__all__ = ["Counter", "Histogram", "Meter", "Timer", "Gauge", "CallbackGauge", "SimpleGauge"]
