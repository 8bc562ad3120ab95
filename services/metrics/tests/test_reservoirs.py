"""Reservoirs: Dropwizard's decaying-reservoir behaviour, the sliding window, and sketch accuracy."""

from __future__ import annotations

import math
import random
import statistics

import pytest
from core_threads import run_threads
from hypothesis import given, settings
from hypothesis import strategies as st

from graphmetrics.clock import ManualClock
from graphmetrics.reservoirs import (
    ExpDecayingReservoir,
    LogBucketSketch,
    Reservoir,
    SlidingTimeWindowReservoir,
)
from graphmetrics.reservoirs.pending import FOLD_AT
from graphmetrics.snapshots import PERCENTILES

# -- exponentially decaying ------------------------------------------------------------------------


def test_quantiles_are_weighted() -> None:
    # Dropwizard's quantiliesShouldBeBasedOnWeights: 40 old values of weight 1 against 10 new ones
    # of weight exp(0.015 * 120) ~ 6, so the new value holds ~60% of the distribution.
    clock = ManualClock()
    reservoir = ExpDecayingReservoir(1028, 0.015, clock)
    for _ in range(40):
        reservoir.update(177)
    clock.advance(120.0)
    for _ in range(10):
        reservoir.update(9999)
    snapshot = reservoir.snapshot()
    assert snapshot.size == 50 and snapshot.count == 50
    assert snapshot.value(0.5) == 9999
    assert snapshot.value(0.75) == 9999
    assert snapshot.value(0.3) == 177  # the old values still hold the lowest ~40%
    weight = math.exp(0.015 * 120)
    assert snapshot.mean == pytest.approx((40 * 177 + 10 * weight * 9999) / (40 + 10 * weight))
    assert (snapshot.min, snapshot.max) == (177, 9999)


def test_spot_lift() -> None:
    # Dropwizard's spotLift: 120 minutes of 177 at 10/min, then 10 minutes of 9999.
    clock = ManualClock()
    reservoir = ExpDecayingReservoir(1000, 0.015, clock)
    random.seed(11)  # the priorities are random; the outcome should not depend on it, the run does not
    for value, minutes in ((177, 120), (9999, 10)):
        for _ in range(minutes * 10):
            reservoir.update(value)
            clock.advance(6.0)
    assert reservoir.snapshot().value(0.5) == 9999


def test_long_inactivity_does_not_corrupt_the_sample() -> None:
    # Dropwizard's longPeriodsOfInactivityShouldNotCorruptSamplingState.
    clock = ManualClock()
    reservoir = ExpDecayingReservoir(10, 0.015, clock)
    for i in range(1000):
        reservoir.update(1000 + i)
        clock.advance(0.1)
    snapshot = reservoir.snapshot()
    assert snapshot.size == 10 and 1000 <= snapshot.min and snapshot.max < 2000
    clock.advance(15 * 3600.0)
    reservoir.update(2000)  # the rescale finds every old weight underflowed to zero
    snapshot = reservoir.snapshot()
    assert snapshot.size == 1 and snapshot.min == snapshot.max == 2000
    for i in range(1000):
        reservoir.update(3000 + i)
        clock.advance(0.1)
    snapshot = reservoir.snapshot()
    assert snapshot.size == 10 and 3000 <= snapshot.min and snapshot.max < 4000
    assert snapshot.count == 2001


def test_rescaling_after_an_hour_keeps_relative_weights() -> None:
    clock = ManualClock()
    reservoir = ExpDecayingReservoir(100, 0.015, clock)
    for value in range(10):
        reservoir.update(value)
        clock.advance(60.0)
    clock.advance(2900.0)  # t = 3500: before the hour, nothing rescaled yet
    before = reservoir.snapshot()
    assert reservoir._start == 0.0
    clock.advance(200.0)  # past the hour: this read rescales (weights shrink by exp(-alpha * 3700))
    after = reservoir.snapshot()
    assert reservoir._start == clock.time() == 3700.0
    assert max(w for _, _, w in reservoir._heap) < 1e-20
    for _, quantile in PERCENTILES:
        assert after.value(quantile) == before.value(quantile)
    assert after.mean == pytest.approx(before.mean) and after.stddev == pytest.approx(before.stddev)


def test_mean_stays_finite_through_many_rescales() -> None:
    # Dropwizard's removeZeroWeightsInSamplesToPreventNaNInMeanValues.
    clock = ManualClock()
    reservoir = ExpDecayingReservoir(1028, 0.015, clock)
    reservoir.update(100.0)
    for _ in range(47):
        clock.advance(3600.0)
        mean = reservoir.snapshot().mean
        assert 0.0 <= mean < math.inf


