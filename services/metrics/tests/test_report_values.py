"""Values that cannot become points (issue 15, findings 2 and 3): a 10**400 counter (pickle sent it as
an int carbon cannot float(), which drops the connection and the rest of the read) and a 10**5000 gauge
(``str()`` refuses ints over 4300 digits, which killed every text report). Each is refused where it
becomes a point, counted in ``rejected_points``, logged once per metric; every other point goes out,
on every protocol and in JSON."""

from __future__ import annotations

import json
import logging
import time

import pytest
from carbon_fixture import STEP, Carbon, Sink, carbon_fixture, sink_fixture  # noqa: F401

from graphmetrics.clock import ManualClock
from graphmetrics.registry import MetricsRegistry
from graphmetrics.reporters.carbon import CarbonReporter
from graphmetrics.reporters.hostedgraphite import HostedGraphiteReporter
from graphmetrics.reporters.jsonsnapshot import snapshot_json

KEY = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"


def poisoned_registry(clock: ManualClock) -> MetricsRegistry:
    registry = MetricsRegistry(clock=clock)
    registry.counter("huge").inc(10**400)
    registry.gauge("enormous", lambda: 10**5000)
    for index in range(40):
        registry.counter(f"ok{index:02d}").inc(index + 1)
    return registry


@pytest.mark.carbon
@pytest.mark.parametrize("protocol", ["pickle", "plaintext"])
def test_all_40_normal_counters_are_stored_in_every_report(
    carbon: Carbon, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    start = (int(time.time()) // STEP - 30) * STEP
    clock = ManualClock(start)
    registry = poisoned_registry(clock)
    port = carbon.pickle_port if protocol == "pickle" else carbon.line_port
    reporter = CarbonReporter(registry, "127.0.0.1", port, protocol, "svc", clock=clock)
    with caplog.at_level(logging.WARNING):
        for i in range(3):
            reporter.collect(start + STEP * i)
            assert reporter.flush(timeout=5) is True
            clock.advance(STEP)
    expected = {f"svc.ok{index:02d}.count": {start + STEP * i: float(index + 1) for i in range(3)}
                for index in range(40)}
    found = carbon.wait_for(expected)
    assert {path: found[path] for path in expected} == expected
    assert carbon.points("svc.huge.count") == {} and carbon.points("svc.enormous.value") == {}
    assert registry.counter("graphmetrics.carbon.rejected_points").get_count() == 2 * 3
    assert registry.counter("graphmetrics.carbon.send_failures").get_count() == 0
    refusals = [r.getMessage() for r in caplog.records if "cannot be a point" in r.getMessage()]
    assert len(refusals) == 2  # once per metric, not once per report
    assert any("svc.huge.count" in m for m in refusals) and any("svc.enormous.value" in m for m in refusals)
    assert all(str(10**400)[:20] not in m for m in refusals)  # the value itself is not printed
    reporter.close()


@pytest.mark.parametrize("transport", ["udp", "hostedgraphite-udp"])
def test_text_datagrams_carry_every_other_point(sink: Sink, transport: str) -> None:
    clock = ManualClock(1_700_000_000)
    registry = poisoned_registry(clock)
    if transport == "udp":
        reporter = CarbonReporter(registry, "127.0.0.1", sink.udp_port, "udp", "svc", clock=clock)
    else:
        reporter = HostedGraphiteReporter(registry, KEY, "udp", "svc", host="127.0.0.1", port=sink.udp_port,
                                          clock=clock)
    batch = reporter.collect(1_700_000_000)
    assert reporter.flush() is True
    deadline = time.monotonic() + 5
    while len(sink.datagrams) < len(batch.messages) and time.monotonic() < deadline:
        time.sleep(0.01)
    lines = b"".join(sink.datagrams).decode().splitlines()
    assert sum(".ok" in line for line in lines) == 40
    assert not any(".huge." in line or ".enormous." in line for line in lines)


def test_json_has_every_other_value_and_null_for_the_two() -> None:
    registry = poisoned_registry(ManualClock(1_700_000_000))
    metrics = json.loads(snapshot_json(registry))["metrics"]
    assert metrics["huge"] == {"count": None} and metrics["enormous"] == {"value": None}
    assert metrics["ok39"] == {"count": 40}
