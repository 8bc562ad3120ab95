"""pyformance's registry API on graphmetrics: gauges with ``gauge=``/``default=``, ``add``, the typed
read-outs, ``RegexRegistry`` and the global helpers, as pyformance documents them."""

from __future__ import annotations

import math
import threading

import pytest

from graphmetrics import ManualClock
from graphmetrics.compat.pyformance.meters import Counter, Gauge, Histogram, Meter, SimpleGauge, Timer
from graphmetrics.compat.pyformance.registry import MetricsRegistry, RegexRegistry


def test_gauge_keywords_and_default() -> None:
    registry = MetricsRegistry()
    registry.gauge("callback", gauge=lambda: 3)
    registry.gauge("zero", default=0)
    registry.gauge("five", None, 5)
    registry.gauge("unset")
    assert registry.dump_metrics() == {"callback": {"value": 3}, "zero": {"value": 0}, "five": {"value": 5}}
    assert math.isnan(registry.gauge("unset").get_value())  # NaN until set, and not reported


def test_an_existing_gauge_is_returned_as_it_is() -> None:
    registry = MetricsRegistry()
    first = registry.gauge("g", default=1)
    assert registry.gauge("g", default=2) is first and registry.gauge("g", gauge=lambda: 9) is first
    assert registry.get_metrics("g") == {"value": 1}


def test_gauge_objects_and_refusals() -> None:
    class Depth(Gauge):
        def get_value(self) -> float:
            return 12

    registry = MetricsRegistry()
    depth = Depth()
    assert registry.gauge("depth", depth) is depth
    with pytest.raises(TypeError, match="not callable"):
        registry.gauge("bad", gauge=42)
    assert "bad" not in registry.dump_metrics() and registry.get_metrics("depth") == {"value": 12}


def test_get_or_create_returns_pyformance_flavoured_metrics() -> None:
    registry = MetricsRegistry(clock=ManualClock())
    assert type(registry.counter("c")) is Counter and registry.counter("c") is registry.counter("c")
    assert type(registry.meter("m")) is Meter and type(registry.histogram("h")) is Histogram
    assert type(registry.timer("t")) is Timer and type(registry.gauge("g")) is SimpleGauge
    registry.counter("c").inc(val=2)
    registry.meter("m").mark(value=2)
    registry.histogram("h").add(4)
    assert registry.get_metrics("c") == {"count": 2} and registry.get_metrics("m")["count"] == 2
    assert registry.get_metrics("h")["max"] == 4


def test_concurrent_first_use_makes_one_metric() -> None:
    registry = MetricsRegistry()
    barrier = threading.Barrier(8)
    seen: list[Counter] = []

    def use() -> None:
        barrier.wait()
        counter = registry.counter("shared")
        counter.inc()
        seen.append(counter)

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(counter) for counter in seen}) == 1 and registry.get_metrics("shared") == {"count": 8}


def test_add_and_the_typed_read_outs() -> None:
    registry = MetricsRegistry()
    histogram = Histogram(size=10)
    registry.add("custom", histogram)
    histogram.add(3)
    with pytest.raises(LookupError):
        registry.add("custom", Counter())
    with pytest.raises(TypeError):
        registry.add("other", object())  # type: ignore[arg-type]
    assert registry.histogram("custom") is histogram
    assert registry._get_histogram_metrics("custom")["count"] == 1
    assert registry._get_counter_metrics("custom") == {} and registry._get_timer_metrics("missing") == {}
    with pytest.raises(TypeError, match="is a histogram, not a counter"):
        registry.counter("custom")


def test_clear_forgets_everything() -> None:
    registry = MetricsRegistry()
    old = registry.counter("c")
    registry.clear()
    assert registry.dump_metrics() == {} and registry._get_counter_metrics("c") == {}
    assert registry.counter("c") is not old


def test_regex_registry_groups_names_by_the_patterns_groups() -> None:
    registry = RegexRegistry(pattern=r"^/api/(?P<model>\w+)/\d+/?(?P<verb>\w+)?$")
    for path in ("/api/users/1", "/api/users/2", "/api/users/3/edit"):
        registry.timer(path)._update(0.5)
    metrics = registry.dump_metrics()
    assert metrics["users"]["count"] == 2  # "users/edit" is sanitised for Graphite: users_edit
    assert metrics["users_edit"]["count"] == 1 and registry.get_metrics("users/edit")["count"] == 1
    registry.counter("unmatched").inc()  # pyformance would file it under "", with every other such name
    registry.counter("/api/users").inc(val=2)
    assert registry.get_metrics("unmatched") == {"count": 1} and registry.get_metrics("/api/users") == {"count": 2}
    assert RegexRegistry().counter("anything") is not RegexRegistry().counter("other")
