"""pyformance's metric classes and stats, as pyformance documents them, on graphmetrics (both modes)."""

from __future__ import annotations

import math

import pytest

from graphmetrics import ManualClock
from graphmetrics.compat.pyformance.meters import CallbackGauge, Counter, Histogram, Meter, SimpleGauge, Timer
from graphmetrics.compat.pyformance.stats import ExpDecayingSample, ExpWeightedMovingAvg, SlidingTimeWindowSample
from graphmetrics.compat.pyformance.stats.snapshot import Snapshot
from graphmetrics.reservoirs import LogBucketSketch, SlidingTimeWindowReservoir


def test_counter_takes_pyformances_keyword() -> None:
    counter = Counter()
    counter.inc()
    counter.inc(val=5)
    counter.dec(val=2)
    counter.dec()
    assert counter.get_count() == 3
    counter.clear()
    assert counter.get_count() == 0
    with pytest.raises(TypeError):
        counter.inc(val=0.5)  # counts stay ints (docs/library.md)
    assert counter.get_count() == 0


def test_meter_takes_pyformances_keyword_and_rates_are_per_second() -> None:
    clock = ManualClock()
    meter = Meter(clock=clock)
    meter.mark(value=10)
    meter.mark()
    clock.advance(5.0)  # one 5-second tick: the first sets every average to the instant rate
    assert meter.get_count() == 11
    assert meter.get_one_minute_rate() == pytest.approx(11 / 5)
    assert meter.get_five_minute_rate() == pytest.approx(11 / 5)
    assert meter.get_mean_rate() == pytest.approx(11 / 5)
    clock.advance(60.0)  # twelve empty ticks decay the one-minute average by e^-1
    assert meter.get_one_minute_rate() == pytest.approx(11 / 5 * math.exp(-1.0))


def test_histogram_built_directly_keeps_pyformances_sample_size() -> None:
    histogram = Histogram(size=3, alpha=0.015, clock=ManualClock())
    for value in (1, 2, 3, 4, 5):
        histogram.add(value)
    assert histogram.get_count() == 5
    assert histogram.get_snapshot().get_size() == 3  # a sample of `size` values


def test_histogram_readers_are_pyformances() -> None:
    histogram = Histogram(sample=SlidingTimeWindowReservoir(60.0), clock=ManualClock())
    for value in (5, 10, 15, 20):
        histogram.add(value)
    assert (histogram.get_count(), histogram.get_sum()) == (4, 50)
    assert (histogram.get_min(), histogram.get_max(), histogram.get_mean()) == (5, 20, 12.5)
    assert histogram.get_var() == pytest.approx(125 / 3)  # sample variance, as pyformance's
    assert histogram.get_stddev() == pytest.approx(math.sqrt(125 / 3))
    snapshot = histogram.get_snapshot()
    assert (snapshot.get_median(), snapshot.get_75th_percentile(), snapshot.get_99th_percentile()) == (12.5, 18.75, 20)


def test_sampled_values_come_back_as_recorded_the_sketchs_as_floats() -> None:
    sampled = Histogram()  # pyformance's decaying sample keeps the recorded objects, as pyformance does
    sketched = Histogram(sample=LogBucketSketch())  # a registry's default: values kept as floats
    for value in (3, 7):
        sampled.add(value)
        sketched.add(value)
    for histogram, kind in ((sampled, int), (sketched, float)):
        readings = [histogram.get_min(), histogram.get_max(), histogram.get_snapshot().get_999th_percentile()]
        assert readings == [3, 7, 7] and all(type(value) is kind for value in readings), kind


def test_an_empty_histogram_reads_zeros_not_pyformances_sentinels() -> None:
    histogram = Histogram()
    assert (histogram.get_min(), histogram.get_max(), histogram.get_mean(), histogram.get_stddev()) == (0, 0, 0, 0)
    assert histogram.get_snapshot().get_median() == 0  # pyformance: 2147483647.0 / -2147483647.0 for min/max


