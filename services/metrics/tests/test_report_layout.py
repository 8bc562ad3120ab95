"""A reporter's layout memo: reports through it are exactly the general ones, and it follows the registry."""

from __future__ import annotations

import pytest

from graphmetrics.clock import ManualClock
from graphmetrics.counters import Counter
from graphmetrics.registry import MetricsRegistry
from graphmetrics.readout import COUNTER_SLICE, CounterRun, Layout, Point, flatten
from graphmetrics.reservoirs import LogBucketSketch

PREFIX = "app.i1"
LONG = ".".join(["x" * 250] * 16 + ["y" * 75])  # a valid 4091-character key whose path is too long to send


class Doubled(Counter):
    """A counter subclass that reads differently: it must not be taken for a plain counter."""

    __slots__ = ()

    def fields(self) -> dict[str, int | float]:
        return {"count": 2 * self.get_count()}


def mixed_registry() -> MetricsRegistry:
    registry = MetricsRegistry(clock=ManualClock(1000.0))
    for index in range(3 * COUNTER_SLICE + 5):
        registry.counter(f"hits.c{index:04d}").inc(index)
    registry.gauge("queue", 7.5)
    registry.meter("m").mark(3)
    registry.histogram("h", LogBucketSketch()).update(12.5)
    registry.counter("tagged", tags={"zone": "eu west"}).inc(2)
    registry.counter(LONG).inc()  # rejected at each report, never sent
    registry.add("doubled", Doubled())
    registry.counter("after").inc(9)
    return registry


def report(layout: Layout, registry: MetricsRegistry, buckets: bool = False) -> tuple[list[Point], int]:
    points: list[Point] = []
    rejected = 0
    for flat in layout.report(registry, buckets):
        points += flat.points
        rejected += flat.rejected
    return points, rejected


def expected(registry: MetricsRegistry, buckets: bool = False) -> tuple[list[Point], int]:
    flat = flatten(registry.snapshot(), PREFIX, registry.bucket_snapshot() if buckets else None)
    return flat.points, flat.rejected


@pytest.mark.parametrize("buckets", [False, True])
def test_every_report_has_exactly_the_general_points_in_snapshot_order(buckets: bool) -> None:
    registry = mixed_registry()
    layout = Layout(PREFIX)
    assert report(layout, registry, buckets) == expected(registry, buckets)  # learning
    registry.counter("hits.c0001").inc(100)
    doubled = registry.get("doubled")
    assert isinstance(doubled, Doubled)
    doubled.inc(5)
    points, rejected = report(layout, registry, buckets)  # through the layout
    assert (points, rejected) == expected(registry, buckets)
    assert rejected == 1 and dict(points)[f"{PREFIX}.doubled.count"] == 10


def test_the_layout_keeps_runs_of_plain_counters_and_nothing_else() -> None:
    registry = mixed_registry()
    layout = Layout(PREFIX)
    report(layout, registry)
    assert layout._known is not None and layout._known[0] == registry.generation
    runs = [segment for segment in layout._known[1] if isinstance(segment, CounterRun)]
    general = [key for segment in layout._known[1] if isinstance(segment, list) for key in segment]
    assert runs[0].keys[:2] == ["hits.c0000", "hits.c0001"] and len(runs[0].keys) == 3 * COUNTER_SLICE + 5
    assert runs[0].paths[1] == f"{PREFIX}.hits.c0001.count"
    assert all(type(counter) is Counter for run in runs for counter in run.counters)
    assert {"queue", "m", "h", LONG, "doubled"} <= set(general)
    assert runs[-1].keys == ["after", "tagged;zone=eu_west"]  # tagged keys come after the plain ones


def test_a_counter_read_through_the_layout_is_read_at_each_report() -> None:
    registry = MetricsRegistry()
    counter = registry.counter("c")
    layout = Layout("")
    report(layout, registry)
    for value in (1, 5, 12):
        counter.inc(value - counter.get_count())
        assert report(layout, registry)[0] == [("c.count", value)]


def test_a_metric_registered_later_is_in_the_next_report() -> None:
    registry = MetricsRegistry()
    registry.counter("a").inc()
    layout = Layout("")
    report(layout, registry)
    report(layout, registry)
    registry.counter("b").inc(2)
    registry.gauge("g", 3)
    assert report(layout, registry)[0] == [("a.count", 1), ("b.count", 2), ("g.value", 3)]
    assert report(layout, registry)[0] == [("a.count", 1), ("b.count", 2), ("g.value", 3)]


def test_metrics_cleared_during_a_report_are_left_out_of_the_rest() -> None:
    registry = MetricsRegistry()
    for index in range(3 * COUNTER_SLICE):
        registry.counter(f"c{index:04d}").inc()
    layout = Layout("")
    report(layout, registry)
    slices = layout.report(registry)
    first = next(slices)
    assert len(first.points) == COUNTER_SLICE
    registry.clear()
    assert [point for flat in slices for point in flat.points] == []
    assert report(layout, registry) == ([], 0)


def test_a_layout_learnt_while_the_registry_changed_is_not_kept() -> None:
    registry = MetricsRegistry()
    for index in range(40):
        registry.counter(f"c{index:02d}").inc()
    layout = Layout("")
    slices = layout.report(registry)
    next(slices)
    registry.counter("late").inc()
    rest = [point for flat in slices for point in flat.points]
    assert len(rest) == 40 - 16  # the report covers what was registered when it started
    assert layout._known is None
    assert [path for path, _ in report(layout, registry)[0]][-1] == "late.count"


def test_registering_or_clearing_bumps_the_version_and_lookups_do_not() -> None:
    registry = MetricsRegistry()
    start = registry.generation
    registry.counter("a")
    registry.counter("a").inc()
    registry.timer("t")
    registry.timer("t")
    assert registry.generation == start + 2
    registry.add("b", Counter())
    registry.clear()
    assert registry.generation == start + 4
