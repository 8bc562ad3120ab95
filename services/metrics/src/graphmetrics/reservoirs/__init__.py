"""Where a histogram keeps its values, and therefore what its percentiles mean.

- :class:`LogBucketSketch` (the default): counts per logarithmic bucket. Every reported percentile is
  within ``relative_accuracy`` (1%) of the exact one, memory depends on the range of the values and
  not on how many there are, and sketches merge exactly, so percentiles across replicas can be
  computed from exported buckets instead of (wrongly) averaging per-replica percentiles. It covers
  everything since start or ``clear()``.
- :class:`ExpDecayingReservoir`: Dropwizard's forward-decaying priority sample, biased to roughly the
  last five minutes, with weighted quantiles.
- :class:`SlidingTimeWindowReservoir`: every value of the last ``window`` seconds, exact percentiles,
  memory proportional to the update rate.

Each reservoir also keeps the lifetime count and sum, so a histogram's ``add`` is a single call.
"""

from graphmetrics.reservoirs.base import Reservoir
from graphmetrics.reservoirs.decaying import ExpDecayingReservoir
from graphmetrics.reservoirs.sketch import LogBucketSketch
from graphmetrics.reservoirs.window import SlidingTimeWindowReservoir

__all__ = ["Reservoir", "LogBucketSketch", "ExpDecayingReservoir", "SlidingTimeWindowReservoir"]
