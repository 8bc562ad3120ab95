"""Delivery against real carbon (carbon-cache, carbon-aggregator) and fault-injecting peers on 127.0.0.1:
an idle-closing proxy, a reset after read, a slow reader, a black hole, a listener that never accepts,
an outage longer than the buffer. Reporting time is a manual clock; sockets and carbon are real; every
wait is bounded."""

from __future__ import annotations

import functools
import logging
import pickle
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from carbon_fixture import CARBON_CACHE, STEP, Aggregator, Carbon, carbon_fixture, report_interval  # noqa: F401
from fault_peers import BlackHole, IdleClosingProxy, NeverAccepts, ResetAfterRead, SlowReader

from graphmetrics.clock import ManualClock
from graphmetrics.readout import STREAM_MESSAGE_BYTES
from graphmetrics.registry import MetricsRegistry
from graphmetrics.reporters.backoff import Backoff
from graphmetrics.reporters.batching import BatchReporter
from graphmetrics.reporters.carbon import CarbonReporter
from graphmetrics.reporters.transport import TcpTransport
from graphmetrics.reporters.wire import FRAMES, LINES, pickle_frames, plaintext_messages

pytestmark = pytest.mark.carbon


def recent_boundary(intervals_ago: int) -> int:
    return (int(time.time()) // STEP - intervals_ago) * STEP


def own(registry: MetricsRegistry, name: str, reporter: str = "carbon") -> int:
    return int(registry.counter(f"graphmetrics.{reporter}.{name}").get_count())


@pytest.fixture(name="aggregated")
def aggregated_fixture(tmp_path: Path) -> Iterator[tuple[Carbon, Aggregator]]:
    if not CARBON_CACHE.exists():
        pytest.skip("carbon is not installed")
    cache = Carbon(tmp_path / "cache")
    aggregator = Aggregator(tmp_path / "aggregator", cache, "all.<metric> (1) = sum app.*.<<metric>>\n")
    cache.start()
    aggregator.start()
    try:
        yield cache, aggregator
    finally:
        aggregator.stop(graceful=False)
        cache.stop(graceful=False)


def test_an_idle_closing_proxy_into_an_aggregator_multiplies_nothing(aggregated: tuple[Carbon, Aggregator]) -> None:
    """Finding 1: a hop closing idle connections between reports made every report go again."""
    cache, aggregator = aggregated
    proxy = IdleClosingProxy(aggregator.pickle_port, idle=0.3).serve()
    start = recent_boundary(60)
    clock = ManualClock(start)
    registry = MetricsRegistry(clock=clock)
    hits = registry.counter("hits")
    reporter = CarbonReporter(registry, "127.0.0.1", proxy.port, "pickle", "app.i1", clock=clock)
    try:
        for i in range(6):
            hits.inc(i + 1)
            reporter.collect(start + STEP * i)
            assert reporter.flush(timeout=5) is True  # written and acknowledged
            deadline = time.monotonic() + 10
            while proxy.closed <= i and time.monotonic() < deadline:  # the proxy closes the idle connection
                time.sleep(0.05)
            clock.advance(STEP)
        assert len(proxy.connections) == 6
        expected = {start + STEP * i: float(sum(range(1, i + 2))) for i in range(6)}
        assert cache.wait_for({"all.hits.count": expected}, timeout=30)["all.hits.count"] == expected
        assert own(registry, "points_resent") == 0
        assert own(registry, "send_failures") == 0
        assert own(registry, "points_acknowledged") == own(registry, "points_written") > 6
    finally:
        reporter.close()
        proxy.close()


def units(data: bytes, framing: object) -> list[object]:
    """The complete lines or pickle points in ``data`` (a trailing partial one is dropped, as carbon does)."""
    if framing is LINES:
        return data.split(b"\n")[:-1]
    found: list[object] = []
    while len(data) >= 4:
        (length,) = struct.unpack("!L", data[:4])
        if len(data) < 4 + length:
            break
        found += pickle.loads(data[4 : 4 + length])
        data = data[4 + length :]
    return found


def big_registry(clock: ManualClock, counters: int = 3000) -> MetricsRegistry:
    registry = MetricsRegistry(clock=clock)
    for index in range(counters):
        registry.counter(f"filler.metric{index:05d}").inc(index)
    return registry


def tcp_reporter(registry: MetricsRegistry, port: int, framing: object, clock: ManualClock, **transport: object
                 ) -> BatchReporter:
    encode = (functools.partial(pickle_frames) if framing is FRAMES
              else functools.partial(plaintext_messages, max_bytes=STREAM_MESSAGE_BYTES))
    return BatchReporter(
        registry, TcpTransport("127.0.0.1", port, **transport), encode, name="carbon", prefix="app.i1",  # type: ignore[arg-type]
        clock=clock, backoff=Backoff(initial=0.05, maximum=0.05), framing=framing,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("framing", [LINES, FRAMES], ids=["plaintext", "pickle"])
def test_a_reset_after_read_resends_exactly_what_the_peer_lacked(framing: object) -> None:
    peer = ResetAfterRead(rcvbuf=32768).serve()
    clock = ManualClock(1_700_000_000)
    registry = big_registry(clock, 8000)
    reporter = tcp_reporter(registry, peer.port, framing, clock, send_timeout=5.0)
    try:
        batch = reporter.collect(1_700_000_000)
        assert reporter.flush(timeout=20) is True
        assert len(peer.received) == 2
        first, second = (units(data, framing) for data in peer.received)
        expected = units(b"".join(batch.messages), framing)
        assert 0 < len(first) < len(expected)
        assert first + second == expected  # every point once: nothing the peer had goes again
        assert own(registry, "points_resent") <= batch.points
        assert own(registry, "send_failures") == 1
    finally:
        reporter.close()
        peer.close()


def test_a_slow_peer_gets_every_report_once() -> None:
    """Finding 6: a send had to finish within send_timeout or the report restarted from its first byte.
    The peer reads 16 KB/s through small buffers (the finding's 1 KB/s, scaled to keep the test short)."""
    peer = SlowReader(rate=16384).serve()
    clock = ManualClock(1_700_000_000)
    registry = big_registry(clock, 3000)
    reporter = tcp_reporter(registry, peer.port, LINES, clock, send_timeout=3.0, send_buffer_bytes=4096)
    try:
        batch = reporter.collect(1_700_000_000)
        assert batch.nbytes > 100_000  # several seconds at this rate, more than one send_timeout
        assert reporter.flush(timeout=30) is True
        assert len(peer.connections) == 1
        deadline = time.monotonic() + 10  # acknowledged is in the peer's kernel: let the slow reader read it
        while sum(map(len, peer.received)) < batch.nbytes and time.monotonic() < deadline:
            time.sleep(0.05)
        assert units(b"".join(peer.received), LINES) == units(b"".join(batch.messages), LINES)
        assert own(registry, "points_resent") == 0
    finally:
        reporter.close()
        peer.close()


@pytest.mark.parametrize("kind", [BlackHole, NeverAccepts])
def test_a_black_hole_shows_in_the_self_metrics(kind: type) -> None:
    peer = kind()
    if kind is BlackHole:
        peer.serve()
    clock = ManualClock(1_700_000_000)
    registry = big_registry(clock, 2000)
    reporter = tcp_reporter(registry, peer.port, LINES, clock, send_timeout=0.3, send_buffer_bytes=4096)
    try:
        for i in range(3):
            reporter.collect(1_700_000_000 + STEP * i)
            reporter.flush()
            clock.advance(STEP)
        metrics = registry.get_metrics("graphmetrics.carbon.oldest_unacknowledged_age")
        assert metrics["value"] == 3 * STEP
        assert registry.get_metrics("graphmetrics.carbon.buffered_reports")["value"] == 3
        assert own(registry, "points_acknowledged") == 0
        assert reporter.unacknowledged == 3
        assert own(registry, "send_failures") >= 1
    finally:
        reporter.close()
        peer.close()


def test_an_outage_longer_than_the_buffer_keeps_the_newest_and_sends_within_an_interval(
    carbon: Carbon, caplog: pytest.LogCaptureFixture
) -> None:
    """Finding 7: the back-off grew to 60 s, past what the buffer held and past carbon's return."""
    start = recent_boundary(100)
    clock = ManualClock(start)
    size = CarbonReporter(big_registry(clock, 500), "127.0.0.1", 9, name="probe").collect(start).nbytes
    registry = big_registry(clock, 500)
    hits = registry.counter("hits")
    reporter = CarbonReporter(
        registry, "127.0.0.1", carbon.pickle_port, "pickle", "svc.i1", clock=clock, connect_timeout=1.0,
        max_buffer_bytes=int(size * 3.8), backoff=Backoff(random=lambda: 0.0),
    )
    path = "svc.i1.hits.count"

    def interval(i: int) -> None:
        report_interval(reporter, hits, clock, start + STEP * i)

    try:
        carbon.stop()
        with caplog.at_level(logging.WARNING):
            for i in range(12):  # two minutes down: the back-off alone would reach 60 s
                interval(i)
        assert reporter.unacknowledged == 3
        assert f"timestamp {start}" in caplog.text  # the drops name their reports
        carbon.start()
        interval(12)  # one interval after carbon is back: written, not backing off
        assert reporter.pending == 0
        assert reporter.flush(timeout=5) is True  # and acknowledged
        expected = {start + STEP * i: float(i + 1) for i in range(10, 13)}
        found = carbon.wait_for({path: expected})[path]
        assert {ts: v for ts, v in found.items() if ts in expected} == expected
        assert own(registry, "dropped_reports") == 10  # the newest three of the outage survived
        assert own(registry, "points_dropped") > 10 * 500
    finally:
        reporter.close()


SIGTERMED_SERVICE = """
import logging, sys
from twisted.internet import reactor
from graphmetrics.registry import MetricsRegistry
from graphmetrics.reporters.carbon import CarbonReporter
from graphmetrics.runners.twisted import TwistedRunner

logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
registry = MetricsRegistry()
registry.counter("hits").inc()
reporter = CarbonReporter(registry, "127.0.0.1", int(sys.argv[1]), "pickle", "svc", connect_timeout=0.2)
runner = TwistedRunner([reporter], interval=1, reactor=reactor)
reactor.callWhenRunning(runner.start)
reactor.addSystemEventTrigger("before", "shutdown", lambda: runner.stop(deadline=1.0))
reactor.callWhenRunning(lambda: print("ready", flush=True))
reactor.run()
"""


def test_sigterm_during_an_outage_logs_and_counts_what_it_loses() -> None:
    """Finding 5: SIGTERM with carbon down exited 0 without a word about the reports it dropped."""
    import re
    import signal
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:  # a port nobody listens on: carbon is down
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-c", SIGTERMED_SERVICE, str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        time.sleep(3.5)  # three reports, none deliverable
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0  # a stop is not an error
    lost = re.search(r"stopped before the peer acknowledged them: dropped (\d+) report\(s\) \(timestamps (\d+)\.\.(\d+)\), "
                     r"(\d+) point\(s\)", stderr)
    assert lost is not None, stderr
    reports, first, last, points = map(int, lost.groups())
    assert reports >= 3 and last - first >= reports - 1  # every report since the start, the final one too
    assert points >= reports
