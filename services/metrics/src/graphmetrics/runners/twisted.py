"""The runner for Twisted programs: the reactor keeps time, worker threads do the work.

Only scheduling runs on the reactor thread (``callLater`` on interval boundaries, testable with
``twisted.internet.task.Clock``): each tick hands its timestamp to the collector thread and returns,
so the reactor is never held by a snapshot or blocked by a socket. With a big registry the collector
still competes for the GIL, which CPython hands over every ``sys.getswitchinterval()`` (5 ms);
``benchmarks/bench_report.py`` measures the longest reactor stall this causes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from twisted.internet.defer import Deferred

from graphmetrics.reporters import Reporter
from graphmetrics.runners.pipeline import Pipeline
from graphmetrics.runners.schedule import Schedule

__all__ = ["TwistedRunner"]

log = logging.getLogger(__name__)


class _Reactor(Protocol):
    def seconds(self) -> float: ...

    def callLater(self, delay: float, callable: Callable[..., Any], *args: Any, **kw: Any) -> Any: ...

    def callFromThread(self, callable: Callable[..., Any], *args: Any, **kw: Any) -> None: ...


class TwistedRunner:
    """Reports every ``interval`` seconds of ``reactor`` time; ``stop()`` returns a Deferred."""

    def __init__(self, reporters: Iterable[Reporter], interval: float = 60.0, reactor: _Reactor | None = None) -> None:
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor  # type: ignore[assignment]
        assert reactor is not None
        self._reactor: _Reactor = reactor
        self._schedule = Schedule(interval, reactor.seconds())  # validates interval now
        self.interval = self._schedule.interval
        self._pipeline = Pipeline(reporters, "graphmetrics-twisted")
        self._call: Any = None

    @property
    def skipped_ticks(self) -> int:
        """Ticks not reported because reactor time jumped past them (a stall or a suspend)."""
        return self._schedule.skipped

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
            self._pipeline.submit(timestamp)  # the snapshot is taken on the collector thread
        self._arm()

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
        final = self._schedule.closing(self._reactor.seconds())

        def finish() -> None:
            try:
                done = self._pipeline.finish(final, deadline)
            except Exception:
                log.exception("graphmetrics: the final report failed")
                done = False
            self._reactor.callFromThread(result.callback, done)

        threading.Thread(target=finish, name="graphmetrics-stop", daemon=True).start()
        return result
