"""Runtime metrics: reactor lag on a deterministic clock, and process gauges that move when the process does."""

from __future__ import annotations

import gc
import os
import threading

import pytest
from twisted.internet.task import Clock

from graphmetrics.registry import MetricsRegistry
from helloworld.runtime import LAG_METRIC, ReactorLagProbe, process_gauges, register_process_gauges


def lag(registry: MetricsRegistry) -> dict[str, float]:
    return registry.snapshot()[LAG_METRIC]


def test_a_call_that_runs_on_time_records_zero_lag() -> None:
    clock, registry = Clock(), MetricsRegistry()
    ReactorLagProbe(clock, registry.histogram(LAG_METRIC), interval=0.5).start()
    clock.pump([0.5] * 4)
    assert lag(registry)["count"] == 4 and lag(registry)["max"] == 0


def test_a_late_call_records_how_late_it_ran_in_ms() -> None:
    clock, registry = Clock(), MetricsRegistry()
    ReactorLagProbe(clock, registry.histogram(LAG_METRIC), interval=0.5).start()
    clock.advance(0.5)
    clock.advance(0.5 + 0.2)  # the reactor was busy: the call due at 1.0 s runs at 1.2 s
    snapshot = lag(registry)
    assert snapshot["count"] == 2
    assert snapshot["max"] == pytest.approx(200.0, rel=0.01) and snapshot["min"] == 0


def test_a_long_stall_is_one_large_lag_not_a_burst_of_calls() -> None:
    clock, registry = Clock(), MetricsRegistry()
    ReactorLagProbe(clock, registry.histogram(LAG_METRIC), interval=0.5).start()
    clock.advance(10.5)
    assert lag(registry)["count"] == 1 and lag(registry)["max"] == pytest.approx(10_000.0, rel=0.01)
    assert [call.getTime() for call in clock.getDelayedCalls()] == [11.0]


def test_stop_cancels_the_pending_call_and_start_is_idempotent() -> None:
    clock, registry = Clock(), MetricsRegistry()
    probe = ReactorLagProbe(clock, registry.histogram(LAG_METRIC), interval=0.5)
    probe.start()
    probe.start()
    assert len(clock.getDelayedCalls()) == 1
    probe.stop()
    assert clock.getDelayedCalls() == []
    probe.stop()


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ReactorLagProbe(Clock(), MetricsRegistry().histogram(LAG_METRIC), interval=0)


def value(registry: MetricsRegistry, name: str) -> float:
    return registry.snapshot()[name]["value"]


@pytest.fixture
def registry() -> MetricsRegistry:
    registry = MetricsRegistry()
    names = register_process_gauges(registry)
    assert names == sorted(f"runtime.{n}" for n in
                           ("cpu_seconds", "gc_collections", "open_fds", "rss_bytes", "threads"))
    return registry


def test_rss_is_that_of_a_python_process(registry: MetricsRegistry) -> None:
    assert 5e6 < value(registry, "runtime.rss_bytes") < 10e9


def test_open_fds_follows_open_and_close(registry: MetricsRegistry) -> None:
    before = value(registry, "runtime.open_fds")
    read_end, write_end = os.pipe()
    try:
        assert value(registry, "runtime.open_fds") == before + 2
    finally:
        os.close(read_end)
        os.close(write_end)
    assert value(registry, "runtime.open_fds") == before


def test_gc_collections_count_every_collection(registry: MetricsRegistry) -> None:
    before = value(registry, "runtime.gc_collections")
    gc.collect()  # a full collection counts once in generation 2
    assert value(registry, "runtime.gc_collections") >= before + 1


def test_threads_follow_a_started_thread(registry: MetricsRegistry) -> None:
    before = value(registry, "runtime.threads")
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert value(registry, "runtime.threads") == before + 1
    finally:
        release.set()
        thread.join()


def test_cpu_seconds_grow_with_work(registry: MetricsRegistry) -> None:
    before = value(registry, "runtime.cpu_seconds")
    total = 0
    while value(registry, "runtime.cpu_seconds") <= before:  # bounded by work done, not by waiting
        total += sum(range(10_000))
    assert value(registry, "runtime.cpu_seconds") > before


def test_gauges_are_plain_numbers() -> None:
    for name, read in process_gauges().items():
        assert isinstance(read(), (int, float)), name