def test_decaying_reservoir_keeps_at_most_size_samples() -> None:
    clock = ManualClock()
    reservoir = ExpDecayingReservoir(64, 0.015, clock)
    random.seed(3)
    for i in range(10_000):
        reservoir.update(i)
        if i % 10 == 0:
            clock.advance(1.0)  # 1000 s in all: the first values weigh exp(-15) of the last
    snapshot = reservoir.snapshot()
    assert snapshot.size == 64 and snapshot.count == 10_000 and snapshot.sum == sum(range(10_000))
    assert snapshot.min >= 7_000  # only recent values survive


def test_invalid_parameters() -> None:
    with pytest.raises(ValueError):
        ExpDecayingReservoir(0)
    with pytest.raises(ValueError):
        ExpDecayingReservoir(alpha=0.0)
    with pytest.raises(ValueError):
        SlidingTimeWindowReservoir(window=0)
    with pytest.raises(ValueError):
        LogBucketSketch(relative_accuracy=1.0)
    with pytest.raises(ValueError):
        LogBucketSketch(max_buckets=1)


# -- sliding time window ----------------------------------------------------------------------------


def test_sliding_window_forgets_old_values() -> None:
    clock = ManualClock()
    reservoir = SlidingTimeWindowReservoir(window=10.0, clock=clock)
    for value in (1, 2, 3):
        reservoir.update(value)
        clock.advance(4.0)  # values at 0, 4, 8; now 12
    snapshot = reservoir.snapshot()
    assert sorted([snapshot.min, snapshot.max]) == [2, 3] and snapshot.size == 2
    assert snapshot.count == 3 and snapshot.sum == 6.0  # lifetime totals
    clock.advance(10.0)
    assert reservoir.snapshot().size == 0 and reservoir.snapshot().value(0.99) == 0.0


def test_sliding_window_drops_a_value_exactly_one_window_old() -> None:
    # Dropwizard's SlidingTimeWindowReservoirTest.boundsMeasurementsToATimeWindow: window 10,
    # values 1..5 at 0, 5, 10, 15, 20; at 20 the value from 10 is one window old and gone.
    clock = ManualClock()
    reservoir = SlidingTimeWindowReservoir(window=10.0, clock=clock)
    for value in range(1, 6):
        reservoir.update(value)
        clock.advance(5.0 if value < 5 else 0.0)
    snapshot = reservoir.snapshot()
    assert (snapshot.size, snapshot.min, snapshot.max) == (2, 4, 5)
    clock.advance(5.0)
    assert reservoir.snapshot().max == 5 and reservoir.snapshot().size == 1  # 15's value left at 25


def test_sliding_window_uses_dropwizards_uniform_quantiles() -> None:
    reservoir = SlidingTimeWindowReservoir(window=60.0, clock=ManualClock())
    for value in range(1, 6):
        reservoir.update(value)
    snapshot = reservoir.snapshot()
    # Dropwizard's UniformSnapshotTest on 1..5: median 3, p75 4.5, p99 5, p0 1.
    assert snapshot.value(0.5) == 3
    assert snapshot.value(0.75) == 4.5
    assert snapshot.value(0.99) == 5
    assert snapshot.value(0.0) == 1
    assert snapshot.mean == 3 and snapshot.stddev == pytest.approx(statistics.stdev(range(1, 6)))


# -- log-bucket sketch ------------------------------------------------------------------------------


