"""The reporting engine: collect apart from flush, bounded buffering, back-off, at-least-once re-sends.

Driven with an in-memory transport and a manual clock: no sockets, no sleeps.
"""

from __future__ import annotations

import logging

import pytest

from graphmetrics.clock import ManualClock
from graphmetrics.gauges import Gauge
from graphmetrics.registry import MetricsRegistry
from graphmetrics.reporters.backoff import Backoff
from graphmetrics.reporters.batching import BatchReporter
from graphmetrics.reporters.transport import MemoryTransport
from graphmetrics.reporters.wire import plaintext_messages

T0 = 1_700_000_000


def no_jitter() -> Backoff:
    return Backoff(initial=1.0, maximum=8.0, jitter=0.0)


def make(
    registry: MetricsRegistry | None = None, **kwargs: object
) -> tuple[BatchReporter, MemoryTransport, ManualClock, MetricsRegistry]:
    clock = ManualClock(T0)
    registry = registry if registry is not None else MetricsRegistry(clock=clock)
    transport = MemoryTransport()
    options: dict = {"name": "carbon", "prefix": "app.i1", "backoff": no_jitter(), "clock": clock, **kwargs}
    reporter = BatchReporter(registry, transport, plaintext_messages, **options)
    return reporter, transport, clock, registry


def lines(transport: MemoryTransport) -> list[str]:
    return [line for message in transport.sent for line in message.decode().splitlines()]


def values(transport: MemoryTransport, path: str) -> dict[int, str]:
    """``{timestamp: value}`` of every line sent for ``path``."""
    out = {}
    for line in lines(transport):
        name, value, timestamp = line.split(" ")
        if name == path:
            out[int(timestamp)] = value
    return out


def test_one_report_is_one_batch_with_one_timestamp() -> None:
    reporter, transport, _, registry = make()
    registry.counter("hello_called").inc(3)
    registry.gauge("queue", lambda: 7)
    reporter.collect(T0)
    assert transport.sent == []  # collecting never touches the transport
    assert reporter.flush() is True
    assert len(transport.sent) == 1
    sent = lines(transport)
    assert "app.i1.hello_called.count 3 1700000000" in sent
    assert "app.i1.queue.value 7 1700000000" in sent
    assert {line.rsplit(" ", 1)[1] for line in sent} == {str(T0)}


def test_self_metrics_are_reported_under_graphmetrics_and_the_reporter_name() -> None:
    reporter, transport, clock, registry = make()
    registry.counter("hello_called").inc()
    reporter.collect(T0)
    reporter.flush()
    points_first = len(lines(transport))
    clock.advance(10)
    reporter.collect(T0 + 10)
    reporter.flush()
    own = "app.i1.graphmetrics.carbon."
    assert values(transport, own + "points_written.count")[T0 + 10] == str(points_first)
    assert values(transport, own + "points_acknowledged.count")[T0 + 10] == str(points_first)
    assert values(transport, own + "points_resent.count")[T0 + 10] == "0"
    assert values(transport, own + "last_acknowledged.value")[T0 + 10] == repr(float(T0))
    assert values(transport, own + "buffered_reports.value")[T0 + 10] == "0"
    assert values(transport, own + "oldest_unacknowledged_age.value")[T0 + 10] == "0.0"
    assert values(transport, own + "send_failures.count")[T0 + 10] == "0"
    # never acknowledged yet at the first report: no last_acknowledged point (NaN is not sent)
    assert T0 not in values(transport, own + "last_acknowledged.value")


def test_an_outage_loses_nothing_and_resends_in_order_with_original_timestamps() -> None:
    reporter, transport, clock, registry = make()
    counter = registry.counter("hello_called")
    transport.failure = ConnectionRefusedError(111, "Connection refused")
    for i in range(6):  # one minute of 10 s reports while carbon is down
        counter.inc()
        reporter.collect(T0 + 10 * i)
        reporter.flush()
        clock.advance(10)
    assert transport.sent == []
    assert reporter.pending == 6
    transport.failure = None
    clock.advance(60)
    assert reporter.flush() is True
    assert values(transport, "app.i1.hello_called.count") == {T0 + 10 * i: str(i + 1) for i in range(6)}
    timestamps = [int(line.rsplit(" ", 1)[1]) for line in lines(transport)]
    assert timestamps == sorted(timestamps)
    assert reporter.pending == 0
    assert registry.counter("graphmetrics.carbon.send_failures").get_count() >= 1


