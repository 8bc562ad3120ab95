"""The registry: get-or-create, one type per name, tags, snapshots, gauges that fail, threads."""

from __future__ import annotations

import math

import pytest
from core_threads import run_threads

from graphmetrics import (
    Counter,
    ExpDecayingReservoir,
    Histogram,
    LogBucketSketch,
    ManualClock,
    Meter,
    MetricsRegistry,
    SlidingTimeWindowReservoir,
    Timer,
)
from graphmetrics.gauges import CallbackGauge, SimpleGauge
from graphmetrics.snapshots import PERCENTILES

HISTOGRAM_FIELDS = {"count", "sum", "avg", "min", "max", "std_dev"} | {field for field, _ in PERCENTILES}
METER_FIELDS = {"count", "mean_rate", "1m_rate", "5m_rate", "15m_rate"}


def test_get_or_create_returns_the_same_metric() -> None:
    registry = MetricsRegistry()
    assert registry.counter("a") is registry.counter("a")
    assert registry.meter("m") is registry.meter("m")
    assert registry.histogram("h") is registry.histogram("h")
    assert registry.timer("t") is registry.timer("t")
    assert registry.gauge("g") is registry.gauge("g")
    assert isinstance(registry.counter("a"), Counter) and isinstance(registry.meter("m"), Meter)
    assert isinstance(registry.histogram("h"), Histogram) and isinstance(registry.timer("t"), Timer)


@pytest.mark.parametrize("first", ["counter", "meter", "histogram", "timer", "gauge"])
@pytest.mark.parametrize("second", ["counter", "meter", "histogram", "timer", "gauge"])
def test_one_name_is_one_type(first: str, second: str) -> None:
    registry = MetricsRegistry()
    metric = getattr(registry, first)("x")
    if first == second:
        assert getattr(registry, second)("x") is metric
    else:
        with pytest.raises(TypeError, match=f"'x' is a {first}, not a {second}"):
            getattr(registry, second)("x")
    assert list(registry.snapshot()) in ([], ["x"])  # nothing created by the refused request


def test_names_are_sanitised_and_unclean_spellings_find_the_same_metric() -> None:
    registry = MetricsRegistry()
    counter = registry.counter("GET /users")
    assert registry.counter("GET_/users") is counter is registry.counter("GET__users")
    counter.inc()
    assert registry.snapshot() == {"GET__users": {"count": 1}}
    assert registry.get_metrics("GET /users") == {"count": 1}


def test_a_raw_name_that_looks_like_a_tagged_key_is_not_the_tagged_metric() -> None:
    registry = MetricsRegistry()
    tagged = registry.counter("a", tags={"x": "1"})
    plain = registry.counter("a;x=1")
    assert plain is not tagged
    assert set(registry.snapshot()) == {"a;x=1", "a_x_1"}


def test_tags_make_separate_series() -> None:
    registry = MetricsRegistry()
    eu = registry.counter("requests", tags={"dc": "eu", "app": "hello"})
    us = registry.counter("requests", tags={"dc": "us", "app": "hello"})
    assert eu is not us and registry.counter("requests", tags={"app": "hello", "dc": "eu"}) is eu
    eu.inc(2)
    us.inc()
    assert registry.snapshot() == {
        "requests;app=hello;dc=eu": {"count": 2},
        "requests;app=hello;dc=us": {"count": 1},
    }
    with pytest.raises(TypeError):
        registry.meter("requests", tags={"dc": "eu", "app": "hello"})


def test_snapshot_fields_per_type() -> None:
    clock = ManualClock()
    registry = MetricsRegistry(clock=clock)
    registry.counter("c").inc(3)
    registry.meter("m").mark()
    histogram = registry.histogram("h")
    for value in range(1, 101):
        histogram.update(value)
    with registry.timer("t").time():
        clock.advance(0.02)
    registry.gauge("g", 1.5)
    snapshot = registry.snapshot()
    assert snapshot["c"] == {"count": 3}
    assert set(snapshot["m"]) == METER_FIELDS
    assert set(snapshot["h"]) == HISTOGRAM_FIELDS
    assert set(snapshot["t"]) == HISTOGRAM_FIELDS | METER_FIELDS
    assert snapshot["g"] == {"value": 1.5}
    assert snapshot["h"]["count"] == 100 and type(snapshot["h"]["count"]) is int
    assert snapshot["h"]["sum"] == 5050 and snapshot["h"]["max"] == 100
    assert snapshot["h"]["50_percentile"] == pytest.approx(50, rel=0.01)
    assert snapshot["t"]["count"] == 1 and snapshot["t"]["max"] == pytest.approx(20.0)  # milliseconds
    assert type(snapshot["t"]["count"]) is int and type(snapshot["m"]["count"]) is int


