"""pyformance's gauges are the core ones: the same classes, constructors and methods."""

from graphmetrics.gauges import CallbackGauge, Gauge, SimpleGauge

__all__ = ["Gauge", "CallbackGauge", "SimpleGauge"]