def test_no_attempt_while_backing_off_then_retry_when_due() -> None:
    reporter, transport, clock, registry = make()
    transport.failure = ConnectionResetError(104, "reset")
    reporter.collect(T0)
    assert reporter.flush() is False  # attempt 1 fails: back off 1 s
    failures = registry.counter("graphmetrics.carbon.send_failures")
    assert failures.get_count() == 1
    assert reporter.retry_in == 1.0
    assert reporter.flush() is False  # within back-off: no attempt at all
    assert failures.get_count() == 1
    clock.advance(1.0)
    assert reporter.retry_in == 0.0
    assert reporter.flush() is False  # attempt 2 fails: back off 2 s
    assert (failures.get_count(), reporter.retry_in) == (2, 2.0)
    transport.failure = None
    clock.advance(2.0)
    assert reporter.flush() is True
    assert reporter.retry_in is None


def test_a_full_buffer_drops_the_oldest_reports_and_counts_them() -> None:
    reporter, transport, clock, registry = make(max_buffer_bytes=6000)
    registry.counter("c").inc()
    transport.failure = ConnectionRefusedError(111, "refused")
    for i in range(20):
        reporter.collect(T0 + 10 * i)
        reporter.flush()
        clock.advance(10)
    kept = reporter.pending
    assert 1 < kept < 20
    assert reporter._buffer.nbytes <= 6000
    assert registry.counter("graphmetrics.carbon.dropped_reports").get_count() == 20 - kept
    transport.failure = None
    clock.advance(100)
    reporter.flush()
    assert sorted(values(transport, "app.i1.c.count")) == [T0 + 10 * i for i in range(20 - kept, 20)]


def test_buffered_reports_and_bytes_are_reported_during_an_outage() -> None:
    reporter, transport, clock, registry = make()
    transport.failure = ConnectionRefusedError(111, "refused")
    for i in range(3):
        reporter.collect(T0 + 10 * i)
        reporter.flush()
        clock.advance(10)
    transport.failure = None
    reporter.flush()
    assert values(transport, "app.i1.graphmetrics.carbon.buffered_reports.value") == {
        T0: "0", T0 + 10: "1", T0 + 20: "2"
    }
    assert int(values(transport, "app.i1.graphmetrics.carbon.buffered_bytes.value")[T0 + 20]) > 0
    assert values(transport, "app.i1.graphmetrics.carbon.send_failures.count")[T0 + 20] == "2"


def stream_make(**kwargs: object) -> tuple[BatchReporter, MemoryTransport, ManualClock, MetricsRegistry]:
    clock = ManualClock(T0)
    registry = MetricsRegistry(clock=clock)
    transport = MemoryTransport(stream=True)
    options: dict = {"name": "carbon", "prefix": "app.i1", "backoff": no_jitter(), "clock": clock, **kwargs}
    return BatchReporter(registry, transport, plaintext_messages, **options), transport, clock, registry


def test_a_peer_that_closes_after_acknowledging_everything_gets_nothing_again() -> None:
    """An idle-closing hop (LB, proxy) between reports: no re-send, no failure, a new connection."""
    reporter, transport, clock, registry = stream_make()
    registry.counter("c").inc()
    transport.unacked = 0
    for i in range(5):
        reporter.collect(T0 + 10 * i)
        assert reporter.flush() is True
        transport.close_by_peer()
        clock.advance(10)
    assert values(transport, "app.i1.c.count") == {T0 + 10 * i: "1" for i in range(5)}
    assert len(lines(transport)) == sum(1 for _ in lines(transport))  # each line once
    assert [line.rsplit(" ", 1)[1] for line in lines(transport)].count(str(T0)) == len(lines(transport)) // 5
    assert transport.connects == 5
    assert registry.counter("graphmetrics.carbon.points_resent").get_count() == 0
    assert registry.counter("graphmetrics.carbon.send_failures").get_count() == 0


