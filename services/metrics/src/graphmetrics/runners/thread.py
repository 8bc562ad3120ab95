"""The runner for any Python program: a daemon thread ticks on interval boundaries."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from graphmetrics.clock import SYSTEM_CLOCK, Clock
from graphmetrics.reporters import Reporter
from graphmetrics.forksafety import reset_after_fork
from graphmetrics.runners.pipeline import Pipeline
from graphmetrics.runners.schedule import Schedule

__all__ = ["ThreadRunner"]

_MAX_SLEEP = 1.0
"""The ticker re-reads the clock at least this often, so a stepped clock or a resume is seen soon."""


class ThreadRunner:
    """Collects every ``interval`` seconds on a ticker thread; a sender thread does all the I/O."""

    def __init__(self, reporters: Iterable[Reporter], interval: float = 60.0, clock: Clock | None = None) -> None:
        self._clock = clock if clock is not None else SYSTEM_CLOCK
        self._schedule = Schedule(interval, self._clock.time())  # validates interval now
        self.interval = self._schedule.interval
        self._pipeline = Pipeline(reporters, "graphmetrics-thread")
        self._reset()
        reset_after_fork(self)

    def _reset(self) -> None:
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()

    @property
    def skipped_ticks(self) -> int:
        """Ticks not reported because the clock jumped past them (a stall or a suspend)."""
        return self._schedule.skipped

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("already started")
        self._reset()
        self._schedule = Schedule(self.interval, self._clock.time())
        self._pipeline.start()
        self._thread = threading.Thread(target=self._run, name="graphmetrics-ticker", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Re-read the clock now instead of at the next planned check (after stepping a manual clock)."""
        self._wake.set()

    def stop(self, deadline: float = 5.0) -> bool:
        """Stop ticking, collect one final report, send everything within ``deadline`` seconds.

        Blocks the caller for at most ``deadline``; True when nothing was left unsent.
        """
        if self._thread is None:
            return True
        end = time.monotonic() + deadline
        self._stop.set()
        self._wake.set()
        self._thread.join(max(0.0, end - time.monotonic()))
        self._thread = None
        final = self._schedule.closing(self._clock.time())
        return self._pipeline.finish(final, max(0.0, end - time.monotonic()))

    def _run(self) -> None:
        while not self._stop.is_set():
            now = self._clock.time()
            timestamp = self._schedule.due(now)
            if timestamp is not None:
                self._pipeline.collect(timestamp)
                continue
            self._wake.wait(min(self._schedule.delay(now), _MAX_SLEEP))
            self._wake.clear()

    def after_fork_in_child(self) -> None:
        self._reset()  # stopped in the child; start() may be called there
