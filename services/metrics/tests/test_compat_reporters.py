"""pyformance's reporters (constructors, ``start``/``stop``/``report_now``) over the core reporters:
against a real carbon-cache and plain localhost receivers."""

from __future__ import annotations

import io
import os
import socket
import time

import pytest
from carbon_fixture import STEP, Carbon, Sink, carbon_fixture, sink_fixture  # noqa: F401 - fixtures

from graphmetrics.compat.pyformance.registry import MetricsRegistry, RegexRegistry
from graphmetrics.compat.pyformance.reporters import (
    CarbonReporter,
    ConsoleReporter,
    HostedGraphiteReporter,
    UdpCarbonReporter,
)

KEY = "abcd1234-test-key-5678"


def recent_boundary() -> int:
    """A timestamp Whisper keeps (in its retention, not in the future)."""
    return (int(time.time()) // STEP - 1) * STEP


def filled_registry() -> MetricsRegistry:
    registry = MetricsRegistry()
    registry.counter("hello_called").inc(val=3)
    registry.histogram("world_size").add(42)
    return registry


def received_when(sink: Sink, text: str, timeout: float = 10.0) -> str:
    """Everything the sink received once ``text`` is in it (or the deadline passed)."""
    deadline = time.monotonic() + timeout
    while text not in (sent := b"".join(sink.received).decode()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return sent


@pytest.mark.carbon
@pytest.mark.parametrize("pickle_protocol", [False, True])
def test_carbon_reporter_report_now_lands_in_whisper(carbon: Carbon, pickle_protocol: bool) -> None:
    registry = filled_registry()
    port = carbon.pickle_port if pickle_protocol else carbon.line_port
    reporter = CarbonReporter(registry, prefix="app.", server="127.0.0.1", port=port, pickle_protocol=pickle_protocol)
    timestamp = recent_boundary()
    reporter.report_now(timestamp=timestamp)
    reporter.stop()
    found = carbon.wait_for({"app.hello_called.count": {timestamp: 3.0}, "app.world_size.max": {timestamp: 42.0}})
    assert found["app.hello_called.count"][timestamp] == 3.0 and found["app.world_size.max"][timestamp] == 42.0


def test_started_reporter_reports_on_its_interval_and_stop_sends_the_last(sink: Sink) -> None:
    registry = filled_registry()
    reporter = CarbonReporter(registry, reporting_interval=1, server="127.0.0.1", port=sink.port)
    assert reporter.start() is True and reporter.start() is False
    assert "hello_called.count 3 " in received_when(sink, "hello_called.count 3 ")  # reported on its own
    registry.counter("hello_called").inc(val=4)
    reporter.stop()  # returns once the final report is sent (or 5 s passed)
    assert reporter.start() is False  # pyformance: a stopped reporter does not start again
    assert "hello_called.count 7 " in received_when(sink, "hello_called.count 7 ")  # stop()'s final report


def test_a_started_reporter_starts_again_in_a_forked_child(sink: Sink) -> None:
    registry = filled_registry()
    reporter = CarbonReporter(registry, reporting_interval=1, server="127.0.0.1", port=sink.port)
    assert reporter.start()
    pid = os.fork()
    if pid == 0:  # the child: a worker forked from a parent that already reports (celery, gunicorn)
        code = 1
        try:
            registry.counter("hello_called").inc(val=100)
            started = reporter.start()
            reporter.stop()
            code = 0 if started else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    reporter.stop()
    assert os.waitstatus_to_exitcode(status) == 0
    assert "hello_called.count 103 " in received_when(sink, "hello_called.count 103 ")


def test_report_now_for_another_registry(sink: Sink) -> None:
    reporter = CarbonReporter(MetricsRegistry(), server="127.0.0.1", port=sink.port)
    other = filled_registry()
    reporter.report_now(other, timestamp=1700000000)
    other.counter("hello_called").inc()
    reporter.report_now(registry=other, timestamp=1700000010)
    reporter.stop()
    sent = received_when(sink, "hello_called.count 4 1700000010")
    assert "hello_called.count 3 1700000000" in sent and "hello_called.count 4 1700000010" in sent


def test_udp_carbon_reporter(sink: Sink) -> None:
    reporter = UdpCarbonReporter(filled_registry(), server="127.0.0.1", port=sink.udp_port)
    reporter.report_now(timestamp=1700000000)
    deadline = time.monotonic() + 5
    while not sink.datagrams and time.monotonic() < deadline:
        time.sleep(0.01)
    assert b"hello_called.count 3 1700000000\n" in b"".join(sink.datagrams)
    with pytest.raises(ValueError, match="pickle over TCP only"):
        UdpCarbonReporter(MetricsRegistry(), pickle_protocol=True)


def test_refused_configuration_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="socket_factory"):
        CarbonReporter(MetricsRegistry(), socket_factory=lambda *args: socket.socket())
    with pytest.raises(ValueError, match="whole number of seconds"):
        CarbonReporter(MetricsRegistry(), reporting_interval=0.5)
    with pytest.raises(ValueError, match="HTTP url"):
        HostedGraphiteReporter(KEY, MetricsRegistry(), url="https://example.com/sink")
    with pytest.raises(TypeError, match="MetricsRegistry"):
        HostedGraphiteReporter(KEY, registry=object())
    with pytest.raises(TypeError, match="MetricsRegistry, not a dict"):
        ConsoleReporter(registry={})  # type: ignore[arg-type]


@pytest.mark.parametrize("order", ["pyformance", "seed"])
def test_hosted_graphite_takes_both_argument_orders(sink: Sink, order: str) -> None:
    registry = filled_registry()
    endpoint = {"host": "127.0.0.1", "port": sink.port, "transport": "tcp"}
    if order == "pyformance":
        reporter = HostedGraphiteReporter(KEY, registry=registry, reporting_interval=10, **endpoint)
    else:
        reporter = HostedGraphiteReporter(registry, 10, KEY, **endpoint)
    assert reporter.registry is registry and reporter.reporting_interval == 10
    assert KEY not in repr(reporter) and reporter.masked_key in repr(reporter)
    reporter.report_now(timestamp=1700000000)
    reporter.stop()
    assert f"{KEY}.hello_called.count 3 1700000000" in received_when(sink, f"{KEY}.hello_called.count 3 ")


def test_hosted_graphite_key_from_the_environment(sink: Sink, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTEDGRAPHITE_API_KEY", KEY)
    registry = filled_registry()
    reporter = HostedGraphiteReporter(registry=registry, host="127.0.0.1", port=sink.port, transport="tcp")
    reporter.report_now(timestamp=1700000000)
    reporter.stop()
    assert f"{KEY}.hello_called.count 3 1700000000" in received_when(sink, f"{KEY}.hello_called.count 3 ")


def test_console_reporter_writes_a_readable_report() -> None:
    stream = io.StringIO()
    reporter = ConsoleReporter(filled_registry(), stream=stream)
    reporter.report_now(timestamp=1700000000)
    text = stream.getvalue()
    assert "2023-11-14T22:13:20Z" in text and "hello_called" in text
    assert any(line.split() == ["count", "=", "3"] for line in text.splitlines())


def test_a_regex_registry_can_be_reported(sink: Sink) -> None:
    registry = RegexRegistry(pattern=r"^/api/(?P<model>\w+)/\d+$")
    registry.timer("/api/users/7")._update(0.25)
    reporter = CarbonReporter(registry, server="127.0.0.1", port=sink.port)  # its own counters: unmatched names
    reporter.report_now(timestamp=1700000000)
    reporter.stop()
    assert "users.max 0.25 1700000000" in received_when(sink, "users.max ")


def test_stop_counts_what_it_could_not_deliver() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    registry = filled_registry()
    reporter = CarbonReporter(registry, server="127.0.0.1", port=port)
    reporter.start()
    reporter.stop()  # the final report cannot go: after 5 s it is given up, counted and logged
    assert registry.get_metrics("graphmetrics.carbon.dropped_reports")["count"] >= 1