def test_a_peer_that_closes_lacking_bytes_gets_only_the_lines_holding_them_again() -> None:
    reporter, transport, clock, registry = stream_make()
    for name in "abcdef":
        registry.counter(name).inc()
    batch = reporter.collect(T0)
    report = b"".join(batch.messages)
    last_two = report.splitlines(keepends=True)[-2:]
    transport.unacked = len(last_two[1]) + 3  # the peer lacks the last line and 3 bytes of the one before
    assert reporter.flush() is False  # written, not acknowledged
    assert reporter.unacknowledged == 1 and reporter.pending == 0
    transport.close_by_peer()
    assert reporter.flush() is False  # a close lacking bytes is a failure: back off
    assert registry.counter("graphmetrics.carbon.send_failures").get_count() == 1
    clock.advance(1)
    transport.unacked = None
    assert reporter.flush() is True
    assert b"".join(transport.sent) == report + b"".join(last_two)
    assert registry.counter("graphmetrics.carbon.points_resent").get_count() == 2
    assert registry.counter("graphmetrics.carbon.points_written").get_count() == batch.points
    assert registry.counter("graphmetrics.carbon.points_acknowledged").get_count() == batch.points


def test_a_failed_connection_resumes_each_report_at_its_first_unacknowledged_line() -> None:
    reporter, transport, clock, registry = stream_make()
    registry.counter("c").inc()
    for i in range(3):
        reporter.collect(T0 + 10 * i)
    transport.unacked = 1  # the newest report's last byte is not acknowledged
    assert reporter.flush() is False  # three reports written on one connection
    assert reporter.unacknowledged == 1
    sizes = [sum(map(len, transport.sent))]
    transport.failure = ConnectionResetError(104, "reset")
    reporter.collect(T0 + 30)
    assert reporter.flush() is False
    transport.failure = None
    transport.unacked = None
    clock.advance(10)
    assert reporter.flush() is True
    again = b"".join(transport.sent)[sizes[0]:].decode().splitlines()
    assert [line.rsplit(" ", 1)[1] for line in again] == [str(T0 + 20)] + [str(T0 + 30)] * (len(again) - 1)
    assert registry.counter("graphmetrics.carbon.points_resent").get_count() == 1


