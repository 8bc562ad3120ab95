"""pyformance's ``Reporter`` base: ``start()``, ``stop()``, ``report_now()`` over a core reporter and
a :class:`~graphmetrics.runners.thread.ThreadRunner`.

So a pyformance-style reporter reports on interval boundaries (not ``interval`` after the previous
report ends, which drifts), sends from its own thread with buffering and back-off, and ``stop()``
sends a final report (waiting at most 5 seconds) instead of leaving the last interval unsent.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from graphmetrics.clock import SYSTEM_CLOCK, Clock
from graphmetrics.compat.pyformance.registry import global_registry
from graphmetrics.registry import MetricsRegistry
from graphmetrics.reporters import Reporter as Engine
from graphmetrics.forksafety import reset_after_fork
from graphmetrics.runners.thread import ThreadRunner

__all__ = ["Reporter"]

STOP_DEADLINE = 5.0
"""Seconds ``stop()`` may take to send the final report and whatever is still buffered."""


class _OneCollectAtATime:
    """A core reporter whose ``collect`` is never run by two threads at once (runner and report_now)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()

    def collect(self, timestamp: int) -> object:
        with self._lock:
            return self.engine.collect(timestamp)

    @property
    def retry_in(self) -> float | None:
        return self.engine.retry_in

    def flush(self, timeout: float | None = None) -> bool:
        return self.engine.flush(timeout)

    def close(self) -> None:
        self.engine.close()

    def give_up(self) -> int:
        """What a stop at its deadline calls: the core reporter counts and logs what it never delivered."""
        give_up = getattr(self.engine, "give_up", None)
        return 0 if give_up is None else int(give_up())

    def __repr__(self) -> str:
        return repr(self.engine)


class Reporter:
    """Reports ``registry`` (default: the global one) every ``reporting_interval`` seconds once started.

    ``reporting_interval`` is a whole number of seconds (timestamps fall on its multiples, like
    Whisper's slots); ``clock`` is anything with ``time()``, the system clock by default.
    """

    def __init__(self, registry: Any = None, reporting_interval: float = 30, clock: Clock | None = None) -> None:
        self.registry = registry if registry is not None else global_registry()
        if not isinstance(self.registry, MetricsRegistry):  # e.g. a duck-typed global registry
            raise TypeError(f"a reporter reads a graphmetrics MetricsRegistry, not a {type(self.registry).__name__}")
        self.reporting_interval = reporting_interval
        self.clock = clock if clock is not None else SYSTEM_CLOCK
        self.engine = self._engine(self.registry)
        """The core reporter doing the work (its counters are ``graphmetrics.<name>.*`` in the registry)."""
        self._reporter = _OneCollectAtATime(self.engine)
        self._runner = ThreadRunner([self._reporter], reporting_interval, self.clock)  # checks the interval
        self._others: weakref.WeakKeyDictionary[Any, _OneCollectAtATime] = weakref.WeakKeyDictionary()
        self._state_lock = threading.Lock()
        self._started = self._stopped = False
        reset_after_fork(self)

    def _engine(self, registry: Any) -> Engine:
        """The core reporter that sends ``registry``'s reports."""
        raise NotImplementedError

    def start(self) -> bool:
        """Start reporting in the background; False if already started or stopped (as in pyformance)."""
        with self._state_lock:
            if self._started or self._stopped:
                return False
            self._started = True
        self._runner.start()
        return True

    def after_fork_in_child(self) -> None:
        """The parent's reporting thread is not in the child: there ``start()`` starts one (as in pyformance)."""
        self._state_lock = threading.Lock()
        self._started = False

    def stop(self) -> None:
        """Stop reporting: one final report, then everything still buffered, within 5 seconds."""
        with self._state_lock:
            if self._stopped:
                return
            self._stopped = True
        if self._started:
            self._runner.stop(STOP_DEADLINE)
        else:
            self._reporter.close()
        for other in list(self._others.values()):  # report_now's other registries: their connections
            other.close()

    def report_now(self, registry: Any = None, timestamp: int | None = None) -> None:
        """Report ``registry`` (default: this reporter's) now, stamped ``timestamp`` (default: the
        clock's time, rounded); one send attempt, and what it could not send stays buffered."""
        reporter = self._reporter
        if registry is not None and registry is not self.registry:
            with self._state_lock:
                if registry not in self._others:
                    self._others[registry] = _OneCollectAtATime(self._engine(registry))
                reporter = self._others[registry]
        reporter.collect(int(round(self.clock.time())) if timestamp is None else int(timestamp))
        reporter.flush()