def test_registry_clock_drives_meters_timers_and_reservoirs() -> None:
    clock = ManualClock(500.0)
    registry = MetricsRegistry(clock=clock)
    meter = registry.meter("m")
    window = registry.histogram("w", reservoir=SlidingTimeWindowReservoir(window=10.0))
    meter.mark(3)
    window.update(1.0)
    timer = registry.timer("t", unit="s")
    context = timer.time()
    clock.advance(11.0)
    assert context.stop() == 11.0
    assert meter.get_one_minute_rate() == pytest.approx(0.6 * math.exp(-5 / 60))  # two ticks: 0.6, decayed
    assert window.snapshot().size == 0  # the registry's clock moved the window
    assert registry.snapshot()["w"]["count"] == 1


def test_failing_gauges_are_left_out_and_counted() -> None:
    registry = MetricsRegistry()
    registry.gauge("ok", lambda: 2)
    registry.gauge("raises", lambda: 1 / 0)
    registry.gauge("not_a_number", lambda: "many")
    registry.gauge("unset")  # NaN until set: nothing to report, not an error
    registry.counter("c").inc()
    assert registry.snapshot() == {"ok": {"value": 2}, "c": {"count": 1}}
    assert registry.gauge_errors == 2
    assert registry.get_metrics("raises") == {}
    assert registry.gauge_errors == 3


def test_gauge_set_and_callback_semantics() -> None:
    registry = MetricsRegistry()
    gauge = registry.gauge("temp", 20.5)
    assert isinstance(gauge, SimpleGauge)
    assert registry.gauge("temp", 21.0) is gauge and gauge.get_value() == 21.0
    callback = registry.gauge("depth", lambda: 1)
    assert isinstance(callback, CallbackGauge)
    assert registry.gauge("depth", lambda: 2) is callback and callback.get_value() == 2  # replaced
    with pytest.raises(TypeError, match="set value"):
        registry.gauge("temp", lambda: 3)
    with pytest.raises(TypeError, match="callback"):
        registry.gauge("depth", 4.0)
    with pytest.raises(TypeError, match="number or a callable"):
        registry.gauge("temp", "hot")  # type: ignore[arg-type]
    assert gauge.get_value() == 21.0


def test_histogram_reservoir_choice_and_conflicts() -> None:
    registry = MetricsRegistry(clock=ManualClock())
    default = registry.histogram("d")
    assert isinstance(default.reservoir, LogBucketSketch)
    decaying = registry.histogram("e", reservoir=ExpDecayingReservoir())
    assert registry.histogram("e", reservoir=ExpDecayingReservoir()) is decaying
    assert registry.histogram("e") is decaying
    with pytest.raises(TypeError, match="ExpDecayingReservoir, not a LogBucketSketch"):
        registry.histogram("e", reservoir=LogBucketSketch())
    with pytest.raises(TypeError, match="not a reservoir"):
        registry.histogram("x", reservoir=[])  # type: ignore[arg-type]


def test_timer_unit_conflict() -> None:
    registry = MetricsRegistry()
    timer = registry.timer("t", unit="us")
    assert registry.timer("t", unit="us") is timer
    with pytest.raises(ValueError, match="unit 'us', not 'ms'"):
        registry.timer("t")
    with pytest.raises(ValueError, match="unit must be one of"):
        registry.timer("u", unit="minutes")


def test_bucket_snapshot_covers_sketch_histograms_and_timers_only() -> None:
    clock = ManualClock()
    registry = MetricsRegistry(clock=clock)
    for value in (1.0, 1.0, 100.0):
        registry.histogram("h").update(value)
    registry.histogram("decaying", reservoir=ExpDecayingReservoir()).update(1.0)
    with registry.timer("t").time():
        clock.advance(0.001)
    registry.counter("c").inc()
    buckets = registry.bucket_snapshot()
    assert set(buckets) == {"h", "t"}
    assert [count for _, count in buckets["h"]] == [2, 1]
    assert buckets["h"][0][0] == pytest.approx(1.0, rel=0.021) and buckets["t"][0][1] == 1


def test_add_registers_a_built_metric_once() -> None:
    registry = MetricsRegistry()
    histogram = Histogram(ExpDecayingReservoir(size=10))
    registry.add("custom", histogram)
    assert registry.histogram("custom") is histogram
    with pytest.raises(LookupError, match="already registered"):
        registry.add("custom", Counter())
    with pytest.raises(TypeError, match="not a metric"):
        registry.add("other", object())  # type: ignore[arg-type]