def test_a_slow_peer_gets_the_rest_of_a_report_never_its_start_again() -> None:
    reporter, transport, clock, registry = stream_make()
    for i in range(300):
        registry.counter(f"c{i:03d}").inc(i)
    batch = reporter.collect(T0)
    transport.at_most = 1000  # each send writes at most 1000 bytes
    assert reporter.flush() is True
    assert b"".join(transport.sent) == b"".join(batch.messages)
    assert len(transport.sent) == -(-batch.nbytes // 1000)
    assert registry.counter("graphmetrics.carbon.points_resent").get_count() == 0


def test_final_flush_ignores_back_off_and_gives_up_at_the_deadline() -> None:
    reporter, transport, clock, registry = make()
    transport.failure = ConnectionRefusedError(111, "refused")
    reporter.collect(T0)
    reporter.flush()
    assert reporter.flush() is False  # backing off
    transport.failure = None
    assert reporter.flush(timeout=1.0) is True  # the final flush tries at once
    assert values(transport, "app.i1.graphmetrics.carbon.send_failures.count") == {T0: "0"}


def test_final_flush_with_a_dead_peer_returns_false_and_keeps_the_reports() -> None:
    reporter, transport, clock, registry = make()
    transport.failure = ConnectionRefusedError(111, "refused")
    reporter.collect(T0)
    assert reporter.flush(timeout=0.05) is False
    assert reporter.pending == 1


def test_final_flush_waits_for_the_acknowledgement_of_what_it_wrote() -> None:
    reporter, transport, clock, registry = stream_make()
    registry.counter("c").inc()
    reporter.collect(T0)
    transport.unacked = 10  # never acknowledged: a black hole
    assert reporter.flush(timeout=0.1) is False
    assert reporter.pending == 0 and reporter.unacknowledged == 1
    transport.unacked = 0
    assert reporter.flush(timeout=1.0) is True


def test_give_up_counts_and_logs_what_was_never_acknowledged(caplog: pytest.LogCaptureFixture) -> None:
    reporter, transport, clock, registry = make()
    registry.counter("c").inc()
    transport.failure = ConnectionRefusedError(111, "refused")
    for i in range(3):
        reporter.collect(T0 + 10 * i)
    reporter.flush()
    with caplog.at_level(logging.WARNING):
        assert reporter.give_up() == 3
    assert f"3 report(s) (timestamps {T0}..{T0 + 20})" in caplog.text
    assert registry.counter("graphmetrics.carbon.dropped_reports").get_count() == 3
    points = registry.counter("graphmetrics.carbon.points_dropped").get_count()
    assert points >= 3 * 1 and reporter.unacknowledged == 0


class OddGauge(Gauge):
    """A metric whose fields carry a value no wire format can send, beside one that is fine."""

    def fields(self) -> dict:
        return {"value": "twelve", "count": 2}


def bad_value_registry() -> MetricsRegistry:
    registry = MetricsRegistry()
    registry.gauge("odd", OddGauge())
    return registry


def test_rejected_values_are_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    reporter, transport, clock, registry = make(bad_value_registry())
    with caplog.at_level(logging.WARNING):
        reporter.collect(T0)
        reporter.collect(T0 + 10)
    assert caplog.text.count("the value of app.i1.odd.value cannot be a point") == 1  # once per metric
    assert registry.counter("graphmetrics.carbon.rejected_points").get_count() == 2  # once per report
    reporter.flush()
    assert values(transport, "app.i1.odd.count") == {T0: "2", T0 + 10: "2"}


def test_repr_names_reporter_and_transport() -> None:
    reporter, *_ = make()
    assert "'carbon'" in repr(reporter) and "MemoryTransport" in repr(reporter)


def test_after_fork_the_child_forgets_the_parents_queue() -> None:
    reporter, transport, clock, registry = make()
    transport.failure = ConnectionRefusedError(111, "refused")
    reporter.collect(T0)
    reporter.flush()
    reporter.after_fork_in_child()
    assert reporter.pending == 0
    transport.failure = None
    reporter.collect(T0 + 10)
    clock.advance(10)
    assert reporter.flush() is True
    assert {int(m.decode().split()[2]) for m in transport.sent} == {T0 + 10}


def test_two_reporters_of_one_name_on_one_registry_are_refused() -> None:
    reporter, transport, clock, registry = make()
    with pytest.raises(ValueError, match="already has a reporter named 'carbon'"):
        BatchReporter(registry, MemoryTransport(), plaintext_messages, name="carbon")
    BatchReporter(registry, MemoryTransport(), plaintext_messages, name="carbon_backup")


def test_a_buffer_smaller_than_15_minutes_of_reports_is_warned_about_once(caplog: pytest.LogCaptureFixture) -> None:
    reporter, transport, clock, registry = make(max_buffer_bytes=20_000)
    registry.counter("c").inc()
    with caplog.at_level(logging.WARNING):
        for i in range(3):
            reporter.collect(T0 + 10 * i)
    warnings = [r.getMessage() for r in caplog.records if "minutes of" in r.getMessage()]
    assert len(warnings) == 1 and "less than 15" in warnings[0]


def test_a_buffer_holding_15_minutes_is_not_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    reporter, transport, clock, registry = make()
    with caplog.at_level(logging.WARNING):
        reporter.collect(T0)
        reporter.collect(T0 + 10)
    assert "minutes of" not in caplog.text


def test_a_report_bigger_than_one_slice_keeps_every_point_once() -> None:
    reporter, transport, clock, registry = make(bad_value_registry())
    for i in range(1201):
        registry.counter(f"c{i:04d}").inc(i)
    batch = reporter.collect(T0)
    assert len(batch.messages) >= 3  # encoded slice by slice
    reporter.flush()
    counts = {line.split()[0]: line.split()[1] for line in lines(transport) if line.startswith("app.i1.c")}
    assert counts == {f"app.i1.c{i:04d}.count": str(i) for i in range(1201)}
    assert len(lines(transport)) == batch.points
    assert registry.counter("graphmetrics.carbon.rejected_points").get_count() == 1


def test_collect_slices_steps_through_the_registry_and_queues_the_batch_at_the_end() -> None:
    reporter, transport, _, registry = make()
    for i in range(100):
        registry.counter(f"c{i:03d}").inc(i)
    steps = reporter.collect_slices(T0)
    next(steps)
    registry.counter("c000").inc(1000)  # already read: this report keeps the value it had
    registry.counter("c099").inc(1000)  # not read yet: this report has the new value
    queued_while_stepping = []
    for _ in steps:
        queued_while_stepping.append(reporter.pending)
    assert len(queued_while_stepping) >= 2 and set(queued_while_stepping) == {0}  # more steps, then...
    assert reporter.pending == 1  # ...one batch, queued once the last slice was encoded
    reporter.flush()
    assert values(transport, "app.i1.c000.count") == {T0: "0"}
    assert values(transport, "app.i1.c099.count") == {T0: "1099"}


@pytest.mark.parametrize("stream", [True, False])
def test_a_stream_transport_gets_a_sliced_report_in_few_big_sends(stream: bool) -> None:
    """A report is encoded ENCODE_AT points at a time; over a stream the frames are joined into sends
    of about STREAM_MESSAGE_BYTES, in order and byte for byte; a datagram transport gets every frame alone."""
    from graphmetrics.readout import ENCODE_AT, STREAM_MESSAGE_BYTES
    from graphmetrics.reporters.wire import pickle_frames

    clock = ManualClock(T0)
    registry = MetricsRegistry(clock=clock)
    for index in range(8000):
        registry.counter(f"filler.group{index // 1000}.metric{index % 1000:03d}").inc(index)
    transport = MemoryTransport(stream=stream)
    reporter = BatchReporter(registry, transport, pickle_frames, name="carbon", prefix="app.i1", clock=clock)
    batch = reporter.collect(T0)
    assert len(batch.messages) >= 8000 // ENCODE_AT
    assert reporter.flush() is True
    assert b"".join(transport.sent) == b"".join(batch.messages)
    if stream:
        assert len(transport.sent) == -(-batch.nbytes // STREAM_MESSAGE_BYTES)
        assert all(len(sent) >= STREAM_MESSAGE_BYTES for sent in transport.sent[:-1])
    else:
        assert transport.sent == list(batch.messages)


def test_a_report_bigger_than_the_whole_buffer_is_sent_not_dropped(caplog: pytest.LogCaptureFixture) -> None:
    """Finding 4: such a report was dropped at once, carbon healthy, and logged as "the oldest"."""
    reporter, transport, clock, registry = make(max_buffer_bytes=1000)
    for i in range(100):
        registry.counter(f"c{i:03d}").inc(i)
    with caplog.at_level(logging.WARNING):
        batch = reporter.collect(T0)
    assert batch.nbytes > 1000
    assert "bigger than max_buffer_bytes=1000" in caplog.text
    assert reporter.flush() is True
    assert values(transport, "app.i1.c099.count") == {T0: "99"}
    assert registry.counter("graphmetrics.carbon.dropped_reports").get_count() == 0


def test_back_off_never_outlasts_one_report_interval() -> None:
    """Finding 7: the back-off grew to 60 s while reports came every 10 s."""
    reporter, transport, clock, registry = make(backoff=Backoff(initial=1.0, maximum=60.0, jitter=0.0))
    transport.failure = ConnectionRefusedError(111, "refused")
    delays = []
    for i in range(12):
        reporter.collect(T0 + 10 * i)
        reporter.flush()
        delays.append(reporter.retry_in)
        clock.advance(10)
    assert max(d for d in delays if d is not None) == 10.0
    transport.failure = None
    reporter.collect(T0 + 120)
    assert reporter.flush() is True  # the first flush after carbon is back sends
