"""Read-only views of a distribution at one instant, one kind per way a reservoir keeps its values.

A reservoir copies its state under its lock and hands it to one of these, so percentiles are computed
outside the lock and the hot ``update`` path never waits for a reader. Sampling reservoirs use
Dropwizard's percentile rules, so their numbers agree with Dropwizard's; the sketch uses nearest rank.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from itertools import accumulate

__all__ = [
    "Snapshot",
    "UniformSnapshot",
    "WeightedSnapshot",
    "ExactSnapshot",
    "SketchSnapshot",
    "PERCENTILES",
    "nearest_rank",
]

PERCENTILES: tuple[tuple[str, float], ...] = (
    ("50_percentile", 0.5),
    ("75_percentile", 0.75),
    ("95_percentile", 0.95),
    ("98_percentile", 0.98),
    ("99_percentile", 0.99),
    ("999_percentile", 0.999),
)
"""The reported percentiles, with the field names pyformance users already graph."""


def _check_quantile(quantile: float) -> None:
    if not 0.0 <= quantile <= 1.0:  # also refuses NaN
        raise ValueError(f"quantile must be in [0, 1], not {quantile!r}")


def _zero(quantile: float) -> float:
    return 0.0


def nearest_rank(quantile: float, count: int) -> int:
    """1-based rank of the q-th of ``count`` values; the tolerance makes ``0.95 * 100`` (computed as
    95.00000000000001) the 95th value, not the 96th."""
    rank = math.ceil(quantile * count - 1e-9)
    return rank if rank > 1 else 1


class Snapshot:
    """A distribution: ``value(q)``, ``size``, ``min``, ``max``, ``mean``, ``stddev``.

    ``count`` and ``sum`` are the lifetime totals of the histogram the snapshot came from, which for
    a sampling reservoir are larger than what the sample holds (``size``).
    """

    __slots__ = ("count", "sum", "size", "min", "max", "mean", "stddev")

    count: int
    sum: float
    size: int
    min: float
    max: float
    mean: float
    stddev: float

    def value(self, quantile: float) -> float:
        """The value at ``quantile`` (0 to 1); 0.0 for an empty snapshot."""
        _check_quantile(quantile)
        return self._quantile(quantile) if self.size else 0.0

    def _quantile(self, quantile: float) -> float:
        """``value`` for a valid quantile of a non-empty snapshot."""
        raise NotImplementedError

    def fields(self) -> dict[str, int | float]:
        """The snapshot as the registry reports it (pyformance's field names)."""
        out: dict[str, int | float] = {
            "count": self.count,
            "sum": self.sum,
            "avg": self.mean,
            "min": self.min,
            "max": self.max,
            "std_dev": self.stddev,
        }
        at = self._quantile if self.size else _zero  # runs for every histogram of every report
        for field, quantile in PERCENTILES:
            out[field] = at(quantile)
        return out


class UniformSnapshot(Snapshot):
    """Equally weighted samples (sliding window); linear interpolation as Dropwizard's ``UniformSnapshot``."""

    __slots__ = ("_values",)

    def __init__(self, values: Sequence[float], count: int, total: float) -> None:
        self._values = ordered = sorted(values)
        n = self.size = len(ordered)
        self.count, self.sum = count, total
        if n == 0:
            self.min = self.max = self.mean = self.stddev = 0.0
            return
        self.min, self.max = ordered[0], ordered[-1]
        self.mean = mean = math.fsum(ordered) / n
        self.stddev = math.sqrt(math.fsum((v - mean) ** 2 for v in ordered) / (n - 1)) if n > 1 else 0.0

    def _quantile(self, quantile: float) -> float:
        values = self._values
        n = len(values)
        pos = quantile * (n + 1)
        index = int(pos)
        if index < 1:
            return values[0]
        if index >= n:
            return values[-1]
        lower, upper = values[index - 1], values[index]
        return lower + (pos - index) * (upper - lower)


class WeightedSnapshot(Snapshot):
    """Samples with weights (forward-decaying reservoir): weighted quantiles, mean and stddev.

    Follows Dropwizard's ``WeightedSnapshot``: a sample's share of the distribution is its weight,
    not 1/n (pyformance ignores the weights, so old values dominate after a shift).
    """

    __slots__ = ("_values", "_quantiles")

    def __init__(self, samples: Sequence[tuple[float, float]], count: int, total: float) -> None:
        """``samples`` are ``(value, weight)`` pairs."""
        ordered = sorted(samples)
        self._values = values = [value for value, _ in ordered]
        n = self.size = len(values)
        self.count, self.sum = count, total
        weight_sum = math.fsum(weight for _, weight in ordered)
        weights = [weight / weight_sum if weight_sum else 0.0 for _, weight in ordered]
        # _quantiles[i] is the weight below sample i: the quantile at which sample i starts.
        self._quantiles = [0.0, *accumulate(weights[:-1])] if n else []
        if n == 0:
            self.min = self.max = self.mean = self.stddev = 0.0
            return
        self.min, self.max = values[0], values[-1]
        self.mean = mean = math.fsum(v * w for v, w in zip(values, weights))
        variance = math.fsum(w * (v - mean) ** 2 for v, w in zip(values, weights))
        self.stddev = math.sqrt(variance) if n > 1 else 0.0

    def _quantile(self, quantile: float) -> float:
        values = self._values
        index = bisect_right(self._quantiles, quantile) - 1  # never past the last sample
        return values[index] if index > 0 else values[0]


class ExactSnapshot(Snapshot):
    """Every value, sorted, with its moments: the nearest-rank percentile is the value itself."""

    __slots__ = ("_values",)

    def __init__(self, ordered: Sequence[float], total: float, variance: float) -> None:
        """``ordered`` must be sorted; ``total`` and ``variance`` (sample variance) describe it."""
        self._values = ordered
        n = self.count = self.size = len(ordered)
        self.sum = total
        if n == 0:
            self.min = self.max = self.mean = self.stddev = 0.0
            return
        self.min, self.max = ordered[0], ordered[-1]
        self.mean = total / n
        self.stddev = math.sqrt(variance)

    def _quantile(self, quantile: float) -> float:
        return self._values[nearest_rank(quantile, self.size) - 1]


class SketchSnapshot(Snapshot):
    """Bucket counts of a :class:`~graphmetrics.reservoirs.LogBucketSketch` in value order, with
    exact moments beside them.

    The value at quantile q is the representative of the bucket holding the q-th value by nearest
    rank (the smallest value with at least q of all values at or below it, as HdrHistogram reports
    latency percentiles), clamped to the exact min and max: within the sketch's relative accuracy
    of that value. The smallest and largest values are reported exactly. Representatives are
    computed only for the buckets asked for.
    """

    __slots__ = ("_representative", "_cumulative")

    def __init__(
        self,
        representative: Callable[[int], float],
        cumulative: Sequence[int],
        total: float,
        minimum: float,
        maximum: float,
        variance: float,
    ) -> None:
        """``cumulative[i]`` counts the values in buckets 0..i; ``representative(i)`` is bucket i's value."""
        self._representative = representative
        self._cumulative = cumulative
        n = self.count = self.size = cumulative[-1] if cumulative else 0
        self.sum = total
        if n == 0:
            self.min = self.max = self.mean = self.stddev = 0.0
            return
        self.min, self.max = minimum, maximum
        self.mean = total / n
        self.stddev = math.sqrt(variance)

    def _quantile(self, quantile: float) -> float:
        rank = nearest_rank(quantile, self.count)
        if rank >= self.count:
            return self.max
        if rank <= 1:
            return self.min
        value = self._representative(bisect_left(self._cumulative, rank))
        return self.min if value < self.min else self.max if value > self.max else value
