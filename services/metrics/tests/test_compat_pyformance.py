"""pyformance compatibility: the same code runs against both after changing only the import."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import ModuleType

import pyformance
import pytest

import graphmetrics.compat.pyformance as compat
from graphmetrics import ManualClock
from graphmetrics.names import sanitize_name


@pytest.fixture(autouse=True)
def fresh_global_registries() -> Iterator[None]:
    saved = pyformance.global_registry(), compat.global_registry()
    pyformance.set_global_registry(pyformance.MetricsRegistry())
    compat.set_global_registry(compat.MetricsRegistry())
    yield
    pyformance.set_global_registry(saved[0])
    compat.set_global_registry(saved[1])


def test_every_public_pyformance_name_exists() -> None:
    for name, value in vars(pyformance).items():
        if not name.startswith("_") and not isinstance(value, ModuleType) and name != "call_too_long":
            assert hasattr(compat, name), name
    from graphmetrics.compat.pyformance import Counter, Histogram, Meter, MetricsRegistry, Timer  # noqa: F401


def application(lib: ModuleType) -> dict[str, dict[str, float]]:
    """Code written for pyformance: explicit registry, module helpers, decorators, read-out calls."""
    registry = lib.MetricsRegistry(clock=time)
    registry.counter("requests").inc()
    registry.counter("requests").inc(2)
    registry.counter("requests").dec()
    for value in (5, 10, 15, 20):
        registry.histogram("sizes").add(value)
    registry.meter("hits").mark(3)
    with registry.timer("latency").time():
        pass
    registry.gauge("queue", lambda: 7)
    lib.counter("global_counter").inc(4)
    lib.histogram("global_hist").add(2)
    lib.meter("global_meter").mark()
    with lib.timer("global_timer").time(fn="work"):
        pass
    lib.gauge("global_gauge", lambda: 1.5)

    @lib.count_calls
    def counted() -> int:
        return 1

    @lib.meter_calls
    def metered() -> int:
        return 2

    @lib.time_calls
    def timed() -> int:
        return 3

    assert counted() + metered() + timed() == 6
    assert registry.get_metrics("requests") == {"count": 2}
    assert registry._get_counter_metrics("sizes") == {}
    assert registry._get_histogram_metrics("requests") == {}
    assert set(registry._get_meter_metrics("hits")) >= {"count", "mean_rate", "1m_rate"}
    assert registry._get_timer_metrics("latency")["count"] == 1
    assert registry._get_gauge_metrics("queue") == {"value": 7}
    return {**registry.dump_metrics(), **lib.dump_metrics()}


def test_the_same_application_code_runs_on_both() -> None:
    theirs = {sanitize_name(key): fields for key, fields in application(pyformance).items()}
    ours = application(compat)
    assert set(ours) == set(theirs)  # same metrics, under names made safe for Graphite
    for key, fields in theirs.items():
        assert set(ours[key]) >= set(fields), key  # every field pyformance users graph is there
        if "count" in fields:
            assert ours[key]["count"] == fields["count"] and type(ours[key]["count"]) is int, key
    for field in ("avg", "min", "max", "count"):
        assert ours["sizes"][field] == theirs["sizes"][field]
    assert ours["sizes"]["std_dev"] == pytest.approx(theirs["sizes"]["std_dev"])
    assert ours["application._locals_.counted_calls"] == {"count": 1} and ours["queue"] == {"value": 7}


def test_hist_calls_works_where_pyformances_fails() -> None:
    @pyformance.hist_calls
    def broken() -> int:
        return 42

    with pytest.raises(AttributeError):  # pyformance calls Histogram.update, which it never defined
        broken()

    @compat.hist_calls
    def works() -> int:
        return 42

    assert works() == 42 and works() == 42
    fields = compat.dump_metrics()[sanitize_name(f"{works.__qualname__}_calls")]
    assert fields["count"] == 2 and fields["max"] == 42


def test_one_name_one_metric_instead_of_pyformances_silent_merge() -> None:
    theirs = pyformance.MetricsRegistry()
    theirs.counter("x").inc()
    theirs.meter("x").mark()
    assert set(theirs.dump_metrics()["x"]) > {"count"}  # two metrics folded into one report
    ours = compat.MetricsRegistry()
    ours.counter("x").inc()
    with pytest.raises(TypeError, match="is a counter, not a meter"):
        ours.meter("x")


def test_timers_report_milliseconds_and_can_keep_seconds() -> None:
    clock = ManualClock()
    registry = compat.MetricsRegistry(clock=clock)
    with registry.timer("ms").time():
        clock.advance(0.5)
    with registry.timer("s", unit="s").time():
        clock.advance(0.5)
    assert registry.get_metrics("ms")["max"] == 500.0 and registry.get_metrics("s")["max"] == 0.5


def test_clear_and_set_global_registry() -> None:
    compat.counter("a").inc()
    compat.clear()
    assert compat.dump_metrics() == {}
    mine = compat.MetricsRegistry()
    compat.set_global_registry(mine)
    compat.counter("b").inc()
    assert compat.global_registry() is mine and mine.dump_metrics() == {"b": {"count": 1}}
    with pytest.raises(TypeError):
        compat.set_global_registry(pyformance.MetricsRegistry())  # type: ignore[arg-type]


def test_decaying_reservoir_matches_pyformances_default_sampling_but_weighs_quantiles() -> None:
    clock = ManualClock()
    ours = compat.Histogram(compat.ExpDecayingReservoir(), clock=clock)
    theirs = pyformance.meters.Histogram(clock=clock)
    for _ in range(40):
        ours.add(177)
        theirs.add(177)
    clock.advance(120.0)
    for _ in range(10):
        ours.add(9999)
        theirs.add(9999)
    assert theirs.get_snapshot().get_median() == 177  # unweighted: old values dominate
    assert ours.get_snapshot().get_median() == 9999  # Dropwizard: new values weigh ~6x