def test_clear_forgets_everything() -> None:
    registry = MetricsRegistry()
    old = registry.counter("GET /x")
    registry.counter("t", tags={"k": "v"})
    registry.clear()
    assert registry.snapshot() == {}
    assert registry.counter("GET /x") is not old


def test_concurrent_creation_yields_one_metric_and_exact_counts() -> None:
    registry = MetricsRegistry()
    seen: list[Counter] = []

    def work() -> None:
        for i in range(2_000):
            counter = registry.counter(f"c{i % 50}")
            counter.inc()
            if i == 0:
                seen.append(counter)
            if i % 500 == 0:
                registry.snapshot()

    run_threads(8, work)
    assert len({id(counter) for counter in seen}) == 1
    snapshot = registry.snapshot()
    assert len(snapshot) == 50 and all(fields == {"count": 8 * 40} for fields in snapshot.values())


def test_two_names_that_sanitise_to_one_metric_are_warned_about_once(caplog: pytest.LogCaptureFixture) -> None:
    """Found: hits/s, hits_s and hits s silently merged into one metric."""
    import logging

    registry = MetricsRegistry()
    with caplog.at_level(logging.WARNING, logger="graphmetrics.registry"):
        registry.counter("hits_s").inc()
        registry.counter("hits/s").inc()
        registry.counter("hits/s").inc()  # the same name again: no new warning
        registry.counter("hits s").inc()
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "metric names 'hits_s' and 'hits/s' are one metric, 'hits_s': both sanitise to it",
        "metric names 'hits_s' and 'hits s' are one metric, 'hits_s': both sanitise to it",
    ]
    assert registry.counter("hits_s").get_count() == 4


def test_a_sanitised_name_says_which_metric_it_becomes(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    registry = MetricsRegistry()
    with caplog.at_level(logging.WARNING, logger="graphmetrics.registry"):
        registry.counter("hits/s").inc()
        registry.counter("hits/s").inc()
        registry.counter("hits_s").inc()  # found by its key at once: the first warning said so
        registry.counter("hits s").inc()
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "metric name 'hits/s' is reported as 'hits_s': any other name that becomes 'hits_s', that one "
        "included, is the same metric",
        "metric names 'hits/s' and 'hits s' are one metric, 'hits_s': both sanitise to it",
    ]


def test_the_read_side_is_what_snapshot_is_made_of() -> None:
    """generation, keys(), get(), read() and buckets(): the public contract every reader uses."""
    registry = MetricsRegistry(clock=ManualClock())
    start = registry.generation
    registry.counter("c").inc(2)
    registry.histogram("h").update(3.0)
    registry.histogram("w", SlidingTimeWindowReservoir()).update(1.0)
    registry.timer("t", tags={"k": "v"}).update(0.5)
    registry.gauge("broken", lambda: 1 / 0)
    registry.meter("m")
    assert registry.generation == start + 6
    keys = registry.keys()
    assert keys == ["c", "h", "w", "broken", "m", "t;k=v"]  # untagged first, then tagged: snapshot order
    metrics = [registry.get(key) for key in keys]
    assert all(metric is not None for metric in metrics) and registry.get("nothing") is None
    fields = {key: registry.read(metric) for key, metric in zip(keys, metrics)}  # type: ignore[arg-type]
    assert fields.pop("broken") is None and registry.gauge_errors == 1
    assert fields == registry.snapshot() and registry.gauge_errors == 2  # snapshot() read it again
    assert {key: metric.fields() for key, metric in zip(keys, metrics) if key != "broken"} == fields  # type: ignore[union-attr]
    buckets = {key: registry.buckets(metric) for key, metric in zip(keys, metrics)}  # type: ignore[arg-type]
    assert {key for key, found in buckets.items() if found is not None} == {"h", "t;k=v"}  # sketches only
    assert {key: found for key, found in buckets.items() if found is not None} == registry.bucket_snapshot()
    assert registry.generation == start + 6  # reading changes nothing
    registry.clear()
    assert registry.get("c") is None and registry.keys() == [] and registry.generation == start + 7


@pytest.mark.parametrize("kind", ["counter", "meter", "histogram", "timer"])
def test_the_tagless_fast_path_finds_what_the_general_path_made(kind: str) -> None:
    """counter()/meter()/histogram()/timer() with a plain name look it up inline (four copies of one
    fast path); each must return the metric the general get-or-create made, under any spelling."""
    registry = MetricsRegistry()
    get = getattr(registry, kind)
    made = get("GET /users", tags={})  # tags={}: the general path, as a plain name
    assert get("GET /users") is made and get("GET__users") is made and registry.get("GET__users") is made
    with pytest.raises(TypeError):
        (registry.meter if kind == "counter" else registry.counter)("GET /users")