def test_timer_reports_seconds_and_stop_returns_them() -> None:
    clock = ManualClock()
    timer = Timer(clock=clock)
    context = timer.time()
    clock.advance(0.25)
    assert context.stop() == 0.25
    with timer.time(fn="job"):  # pyformance passes these on to its signal: accepted
        clock.advance(0.75)
    timer._update(0.5)  # pyformance's name for a duration measured elsewhere
    assert timer.get_count() == 3 and timer.get_sum() == pytest.approx(1.5)
    assert (timer.get_min(), timer.get_max()) == (0.25, 0.75)
    assert timer.get_snapshot().get_median() == 0.5
    assert timer.get_mean_rate() > 0 and timer.get_one_minute_rate() == 0.0


def test_timer_feeds_its_sink_in_seconds_and_keeps_its_threshold() -> None:
    class Sink:
        def __init__(self) -> None:
            self.seconds: list[float] = []

        def add(self, seconds: float) -> None:
            self.seconds.append(seconds)

    clock, sink = ManualClock(), Sink()
    timer = Timer(threshold=0.1, clock=clock, sink=sink)
    with timer.time():
        clock.advance(0.2)
    timer._update(0.05)
    assert sink.seconds == [0.2, 0.05] and timer.get_count() == 2 and timer.threshold == 0.1


def test_gauges() -> None:
    gauge = SimpleGauge()
    assert math.isnan(gauge.get_value())
    gauge.set_value(4)
    assert gauge.get_value() == 4 and SimpleGauge(value=2).get_value() == 2
    assert CallbackGauge(callback=lambda: 9).get_value() == 9


def test_snapshot_from_values_interpolates_as_pyformance_documents() -> None:
    snapshot = Snapshot([5, 1, 4, 2, 3])
    assert snapshot.get_size() == 5
    assert (snapshot.get_median(), snapshot.get_75th_percentile(), snapshot.get_95th_percentile()) == (3, 4.5, 5)
    assert snapshot.get_percentile(0.0) == 1 and snapshot.get_percentile(percentile=1.0) == 5
    with pytest.raises(ValueError):
        snapshot.get_percentile(1.5)
    assert Snapshot([]).get_median() == 0


def test_moving_average_first_tick_sets_the_rate_later_ones_blend_it_in() -> None:
    clock = ManualClock()
    ewma = ExpWeightedMovingAvg(period=1, clock=clock)
    ewma.add(10)
    assert ewma.get_rate() == 0.0  # no tick yet: less than `interval` has passed
    clock.advance(5.0)
    assert ewma.get_rate() == pytest.approx(2.0)  # 10 events in 5 s
    clock.advance(5.0)
    assert ewma.get_rate() == pytest.approx(2.0 * math.exp(-5 / 60))  # no events: decays
    ewma.add(30)
    clock.advance(10.0)  # a late tick weighs the 10 s it covers
    expected = 2.0 * math.exp(-5 / 60)
    expected += (1 - math.exp(-10 / 60)) * (3.0 - expected)
    assert ewma.get_rate() == pytest.approx(expected)
    with pytest.raises(ValueError):
        ExpWeightedMovingAvg(period=0)


def test_samples_are_reservoirs_with_pyformances_readers() -> None:
    clock = ManualClock()
    decaying = ExpDecayingSample(size=2, alpha=0.015, clock=clock)
    for value in (1, 2, 3):
        decaying.update(value)
    assert decaying.get_size() == 2 and decaying.get_snapshot().get_size() == 2
    window = SlidingTimeWindowSample(window=10, clock=clock)
    window.update(1)
    clock.advance(10.0)
    window.update(2)
    assert window.get_snapshot().get_median() == 2  # the value one window old is gone
    assert SlidingTimeWindowSample.DEFAULT_WINDOW == SlidingTimeWindowSample().window == 300