def _exact(values: list[float], quantile: float) -> float:
    """The nearest-rank percentile: the smallest value with at least ``quantile`` of all at or below it."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(round(quantile * len(ordered), 9))) - 1]


def _assert_accurate(sketch: LogBucketSketch, values: list[float], accuracy: float = 0.01) -> None:
    snapshot = sketch.snapshot()
    for _, quantile in PERCENTILES + (("min", 0.0), ("max", 1.0), ("p10", 0.1)):
        exact = _exact(values, quantile)
        assert abs(snapshot.value(quantile) - exact) <= accuracy * abs(exact) + 1e-12, (quantile, exact)
    assert snapshot.count == len(values)
    assert snapshot.sum == pytest.approx(math.fsum(values), rel=1e-12)
    assert (snapshot.min, snapshot.max) == (min(values), max(values))
    assert snapshot.mean == pytest.approx(statistics.fmean(values), rel=1e-9)
    assert snapshot.stddev == pytest.approx(statistics.stdev(values), rel=1e-6)


@pytest.mark.parametrize(
    "draw",
    [
        lambda rng: rng.uniform(0.0001, 1000.0),
        lambda rng: rng.expovariate(1 / 50.0),
        lambda rng: rng.gauss(10.0, 1.0) if rng.random() < 0.7 else rng.gauss(500.0, 50.0),  # bimodal
        lambda rng: rng.lognormvariate(3.0, 1.5),
    ],
    ids=["uniform", "exponential", "bimodal", "lognormal"],
)
def test_sketch_percentiles_are_within_one_percent(draw) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(42)
    values = [abs(draw(rng)) or 1.0 for _ in range(20_000)]
    sketch = LogBucketSketch(0.01)
    for value in values:
        sketch.update(value)
    _assert_accurate(sketch, values)


def test_a_sketch_that_has_not_folded_yet_reports_exact_percentiles() -> None:
    values = [float(v) for v in random.Random(5).sample(range(1, 100_000), FOLD_AT - 1)]
    sketch = LogBucketSketch()
    for value in values:
        sketch.update(value)
    snapshot = sketch.snapshot()
    for _, quantile in PERCENTILES:
        assert snapshot.value(quantile) == _exact(values, quantile)
    sketch.update(1.5)  # the FOLD_AT-th value moves everything into buckets: now within 1%
    _assert_accurate(sketch, values + [1.5])
    assert sketch.snapshot().value(0.5) != _exact(values + [1.5], 0.5)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.lists(
        st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=600,
    )
)
def test_sketch_accuracy_holds_for_any_finite_values(values: list[float]) -> None:
    sketch = LogBucketSketch(0.01)
    for value in values:
        sketch.update(value)
    snapshot = sketch.snapshot()
    for _, quantile in PERCENTILES:
        exact = _exact(values, quantile)
        assert abs(snapshot.value(quantile) - exact) <= 0.01 * abs(exact) + 1e-300
    assert snapshot.count == len(values) and (snapshot.min, snapshot.max) == (min(values), max(values))


def test_sketch_stddev_is_stable_when_the_mean_dwarfs_it() -> None:
    values = [1e9 + (i % 7) for i in range(10_000)]
    sketch = LogBucketSketch()
    for value in values:
        sketch.update(value)
    assert sketch.snapshot().stddev == pytest.approx(statistics.stdev(values), rel=1e-6)


def test_sketch_buckets_are_ascending_and_cover_every_value() -> None:
    sketch = LogBucketSketch(0.01)
    values = [-5.0, -5.0, -0.5, 0.0, 0.0, 0.0, 1.0, 2.5, 2.5, 1000.0]
    for value in values:
        sketch.update(value)
    buckets = sketch.buckets()
    bounds = [bound for bound, _ in buckets]
    assert bounds == sorted(bounds) and len(set(bounds)) == len(bounds)
    assert sum(count for _, count in buckets) == len(values)
    assert (0.0, 3) in buckets
    gamma = 1.01 / 0.99
    for value in values:  # every value lies in (bound / gamma, bound] of the bucket counting it
        bound = next(b for b in bounds if b >= value)
        assert value == bound == 0.0 or bound / gamma ** (1 if bound > 0 else -1) < value <= bound
    _assert_accurate(sketch, values)


def test_merged_sketch_equals_one_fed_everything() -> None:
    rng = random.Random(7)
    parts = [[rng.lognormvariate(2, 1) for _ in range(n)] for n in (5_000, 300, 1)] + [[0.0, -3.0]]
    replicas = []
    whole = LogBucketSketch()
    for part in parts:
        replica = LogBucketSketch()
        for value in part:
            replica.update(value)
            whole.update(value)
        replicas.append(replica)
    merged = LogBucketSketch()
    for replica in replicas:
        merged.merge(replica)
    assert merged.buckets() == whole.buckets()
    values = [v for part in parts for v in part]
    _assert_accurate(merged, values)
    # Averaging the replicas' p99s is what the export avoids: here it is far from the truth.
    average_p99 = statistics.fmean(r.snapshot().value(0.99) for r in replicas)
    assert abs(average_p99 - _exact(values, 0.99)) > 0.1 * _exact(values, 0.99)


def test_merge_refuses_other_accuracies_and_itself() -> None:
    sketch = LogBucketSketch(0.01)
    with pytest.raises(ValueError, match="same relative_accuracy"):
        sketch.merge(LogBucketSketch(0.02))
    with pytest.raises(ValueError, match="itself"):
        sketch.merge(sketch)


def test_sketch_memory_is_bounded_by_max_buckets() -> None:
    sketch = LogBucketSketch(0.01, max_buckets=64)
    values = [1.1**i for i in range(-200, 400)]  # spans ~10^78: far more than 64 buckets
    for value in values:
        sketch.update(value)
    buckets = sketch.buckets()
    assert len(buckets) == 64 and sum(c for _, c in buckets) == len(values)
    snapshot = sketch.snapshot()
    for quantile in (0.95, 0.99, 0.999):  # the 63 highest values keep their own buckets
        exact = _exact(values, quantile)
        assert abs(snapshot.value(quantile) - exact) <= 0.01 * exact


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "3", None, 1j])
def test_bad_values_are_refused_and_change_nothing(bad: object) -> None:
    for reservoir in (LogBucketSketch(), ExpDecayingReservoir(clock=ManualClock()),
                      SlidingTimeWindowReservoir(clock=ManualClock())):
        reservoir.update(2.0)
        with pytest.raises((TypeError, ValueError), match="histogram values must be"):
            reservoir.update(bad)  # type: ignore[arg-type]
        snapshot = reservoir.snapshot()
        assert (snapshot.count, snapshot.sum, snapshot.max) == (1, 2.0, 2.0)


def test_empty_snapshots_report_zeros() -> None:
    for reservoir in (LogBucketSketch(), ExpDecayingReservoir(clock=ManualClock()),
                      SlidingTimeWindowReservoir(clock=ManualClock())):
        assert isinstance(reservoir, Reservoir)
        fields = reservoir.snapshot().fields()
        assert fields["count"] == 0 and all(v == 0 for v in fields.values())


def test_clear_empties_every_reservoir() -> None:
    for reservoir in (LogBucketSketch(), ExpDecayingReservoir(clock=ManualClock()),
                      SlidingTimeWindowReservoir(clock=ManualClock())):
        for value in range(1, 300):
            reservoir.update(value)
        reservoir.clear()
        assert reservoir.count == 0 and reservoir.snapshot().size == 0
        reservoir.update(5.0)
        assert reservoir.snapshot().fields()["max"] == 5.0


def test_quantile_must_be_in_range() -> None:
    sketch = LogBucketSketch()
    sketch.update(1.0)
    for bad in (-0.1, 1.5, math.nan):
        with pytest.raises(ValueError, match="quantile"):
            sketch.snapshot().value(bad)


def test_concurrent_updates_are_all_counted() -> None:
    for reservoir in (LogBucketSketch(), ExpDecayingReservoir(size=100), SlidingTimeWindowReservoir(3600.0)):
        def work(reservoir: Reservoir = reservoir) -> None:
            for i in range(1, 20_001):
                reservoir.update(float(i % 100 + 1))
                if i % 5_000 == 0:
                    reservoir.snapshot()

        run_threads(4, work)
        snapshot = reservoir.snapshot()
        assert snapshot.count == 80_000
        assert snapshot.sum == 4 * 200 * sum(range(1, 101))


def test_sketch_buckets_match_the_per_value_definition_for_crowded_and_boundary_values() -> None:
    """A folded batch is counted a bucket at a time (sorted, then a binary search per bucket): every
    value must still land in ``ceil(log_gamma(value))``, and values on an edge next to it at worst."""
    gamma = 1.01 / 0.99
    rng = random.Random(11)
    crowded = [abs(rng.gauss(0.4, 0.01)) for _ in range(3 * FOLD_AT)]  # few buckets, many values each
    values = crowded + [rng.lognormvariate(3.0, 2.0) for _ in range(FOLD_AT)]
    logs = [math.log(value, gamma) for value in values]
    values = [v for v, log in zip(values, logs) if abs(log - round(log)) > 1e-6]  # none near an edge
    sketch = LogBucketSketch(0.01)
    for value in values:
        sketch.update(value)
    expected: dict[float, int] = {}
    for value in values:  # the definition, value by value
        bound = gamma ** math.ceil(math.log(value, gamma))
        expected[bound] = expected.get(bound, 0) + 1
    assert {bound: count for bound, count in sketch.buckets()} == pytest.approx(expected, rel=1e-12)

    edges = [gamma**i for i in range(-40, 40)] * (FOLD_AT // 40)  # on an edge, or a rounding away
    on_edges = LogBucketSketch(0.01)
    for value in edges:
        on_edges.update(value)
    _assert_accurate(on_edges, edges)


def test_sketch_update_still_refuses_bad_values_after_folds() -> None:
    sketch = LogBucketSketch()
    for i in range(FOLD_AT + 3):
        sketch.update(float(i % 50 + 1))
    for bad in (math.nan, -math.inf, "1", None):
        with pytest.raises((TypeError, ValueError)):
            sketch.update(bad)  # type: ignore[arg-type]
    assert sketch.count == FOLD_AT + 3


def test_sketch_folds_values_near_the_largest_float() -> None:
    values = [1.5e308, 1.79e308, 1e300, 2.0] * (FOLD_AT // 4)  # gamma**index of 1.79e308 overflows
    sketch = LogBucketSketch()
    for value in values:
        sketch.update(value)
    assert sketch.count == len(values) and len(sketch.pending) == 0
    assert (sketch.snapshot().min, sketch.snapshot().max) == (2.0, 1.79e308)
