"""TwistedRunner: ticks from reactor time (``task.Clock``), no snapshot and no I/O on the reactor thread."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from test_runner_thread import WAIT, Recorder
from twisted.internet.task import Clock

from graphmetrics.runners.twisted import TwistedRunner

T0 = 1_700_000_000


class ThreadedClock(Clock):
    """``task.Clock`` plus ``callFromThread``: calls from worker threads wait in a queue until the
    test runs them on its own (the "reactor") thread with :meth:`run_from_threads`."""

    def __init__(self, start: float) -> None:
        super().__init__()
        self.advance(start)
        self.from_threads: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]]] = queue.Queue()

    def callFromThread(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.from_threads.put((lambda: f(*args, **kwargs), ()))

    def run_from_threads(self) -> None:
        f, _ = self.from_threads.get(timeout=WAIT)
        f()


def started(recorder: Recorder, start: float = T0) -> tuple[ThreadedClock, TwistedRunner]:
    reactor = ThreadedClock(start)
    runner = TwistedRunner([recorder], interval=10, reactor=reactor)
    runner.start()
    return reactor, runner


def test_ticks_follow_reactor_time_on_boundaries() -> None:
    recorder = Recorder()
    reactor, runner = started(recorder, T0 + 4)
    assert [call.getTime() for call in reactor.getDelayedCalls()] == [T0 + 10]
    reactor.advance(6)
    assert recorder.next_collect() == T0 + 10
    reactor.advance(10)
    assert recorder.next_collect() == T0 + 20
    runner.stop()


def test_the_reactor_thread_never_collects_nor_sends() -> None:
    recorder = Recorder()
    reactor, runner = started(recorder)
    reactor.advance(10)
    _, collect_thread = recorder.collected.get(timeout=WAIT)
    _, flush_thread = recorder.flushed.get(timeout=WAIT)
    reactor_thread = threading.get_ident()
    assert collect_thread != reactor_thread and flush_thread != reactor_thread
    runner.stop()


def test_a_hung_send_does_not_delay_the_next_snapshot() -> None:
    recorder = Recorder()
    recorder.flush_gate.clear()
    reactor, runner = started(recorder)
    reactor.advance(10)
    recorder.flushed.get(timeout=WAIT)  # the sender is stuck
    reactor.advance(10)
    assert [recorder.next_collect(), recorder.next_collect()] == [T0 + 10, T0 + 20]
    recorder.flush_gate.set()
    runner.stop()


def test_a_stall_skips_missed_ticks() -> None:
    recorder = Recorder()
    reactor, runner = started(recorder)
    reactor.advance(10)
    assert recorder.next_collect() == T0 + 10
    reactor.advance(47)  # the reactor was blocked for 47 s: one late call, not five
    assert recorder.next_collect() == T0 + 50
    assert runner.skipped_ticks == 3
    reactor.advance(3)
    assert recorder.next_collect() == T0 + 60
    runner.stop()


def test_stop_fires_its_deferred_on_the_reactor_after_the_final_report() -> None:
    recorder = Recorder()
    reactor, runner = started(recorder)
    reactor.advance(12)
    assert recorder.next_collect() == T0 + 10
    results: list[bool] = []
    runner.stop(deadline=WAIT).addCallback(results.append)
    assert reactor.getDelayedCalls() == []  # no more ticks
    reactor.run_from_threads()  # the worker thread handed the result back to the reactor
    assert results == [True]
    assert recorder.next_collect() == T0 + 20
    assert recorder.closed


def test_stop_reports_false_when_sending_outlives_the_deadline() -> None:
    recorder = Recorder()
    recorder.flush_gate.clear()
    reactor, runner = started(recorder)
    results: list[bool] = []
    runner.stop(deadline=0.2).addCallback(results.append)
    reactor.run_from_threads()
    assert results == [False]
    recorder.flush_gate.set()


def test_stop_without_start_fires_at_once() -> None:
    results: list[bool] = []
    TwistedRunner([Recorder()], interval=10, reactor=ThreadedClock(T0)).stop().addCallback(results.append)
    assert results == [True]
