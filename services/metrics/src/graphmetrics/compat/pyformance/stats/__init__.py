"""pyformance's ``stats`` package: samples, the moving average and the snapshot."""

from graphmetrics.compat.pyformance.stats.moving_average import ExpWeightedMovingAvg
from graphmetrics.compat.pyformance.stats.samples import ExpDecayingSample, SlidingTimeWindowSample
from graphmetrics.compat.pyformance.stats.snapshot import Snapshot

__all__ = ["ExpDecayingSample", "SlidingTimeWindowSample", "ExpWeightedMovingAvg", "Snapshot"]
