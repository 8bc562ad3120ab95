"""ThreadRunner: aligned ticks from a manual clock, collect and send on their own threads, stop()."""

from __future__ import annotations

import os
import queue
import threading

import pytest

from graphmetrics.clock import ManualClock
from graphmetrics.runners.pipeline import Pipeline
from graphmetrics.runners.thread import ThreadRunner

T0 = 1_700_000_000
WAIT = 10.0  # upper bound for a thread to react; tests never wait this long unless broken


class Recorder:
    """A reporter stand-in that records which timestamp was collected on which thread."""

    def __init__(self) -> None:
        self.collected: queue.Queue[tuple[int, int]] = queue.Queue()
        self.flushed: queue.Queue[tuple[float | None, int]] = queue.Queue()
        self.flush_gate = threading.Event()
        self.flush_gate.set()
        self.closed = False
        self.retry_in: float | None = None

    def collect(self, timestamp: int) -> None:
        self.collected.put((timestamp, threading.get_ident()))

    def flush(self, timeout: float | None = None) -> bool:
        self.flushed.put((timeout, threading.get_ident()))
        return self.flush_gate.wait(timeout if timeout is not None else WAIT)

    def close(self) -> None:
        self.closed = True

    def next_collect(self) -> int:
        return self.collected.get(timeout=WAIT)[0]


def started(clock: ManualClock, *reporters: Recorder) -> ThreadRunner:
    runner = ThreadRunner(list(reporters), interval=10, clock=clock)
    runner.start()
    return runner


def test_reports_on_interval_boundaries() -> None:
    clock, recorder = ManualClock(T0 + 3), Recorder()
    runner = started(clock, recorder)
    clock.advance(7.5)
    runner.wake()
    assert recorder.next_collect() == T0 + 10
    clock.advance(10)
    runner.wake()
    assert recorder.next_collect() == T0 + 20
    runner.stop(deadline=WAIT)


def test_a_stall_skips_missed_ticks_instead_of_bursting() -> None:
    clock, recorder = ManualClock(T0), Recorder()
    runner = started(clock, recorder)
    clock.advance(65)  # a suspended laptop, a long GC pause...
    runner.wake()
    assert recorder.next_collect() == T0 + 60
    runner.stop(deadline=WAIT)
    collected = [recorder.collected.get_nowait()[0] for _ in range(recorder.collected.qsize())]
    assert collected == [T0 + 70]  # only the final report followed
    assert runner.skipped_ticks == 5


def test_collect_and_flush_run_on_two_threads_other_than_the_callers() -> None:
    clock, recorder = ManualClock(T0), Recorder()
    runner = started(clock, recorder)
    clock.advance(10)
    runner.wake()
    _, collect_thread = recorder.collected.get(timeout=WAIT)
    _, flush_thread = recorder.flushed.get(timeout=WAIT)
    assert len({collect_thread, flush_thread, threading.get_ident()}) == 3
    runner.stop(deadline=WAIT)


def test_a_hung_send_does_not_delay_the_next_snapshot() -> None:
    clock, recorder = ManualClock(T0), Recorder()
    recorder.flush_gate.clear()  # the sender is stuck in a send (carbon hung)
    runner = started(clock, recorder)
    clock.advance(10)
    runner.wake()
    assert recorder.next_collect() == T0 + 10
    recorder.flushed.get(timeout=WAIT)  # the sender is now blocked
    clock.advance(10)
    runner.wake()
    assert recorder.next_collect() == T0 + 20  # collected on time regardless
    recorder.flush_gate.set()
    runner.stop(deadline=WAIT)


def test_stop_collects_a_final_report_flushes_and_closes() -> None:
    clock, recorder = ManualClock(T0), Recorder()
    runner = started(clock, recorder)
    clock.advance(14)
    runner.wake()
    assert recorder.next_collect() == T0 + 10
    assert runner.stop(deadline=WAIT) is True
    assert recorder.next_collect() == T0 + 20  # the final report closes the interval in progress
    timeouts = [recorder.flushed.get_nowait()[0] for _ in range(recorder.flushed.qsize())]
    assert timeouts[-1] is not None and timeouts[-1] <= WAIT  # the final flush had a deadline
    assert recorder.closed


def test_stop_gives_up_at_the_deadline_when_sending_hangs() -> None:
    clock, recorder = ManualClock(T0), Recorder()
    recorder.flush_gate.clear()
    runner = started(clock, recorder)
    assert runner.stop(deadline=0.2) is False
    recorder.flush_gate.set()


def test_one_failing_reporter_does_not_stop_the_others() -> None:
    class Broken(Recorder):
        def collect(self, timestamp: int) -> None:
            raise RuntimeError("boom")

    clock, broken, good = ManualClock(T0), Broken(), Recorder()
    runner = started(clock, broken, good)
    clock.advance(10)
    runner.wake()
    assert good.next_collect() == T0 + 10
    runner.stop(deadline=WAIT)
    assert runner._pipeline.collect_errors == 2  # the tick and the final report


