"""TwistedRunner: ticks from reactor time (``task.Clock``), collects in slices across reactor turns,
never sends from the reactor thread."""

from __future__ import annotations

import pickle
import queue
import threading
from collections.abc import Callable
from typing import Any

import pytest
from test_runner_thread import WAIT, Recorder
from twisted.internet.base import DelayedCall
from twisted.internet.task import Clock

from graphmetrics.clock import ManualClock
from graphmetrics.registry import MetricsRegistry
from graphmetrics.reporters.batching import BatchReporter
from graphmetrics.readout import SLICE, flatten
from graphmetrics.reporters.transport import MemoryTransport
from graphmetrics.reporters.wire import pickle_frames
from graphmetrics.runners.twisted import BUSY_BUDGET, TwistedRunner

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

    def run_turns(self) -> None:
        """Run what waits for the next reactor turns (all at once: ``Clock`` runs new zero-delay calls)."""
        self.advance(0)


def stop(reactor: ThreadedClock, runner: TwistedRunner) -> bool:
    """Stop ``runner`` and wait for its Deferred: True when everything was sent."""
    results: list[bool] = []
    runner.stop(deadline=WAIT).addCallback(results.append)
    reactor.run_turns()
    reactor.run_from_threads()
    return results == [True]


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
    assert stop(reactor, runner)


def test_the_reactor_thread_collects_but_never_sends() -> None:
    recorder = Recorder()
    reactor, runner = started(recorder)
    reactor.advance(10)
    _, collect_thread = recorder.collected.get(timeout=WAIT)
    _, flush_thread = recorder.flushed.get(timeout=WAIT)
    reactor_thread = threading.get_ident()
    assert collect_thread == reactor_thread and flush_thread != reactor_thread
    assert stop(reactor, runner)


def test_a_hung_send_does_not_delay_the_next_snapshot() -> None:
    recorder = Recorder()
    recorder.flush_gate.clear()
    reactor, runner = started(recorder)
    reactor.advance(10)
    recorder.flushed.get(timeout=WAIT)  # the sender is stuck
    reactor.advance(10)
    assert [recorder.next_collect(), recorder.next_collect()] == [T0 + 10, T0 + 20]
    recorder.flush_gate.set()
    assert stop(reactor, runner)


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
    assert stop(reactor, runner)


def test_stop_fires_its_deferred_on_the_reactor_after_the_final_report() -> None:
    recorder = Recorder()
    reactor, runner = started(recorder)
    reactor.advance(12)
    assert recorder.next_collect() == T0 + 10
    results: list[bool] = []
    runner.stop(deadline=WAIT).addCallback(results.append)
    assert [call.getTime() for call in reactor.getDelayedCalls()] == [reactor.seconds()]  # the next turn, no tick
    reactor.advance(0)  # the final report is collected on the reactor...
    assert reactor.getDelayedCalls() == [] and results == []
    reactor.run_from_threads()  # ...and sent on a worker thread, which hands the result back
    assert results == [True]
    assert recorder.next_collect() == T0 + 20
    assert recorder.closed


def test_stop_reports_false_when_sending_outlives_the_deadline() -> None:
    recorder = Recorder()
    recorder.flush_gate.clear()
    reactor, runner = started(recorder)
    results: list[bool] = []
    runner.stop(deadline=0.2).addCallback(results.append)
    reactor.advance(0)
    reactor.run_from_threads()
    assert results == [False]
    recorder.flush_gate.set()


def test_stop_without_start_fires_at_once() -> None:
    results: list[bool] = []
    TwistedRunner([Recorder()], interval=10, reactor=ThreadedClock(T0)).stop().addCallback(results.append)
    assert results == [True]


# -- collecting in slices ----------------------------------------------------------------------------


class TurnClock(ThreadedClock):
    """``ThreadedClock`` whose zero-delay calls wait for :meth:`turn`, as on a real reactor, where
    ``callLater(0)`` runs on the next iteration, after the I/O that became ready meanwhile."""

    def __init__(self, start: float) -> None:
        super().__init__(start)
        self.soon: list[DelayedCall] = []
        self.turns = 0

    def callLater(self, delay: float, f: Callable[..., Any], *args: Any, **kw: Any) -> DelayedCall:
        if delay > 0:
            return super().callLater(delay, f, *args, **kw)
        call = DelayedCall(self.seconds(), f, args, kw, self.soon.remove, lambda c: None, self.seconds)
        self.soon.append(call)
        return call

    def turn(self) -> bool:
        """One reactor iteration: run the zero-delay calls made before it; False if there were none."""
        calls, self.soon = self.soon, []
        for call in calls:
            call.called = 1
            call.func(*call.args, **call.kw)
        self.turns += bool(calls)
        return bool(calls)

    def run_turns(self) -> None:
        while self.turn():
            pass


def service_registry(clock: ManualClock, metrics: int = 300) -> MetricsRegistry:
    """Every kind of metric, tagged and not, with values that do not change unless the test says so."""
    registry = MetricsRegistry(clock=clock)
    for i in range(metrics):
        kind = i % 5
        if kind == 0:
            registry.counter(f"c.{i}").inc(i)
        elif kind == 1:
            registry.gauge(f"g.{i}", i + 0.5)
        elif kind == 2:
            registry.meter(f"m.{i}", tags={"shard": str(i % 3)}).mark(i)
        elif kind == 3:
            registry.histogram(f"h.{i}").update(i / 7)
        else:
            registry.timer(f"t.{i}").update(i / 1000)
    return registry


