"""Collecting and sending on separate threads, shared by both runners.

Sending may wait on a hung carbon for up to a send timeout per report; collecting must not, or an
outage would cost the snapshots that the buffer exists to keep. So the reporters' ``flush`` runs on
a dedicated sender thread, woken after each collect and when a back-off ends, and ``collect`` runs
on the runner's own thread (``collect``) or on a collector thread fed through a queue (``submit``,
for callers such as a reactor that must not spend the CPU).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable

from graphmetrics.reporters import Reporter
from graphmetrics.reporters.forksafety import reset_after_fork

__all__ = ["Pipeline"]

log = logging.getLogger(__name__)

_MAX_IDLE = 30.0
"""Longest sender sleep without a wake-up: bounds the effect of a clock that was stepped."""
_MIN_IDLE = 0.1
"""Shortest: a reporter that keeps saying "retry now" (a bug) must not make the sender spin."""


class Pipeline:
    """Drives ``reporters``: ``collect``/``submit`` a timestamp, and a sender thread flushes."""

    def __init__(self, reporters: Iterable[Reporter], name: str = "graphmetrics") -> None:
        self.reporters = list(reporters)
        if not self.reporters:
            raise ValueError("a runner needs at least one reporter")
        self.name = name
        self.collect_errors = 0
        self._reset()
        reset_after_fork(self)

    def _reset(self) -> None:
        self._wake = threading.Event()
        self._stopping = False
        self._sender: threading.Thread | None = None
        self._collector: threading.Thread | None = None
        self._queue: queue.SimpleQueue[int | None] = queue.SimpleQueue()

    @property
    def running(self) -> bool:
        return self._sender is not None and not self._stopping

    def start(self) -> None:
        if self._sender is not None:
            raise RuntimeError("already started")
        self._stopping = False
        self._sender = threading.Thread(target=self._send_loop, name=f"{self.name}-sender", daemon=True)
        self._sender.start()

    def collect(self, timestamp: int) -> None:
        """Collect one report in the calling thread, then wake the sender."""
        for reporter in self.reporters:
            try:
                reporter.collect(timestamp)
            except Exception:  # one broken reporter must not cost the others their report
                self.collect_errors += 1
                log.exception("%s: %r failed to collect the report at %d", self.name, reporter, timestamp)
        self._wake.set()

    def submit(self, timestamp: int) -> None:
        """Collect one report on the collector thread; returns at once."""
        if self._collector is None:
            self._collector = threading.Thread(target=self._collect_loop, name=f"{self.name}-collector", daemon=True)
            self._collector.start()
        self._queue.put(timestamp)

    def wake(self) -> None:
        """Make the sender try now (e.g. after the clock moved)."""
        self._wake.set()

    def finish(self, timestamp: int, deadline: float) -> bool:
        """Collect a final report at ``timestamp`` and send all within ``deadline`` seconds.

        True when every reporter has nothing left queued. Threads are stopped, connections closed.
        """
        end = time.monotonic() + deadline
        if self._collector is not None:
            self._queue.put(None)  # collect what was submitted before, in order
            self._collector.join(max(0.0, end - time.monotonic()))
            self._collector = None
        self.collect(timestamp)
        self._stopping = True
        self._wake.set()
        if self._sender is not None:
            self._sender.join(max(0.0, end - time.monotonic()))  # it may be inside a send: bounded wait
            self._sender = None
        done = True
        for reporter in self.reporters:
            done = self._flush(reporter, max(0.0, end - time.monotonic())) and done
            try:
                reporter.close()
            except Exception:
                log.exception("%s: closing %r failed", self.name, reporter)
        return done

    def _flush(self, reporter: Reporter, timeout: float | None) -> bool:
        try:
            return reporter.flush(timeout)
        except Exception:
            log.exception("%s: %r failed to flush", self.name, reporter)
            return False

    def _collect_loop(self) -> None:
        while (timestamp := self._queue.get()) is not None:
            self.collect(timestamp)

    def _idle_time(self) -> float | None:
        delays = [d for d in (reporter.retry_in for reporter in self.reporters) if d is not None]
        return min(max(min(delays), _MIN_IDLE), _MAX_IDLE) if delays else None

    def _send_loop(self) -> None:
        while True:
            self._wake.wait(self._idle_time())
            self._wake.clear()
            if self._stopping:
                return
            for reporter in self.reporters:
                self._flush(reporter, None)

    def _after_fork_in_child(self) -> None:
        self._reset()  # the threads do not exist in the child; start() may be called again there
