"""CarbonReporter's protocols on the wire, against a plain localhost receiver."""

from __future__ import annotations

import pickle
import struct
import time

import pytest
from carbon_fixture import Sink, sink_fixture  # noqa: F401 - the `sink` fixture

from graphmetrics.clock import ManualClock
from graphmetrics.registry import MetricsRegistry
from graphmetrics.reporters.carbon import PROTOCOLS, CarbonReporter
from graphmetrics.reservoirs import LogBucketSketch

T0 = 1_700_000_000


def registry_with_metrics() -> MetricsRegistry:
    registry = MetricsRegistry(clock=ManualClock(T0))
    registry.counter("hello_called").inc(3)
    histogram = registry.histogram("world_size", reservoir=LogBucketSketch())
    for value in (1.0, 2.0, 100.0):
        histogram.update(value)
    return registry


def unframe(data: bytes) -> list[tuple[str, tuple[int, float]]]:
    points = []
    while data:
        (length,) = struct.unpack("!L", data[:4])
        points += pickle.loads(data[4 : 4 + length])
        data = data[4 + length :]
    return points


def test_plaintext_report_on_the_wire(sink: Sink) -> None:
    reporter = CarbonReporter(registry_with_metrics(), "127.0.0.1", sink.port, "plaintext", "svc.i1")
    batch = reporter.collect(T0)
    assert reporter.flush(timeout=5) is True
    lines = sink.data(batch.nbytes).decode().splitlines()
    assert "svc.i1.hello_called.count 3 1700000000" in lines
    assert "svc.i1.world_size.max 100.0 1700000000" in lines
    assert len(lines) == batch.points
    reporter.close()


def test_pickle_report_on_the_wire(sink: Sink) -> None:
    reporter = CarbonReporter(registry_with_metrics(), "127.0.0.1", sink.port, prefix="svc.i1")
    assert reporter.protocol == "pickle"
    batch = reporter.collect(T0)
    reporter.flush()
    points = dict(unframe(sink.data(batch.nbytes)))
    assert points["svc.i1.hello_called.count"] == (T0, 3)
    assert points["svc.i1.world_size.count"] == (T0, 3)
    assert len(points) == batch.points
    reporter.close()


def test_udp_report_in_datagrams(sink: Sink) -> None:
    registry = registry_with_metrics()
    for i in range(300):
        registry.counter(f"many.counter_{i:03d}").inc(i)
    reporter = CarbonReporter(registry, "127.0.0.1", sink.udp_port, "udp", "svc")
    batch = reporter.collect(T0)
    assert reporter.flush() is True
    deadline = time.monotonic() + 5
    while sum(map(len, sink.datagrams)) < batch.nbytes and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(sink.datagrams) > 1 and all(len(d) <= 8192 for d in sink.datagrams)
    lines = b"".join(sink.datagrams).decode().splitlines()
    assert "svc.many.counter_299.count 299 1700000000" in lines
    assert len(lines) == batch.points


def test_exported_buckets_are_series_named_by_bound(sink: Sink) -> None:
    reporter = CarbonReporter(registry_with_metrics(), "127.0.0.1", sink.port, "plaintext", "svc", export_buckets=True)
    batch = reporter.collect(T0)
    reporter.flush()
    buckets = {
        line.split()[0]: int(line.split()[1])
        for line in sink.data(batch.nbytes).decode().splitlines()
        if ".buckets." in line
    }
    assert sum(buckets.values()) == 3
    assert all(name.startswith("svc.world_size.buckets.") for name in buckets)
    bounds = sorted(float(name.rsplit(".", 1)[1].replace("_", ".")) for name in buckets)
    assert bounds[0] == pytest.approx(1.0, rel=0.02) and bounds[-1] == pytest.approx(100.0, rel=0.02)


def test_default_ports_and_bad_protocol() -> None:
    assert PROTOCOLS == {"pickle": 2004, "plaintext": 2003, "udp": 2003}
    assert ":2004" in repr(CarbonReporter(MetricsRegistry(), "localhost"))
    with pytest.raises(ValueError, match="protocol"):
        CarbonReporter(MetricsRegistry(), "localhost", protocol="http")