def sliced_runner(
    registry: MetricsRegistry, clock: ManualClock, slice_budget: float = 0.0
) -> tuple[TurnClock, TwistedRunner, BatchReporter, MemoryTransport]:
    transport = MemoryTransport()
    reporter = BatchReporter(registry, transport, pickle_frames, name="carbon", prefix="app", export_buckets=True,
                             clock=clock)
    reactor = TurnClock(T0)
    runner = TwistedRunner([reporter], interval=10, reactor=reactor, slice_budget=slice_budget)
    runner.start()
    return reactor, runner, reporter, transport


def sent_points(transport: MemoryTransport) -> list[tuple[str, tuple[int, int | float]]]:
    """Every ``(path, (timestamp, value))`` in the pickle frames sent, in order."""
    return [point for frame in transport.sent for point in pickle.loads(frame[4:])]


def test_a_report_is_collected_in_many_turns_and_equals_the_one_shot_collect() -> None:
    clock = ManualClock(T0)
    registry = service_registry(clock)
    reactor, runner, _, transport = sliced_runner(registry, clock)
    one_shot = flatten(registry.snapshot(), "app", registry.bucket_snapshot()).points  # before the tick
    reactor.advance(10)
    assert runner.collecting and reactor.turns == 0  # the tick only started the report
    while reactor.turn():
        reactor.advance(0.25)  # reactor time goes on between the slices...
    assert not runner.collecting
    assert reactor.turns >= len(registry.snapshot()) // SLICE  # one slice per turn with a zero budget
    assert stop(reactor, runner)
    report = [(path, value) for path, (timestamp, value) in sent_points(transport) if timestamp == T0 + 10]
    assert report == one_shot  # ...and every point still carries the tick's timestamp


def test_a_time_budget_runs_several_slices_per_turn() -> None:
    clock = ManualClock(T0)
    reactor, runner, _, _ = sliced_runner(service_registry(clock), clock, slice_budget=60.0)
    reactor.advance(10)
    assert reactor.turn() and not runner.collecting  # the whole report fits in one generous turn
    assert stop(reactor, runner)


def test_a_turn_after_a_long_stretch_of_other_work_gets_a_share_of_it() -> None:
    """At low load a turn collects for ``slice_budget``; after the reactor spent 3 ms on other work since
    the last turn it may collect for a quarter of that, never more than BUSY_BUDGET."""
    now = [100.0]
    runner = TwistedRunner([Recorder()], interval=10, reactor=TurnClock(T0), slice_budget=0.00025)
    runner._timer = lambda: now[0]

    def turn_length(busy: float) -> float:
        """How long a turn may collect when it starts ``busy`` seconds after the previous one ended."""
        runner._turn_ended = now[0] - busy
        over, start = runner._turn_budget(), now[0]
        while not over():
            now[0] += 0.00001
        return now[0] - start

    assert turn_length(0.0001) == pytest.approx(0.00025, abs=2e-5)  # a reactor with little to do
    assert turn_length(0.003) == pytest.approx(0.00075, abs=2e-5)  # a quarter of 3 ms
    assert turn_length(0.5) == pytest.approx(BUSY_BUDGET, abs=2e-5)  # capped
    assert runner._turn_ended == now[0]  # the end of the turn is where the next one measures from


def test_metrics_created_or_removed_during_a_report_are_handled() -> None:
    clock = ManualClock(T0)
    registry = service_registry(clock, metrics=10 * SLICE)
    reactor, runner, _, transport = sliced_runner(registry, clock)
    reactor.advance(10)
    reactor.turn()  # the first slice is read
    registry.clear()  # every metric not read yet is gone: left out, no error
    registry.counter("late").inc(5)  # created after the report started: in the next one
    reactor.run_turns()
    reactor.advance(10)
    reactor.run_turns()
    assert stop(reactor, runner)
    first = {path for path, (timestamp, _) in sent_points(transport) if timestamp == T0 + 10}
    second = {path for path, (timestamp, _) in sent_points(transport) if timestamp == T0 + 20}
    assert len({".".join(path.split(".")[1:3]) for path in first}) == SLICE  # the slice read before clear()
    assert "app.late.count" not in first
    assert "app.late.count" in second and "app.c.0.count" not in second


def test_a_tick_while_the_previous_report_is_collected_is_skipped() -> None:
    clock = ManualClock(T0)
    reactor, runner, _, transport = sliced_runner(service_registry(clock), clock)
    reactor.advance(10)
    reactor.turn()
    reactor.advance(10)  # a reactor too busy to give the report a turn for a whole interval
    assert runner.skipped_ticks == 1
    assert stop(reactor, runner)  # finishes the report in progress, then the final one
    timestamps = [timestamp for _, (timestamp, _) in sent_points(transport)]
    assert sorted(set(timestamps)) == [T0 + 10, T0 + 30] and timestamps == sorted(timestamps)


def test_stop_during_a_report_sends_it_then_the_final_one_in_order() -> None:
    clock = ManualClock(T0)
    reactor, runner, _, transport = sliced_runner(service_registry(clock), clock)
    reactor.advance(12)
    reactor.turn()
    assert runner.collecting
    assert stop(reactor, runner)
    timestamps = [timestamp for _, (timestamp, _) in sent_points(transport)]
    assert sorted(set(timestamps)) == [T0 + 10, T0 + 20] and timestamps == sorted(timestamps)


def test_a_negative_slice_budget_is_refused() -> None:
    with pytest.raises(ValueError):
        TwistedRunner([Recorder()], interval=10, reactor=TurnClock(T0), slice_budget=-1)
