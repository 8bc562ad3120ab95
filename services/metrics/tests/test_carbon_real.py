"""Against a real carbon-cache: every reported value is read back from Whisper, and an outage of
more than three intervals loses no interval. Reporting time comes from a manual clock (timestamps
step 10 s per "interval" without waiting for them); the sockets, carbon and Whisper are real."""

from __future__ import annotations

import pickle
import queue
import struct
import time

import pytest
from carbon_fixture import STEP, Carbon, carbon_fixture, report_interval  # noqa: F401 - the `carbon` fixture

from graphmetrics.clock import ManualClock
from graphmetrics.registry import MetricsRegistry
from graphmetrics.reporters.backoff import Backoff
from graphmetrics.reporters.buffer import Batch
from graphmetrics.reporters.carbon import CarbonReporter
from graphmetrics.reservoirs import LogBucketSketch
from graphmetrics.runners.thread import ThreadRunner

pytestmark = pytest.mark.carbon


def recent_boundary(intervals_ago: int) -> int:
    """A timestamp inside the Whisper retention, in the past (Whisper refuses future points)."""
    return (int(time.time()) // STEP - intervals_ago) * STEP


def sent_points(batch: Batch, protocol: str) -> dict[str, float]:
    """What a batch carried, decoded from its bytes."""
    points: dict[str, float] = {}
    for message in batch.messages:
        if protocol == "pickle":
            data = message
            while data:
                (length,) = struct.unpack("!L", data[:4])
                points.update((path, float(value)) for path, (_, value) in pickle.loads(data[4 : 4 + length]))
                data = data[4 + length :]
        else:
            for line in message.decode().splitlines():
                path, value, _ = line.split()
                points[path] = float(value)
    return points


def port(server: Carbon, protocol: str) -> int:
    return server.pickle_port if protocol == "pickle" else server.line_port


def populated_registry(clock: ManualClock) -> MetricsRegistry:
    registry = MetricsRegistry(clock=clock)
    registry.counter("hello_called").inc(3)
    registry.gauge("queue_depth", lambda: 0.1 + 0.2)  # a float that needs all 17 digits
    histogram = registry.histogram("world_size", reservoir=LogBucketSketch())
    meter = registry.meter("requests")
    timer = registry.timer("latency")
    for value in (5, 11, 2000):
        histogram.update(value)
        meter.mark()
        timer.update(value / 1000)
    return registry


@pytest.mark.parametrize("protocol", ["pickle", "plaintext"])
def test_every_reported_value_is_in_whisper(carbon: Carbon, protocol: str) -> None:
    timestamp = recent_boundary(30)
    clock = ManualClock(timestamp)
    reporter = CarbonReporter(
        populated_registry(clock), "127.0.0.1", port(carbon, protocol), protocol, "svc.i1",
        clock=clock, export_buckets=True,
    )
    batch = reporter.collect(timestamp)
    assert reporter.flush(timeout=5) is True
    expected = sent_points(batch, protocol)
    assert len(expected) == batch.points > 40
    assert expected["svc.i1.hello_called.count"] == 3
    assert expected["svc.i1.queue_depth.value"] == 0.1 + 0.2
    assert expected["svc.i1.world_size.max"] == 2000
    assert any(".world_size.buckets." in path for path in expected)
    found = carbon.wait_for({path: {timestamp: value} for path, value in expected.items()})
    missing = {path: found[path] for path, value in expected.items() if found[path].get(timestamp) != value}
    assert missing == {}
    reporter.close()


def test_an_outage_longer_than_three_intervals_loses_no_interval(carbon: Carbon) -> None:
    start = recent_boundary(40)
    clock = ManualClock(start)
    registry = MetricsRegistry(clock=clock)
    counter = registry.counter("hello_called")
    reporter = CarbonReporter(
        registry, "127.0.0.1", carbon.pickle_port, "pickle", "svc.i1", clock=clock,
        connect_timeout=1.0, backoff=Backoff(initial=1.0, maximum=5.0, random=lambda: 0.5),
    )
    path = "svc.i1.hello_called.count"

    def interval(i: int) -> None:
        report_interval(reporter, counter, clock, start + STEP * i)

    for i in range(4):
        interval(i)
    # carbon-cache drops the points it has acknowledged but not yet written when it stops (the
    # window docs/reporting.md names): let it write first
    carbon.wait_for({path: {start + STEP * i: i + 1 for i in range(4)}})
    carbon.stop()
    for i in range(4, 9):  # five intervals with carbon down
        interval(i)
    assert reporter.pending == 6  # the five of the outage, and the one acknowledged last before it (see below)
    carbon.start()
    assert reporter.flush(timeout=5) is True  # written and acknowledged at once: no back-off left
    expected = {start + STEP * i: float(i + 1) for i in range(9)}
    assert carbon.wait_for({path: expected})[path] == expected
    # the reporter reported on itself: at the last outage interval, 4 failed sends, 5 reports queued
    # (3..7: carbon closed the connection, then refused the next one, so the report it acknowledged
    # last goes again, in case it had not written it), the oldest of them 50 s old
    own = "svc.i1.graphmetrics.carbon."
    at = start + STEP * 8
    found = carbon.wait_for({own + "send_failures.count": {at: 4.0}, own + "buffered_reports.value": {at: 5.0},
                             own + "oldest_unacknowledged_age.value": {at: 50.0}})
    assert found[own + "send_failures.count"][at] == 4.0
    assert found[own + "buffered_reports.value"][at] == 5.0
    assert found[own + "oldest_unacknowledged_age.value"][at] == 50.0
    reporter.close()


def test_thread_runner_reports_each_tick_and_a_final_report(carbon: Carbon) -> None:
    start = recent_boundary(20)
    clock = ManualClock(start + 2)
    registry = MetricsRegistry(clock=clock)
    counter = registry.counter("ticks")
    collected: queue.Queue[int] = queue.Queue()

    class Signalling(CarbonReporter):
        def collect(self, timestamp: int) -> Batch:
            batch = super().collect(timestamp)
            collected.put(timestamp)
            return batch

    reporter = Signalling(registry, "127.0.0.1", carbon.line_port, "plaintext", "svc.i2", clock=clock)
    runner = ThreadRunner([reporter], interval=STEP, clock=clock)
    runner.start()
    for i in range(1, 4):
        counter.inc()
        clock.advance(STEP)
        runner.wake()
        assert collected.get(timeout=10) == start + STEP * i
    counter.inc()
    clock.advance(STEP / 2)
    assert runner.stop(deadline=10) is True
    expected = {start + STEP * i: float(i) for i in range(1, 5)}
    assert carbon.wait_for({"svc.i2.ticks.count": expected})["svc.i2.ticks.count"] == expected


def test_a_report_carbon_acknowledged_just_before_it_stopped_is_sent_again(carbon: Carbon) -> None:
    """carbon-cache drops the points it acknowledged but had not written when it is stopped. A close
    followed by a refused connection is such a stop (an idle-closing hop accepts the next connection):
    the report acknowledged last before it goes again once carbon is back."""
    start = recent_boundary(40)
    clock = ManualClock(start)
    registry = MetricsRegistry(clock=clock)
    counter = registry.counter("hello_called")
    reporter = CarbonReporter(registry, "127.0.0.1", carbon.pickle_port, "pickle", "svc.i3", clock=clock,
                              connect_timeout=1.0, backoff=Backoff(initial=1.0, maximum=5.0, random=lambda: 0.5))
    counter.inc()
    reporter.collect(start)
    assert reporter.flush(timeout=5) is True  # acknowledged...
    carbon.stop()  # ...and carbon stopped at once: its writer had most likely not written it yet
    clock.advance(STEP)
    report_interval(reporter, counter, clock, start + STEP)  # the close is seen; the reconnect is refused
    assert reporter.unacknowledged == 2
    carbon.start()
    report_interval(reporter, counter, clock, start + 2 * STEP)
    assert reporter.flush(timeout=5) is True
    path = "svc.i3.hello_called.count"
    expected = {start + STEP * i: float(i + 1) for i in range(3)}
    assert carbon.wait_for({path: expected})[path] == expected
    assert registry.counter("graphmetrics.carbon.points_resent").get_count() > 0
    reporter.close()
