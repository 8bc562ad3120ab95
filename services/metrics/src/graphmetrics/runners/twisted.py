"""The runner for Twisted programs: the reactor keeps time and collects in slices; a thread sends.

Ticks are ``callLater`` calls on interval boundaries (testable with ``twisted.internet.task.Clock``).
Each report is collected on the reactor thread a slice of metrics at a time, by a ``Cooperator``
that runs slices for at most ``slice_budget`` seconds (``perf_counter``) per reactor turn and then
lets the reactor serve everything else: the reactor is held for about that long, however big the
registry. A collector thread would instead hold the GIL for the whole collect (hundreds of
milliseconds with 50,000 metrics), and the reactor would wait for it in 5 ms turns
(``sys.getswitchinterval()``) or behind the garbage collections it sets off. Only the sockets stay
off the reactor thread: the pipeline's sender thread writes what each report queued.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Cooperator
from twisted.python.failure import Failure

from graphmetrics.reporters import Reporter
from graphmetrics.runners.pipeline import Pipeline
from graphmetrics.runners.schedule import Schedule

__all__ = ["TwistedRunner", "SLICE_BUDGET", "BUSY_SHARE", "BUSY_BUDGET"]

log = logging.getLogger(__name__)

SLICE_BUDGET = 0.00025
"""Seconds of collecting per reactor turn: a request that arrives meanwhile waits about that long. A turn
overruns it by its last slice (16 metrics: about 0.05 ms of counters, up to about 1 ms of timers)."""
BUSY_SHARE = 0.25
"""A reactor too busy to come back quickly still owes the report this much of the time it spent on other
work since the last turn (up to ``BUSY_BUDGET``): at saturation a report gets about a fifth of the
reactor instead of 0.25 ms per many requests, so it finishes within its interval."""
BUSY_BUDGET = 0.001


class _Reactor(Protocol):
    def seconds(self) -> float: ...

    def callLater(self, delay: float, callable: Callable[..., Any], *args: Any, **kw: Any) -> Any: ...

    def callFromThread(self, callable: Callable[..., Any], *args: Any, **kw: Any) -> None: ...


class TwistedRunner:
    """Reports every ``interval`` seconds of ``reactor`` time; ``stop()`` returns a Deferred.

    ``slice_budget`` bounds the collecting done in one reactor turn (0: one slice per turn); a turn
    that follows a long stretch of other work may take up to a quarter of that stretch, at most
    ``BUSY_BUDGET`` (see ``BUSY_SHARE``).
    """

    def __init__(
        self,
        reporters: Iterable[Reporter],
        interval: float = 60.0,
        reactor: _Reactor | None = None,
        *,
        slice_budget: float = SLICE_BUDGET,
    ) -> None:
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor  # type: ignore[assignment]
        assert reactor is not None
        if not slice_budget >= 0:
            raise ValueError(f"slice_budget must be >= 0 seconds, not {slice_budget!r}")
        self._reactor: _Reactor = reactor
        self._schedule = Schedule(interval, reactor.seconds())  # validates interval now
        self.interval = self._schedule.interval
        self.slice_budget = slice_budget
        self._pipeline = Pipeline(reporters, "graphmetrics-twisted")
        self._cooperator = Cooperator(terminationPredicateFactory=self._turn_budget, scheduler=self._next_turn)
        self._call: Any = None
        self._collecting: Deferred[None] | None = None
        self._overruns = 0
        self._timer: Callable[[], float] = time.perf_counter  # measures turns (tests replace it)
        self._turn_ended = 0.0

    @property
    def skipped_ticks(self) -> int:
        """Ticks not reported: reactor time jumped past them (a stall or a suspend), or the previous
        report was still being collected (a reactor too busy to give it a turn for a whole interval)."""
        return self._schedule.skipped + self._overruns

    @property
    def collecting(self) -> bool:
        """True while a report is being collected, between its slices."""
        return self._collecting is not None

    def start(self) -> None:
        if self._call is not None:
            raise RuntimeError("already started")
        self._schedule = Schedule(self.interval, self._reactor.seconds())
        self._pipeline.start()
        self._arm()

    def _arm(self) -> None:
        self._call = self._reactor.callLater(self._schedule.delay(self._reactor.seconds()), self._tick)

    def _tick(self) -> None:
        timestamp = self._schedule.due(self._reactor.seconds())
        if timestamp is not None:
            if self._collecting is None:
                self._collect(timestamp)
            else:
                self._overruns += 1
                log.warning("graphmetrics: report at %d skipped: the previous one is still being collected",
                            timestamp)
        self._arm()

    def _turn_budget(self) -> Callable[[], bool]:
        now = self._timer()
        budget = self.slice_budget
        if budget > 0:  # 0: one slice per turn, whatever happened meanwhile
            budget = max(budget, min((now - self._turn_ended) * BUSY_SHARE, BUSY_BUDGET))
        end = now + budget

        def turn_over() -> bool:
            now = self._timer()
            if now < end:
                return False
            self._turn_ended = now
            return True

        return turn_over

    def _next_turn(self, work: Callable[[], None]) -> Any:
        return self._reactor.callLater(0, work)

    def _collect(self, timestamp: int) -> Deferred[None]:
        """Collect the report stamped ``timestamp`` in slices; fires once every reporter queued it."""
        self._turn_ended = self._timer()
        collecting: Deferred[Any] = self._cooperator.coiterate(self._pipeline.collect_steps(timestamp))
        self._collecting = collecting

        def done(result: object) -> None:
            self._collecting = None
            if isinstance(result, Failure):  # not expected: the pipeline catches each reporter's errors
                log.error("graphmetrics: collecting the report at %d failed: %s", timestamp, result.getTraceback())

        collecting.addBoth(done)
        return collecting

    def stop(self, deadline: float = 5.0) -> Deferred[bool]:
        """Stop ticking; collect a final report and send everything within ``deadline`` seconds.

        The returned Deferred fires on the reactor thread with True when nothing was left unsent.
        Wire it to shutdown with ``reactor.addSystemEventTrigger("before", "shutdown", runner.stop)``.
        """
        result: Deferred[bool] = Deferred()
        if self._call is None:
            result.callback(True)
            return result
        if self._call.active():
            self._call.cancel()
        self._call = None
        end = time.monotonic() + deadline
        final = self._schedule.closing(self._reactor.seconds())
        previous = self._collecting if self._collecting is not None else succeed(None)
        collected = previous.addCallback(lambda _: self._collect(final))  # in order: the report in progress first

        def finish() -> None:
            try:
                done = self._pipeline.finish(None, max(0.0, end - time.monotonic()))
            except Exception:
                log.exception("graphmetrics: the final report failed")
                done = False
            self._reactor.callFromThread(result.callback, done)

        collected.addBoth(lambda _: threading.Thread(target=finish, name="graphmetrics-stop", daemon=True).start())
        return result