def test_start_twice_and_no_reporters_are_errors() -> None:
    runner = started(ManualClock(T0), Recorder())
    with pytest.raises(RuntimeError):
        runner.start()
    runner.stop(deadline=WAIT)
    with pytest.raises(ValueError):
        ThreadRunner([], interval=10)


def test_stop_before_start_is_a_no_op() -> None:
    recorder = Recorder()
    assert ThreadRunner([recorder], interval=10, clock=ManualClock(T0)).stop() is True
    assert recorder.collected.empty()


def test_sender_retries_when_the_back_off_ends() -> None:
    recorder = Recorder()
    recorder.retry_in = 0.0  # "something queued, try now"; the pipeline floors the wait, no spin
    pipeline = Pipeline([recorder])
    pipeline.start()
    pipeline.wake()
    recorder.flushed.get(timeout=WAIT)
    recorder.flushed.get(timeout=WAIT)  # a second attempt came without any wake-up
    recorder.retry_in = None
    assert pipeline.finish(T0, deadline=WAIT) is True


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_a_forked_child_has_a_stopped_runner_it_can_start_again() -> None:
    clock, recorder = ManualClock(T0), Recorder()
    runner = started(clock, recorder)
    pid = os.fork()
    if pid == 0:
        try:
            ok = runner._thread is None and runner._pipeline._sender is None
            runner.start()  # the child reports on its own threads
            clock.advance(10)
            runner.wake()
            ok = ok and recorder.next_collect() == T0 + 10
            ok = ok and runner.stop(deadline=WAIT)
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert recorder.collected.empty()  # the child's collects happened in the child only
    runner.stop(deadline=WAIT)


def test_a_stopped_runner_can_start_again() -> None:
    clock, recorder = ManualClock(T0), Recorder()
    runner = started(clock, recorder)
    runner.stop(deadline=WAIT)
    assert recorder.next_collect() == T0 + 10  # the final report
    runner.start()
    clock.advance(25)
    runner.wake()
    assert recorder.next_collect() == T0 + 20
    runner.stop(deadline=WAIT)


def test_stop_during_an_outage_counts_and_logs_every_report_it_loses(caplog: pytest.LogCaptureFixture) -> None:
    """Finding 5: a stop with carbon down dropped the buffered reports without a word."""
    import logging

    from graphmetrics.registry import MetricsRegistry
    from graphmetrics.reporters.batching import BatchReporter
    from graphmetrics.reporters.transport import MemoryTransport
    from graphmetrics.reporters.wire import plaintext_messages

    clock = ManualClock(T0)
    registry = MetricsRegistry(clock=clock)
    registry.counter("hits").inc()
    transport = MemoryTransport()
    transport.failure = ConnectionRefusedError(111, "refused")
    reporter = BatchReporter(registry, transport, plaintext_messages, name="carbon", clock=clock)
    for i in range(3):
        reporter.collect(T0 + 10 * i)
    with caplog.at_level(logging.WARNING):
        runner = ThreadRunner([reporter], interval=10, clock=clock)
        runner.start()
        assert runner.stop(deadline=0.3) is False
    assert "stopped before the peer acknowledged them: dropped 4 report(s)" in caplog.text
    assert f"timestamps {T0}..{T0 + 20}" in caplog.text  # and the final one (T0 + 10 again: a test clock)
    assert registry.counter("graphmetrics.carbon.dropped_reports").get_count() == 4
    assert registry.counter("graphmetrics.carbon.points_dropped").get_count() > 4


def test_the_sender_looks_at_the_acknowledgements_by_itself() -> None:
    """A report written but not yet acknowledged leaves the buffer once the peer acknowledges it,
    without another report to wake the sender (it polls every ACK_POLL seconds)."""
    import time

    from graphmetrics.registry import MetricsRegistry
    from graphmetrics.reporters.batching import BatchReporter
    from graphmetrics.reporters.transport import MemoryTransport
    from graphmetrics.reporters.wire import plaintext_messages

    clock = ManualClock(T0)
    registry = MetricsRegistry(clock=clock)
    registry.counter("hits").inc()
    transport = MemoryTransport(stream=True)
    transport.unacked = 5
    reporter = BatchReporter(registry, transport, plaintext_messages, name="carbon", clock=clock)
    runner = ThreadRunner([reporter], interval=10, clock=clock)
    runner.start()
    try:
        clock.advance(10)
        runner.wake()
        deadline = time.monotonic() + WAIT
        while not transport.sent and time.monotonic() < deadline:
            time.sleep(0.01)
        assert transport.sent and reporter.unacknowledged == 1
        transport.unacked = 0  # the peer's TCP acknowledges; nothing else happens
        while reporter.unacknowledged and time.monotonic() < deadline:
            time.sleep(0.01)
        assert reporter.unacknowledged == 0
        assert registry.counter("graphmetrics.carbon.points_acknowledged").get_count() > 0
    finally:
        runner.stop(deadline=1.0)
