"""Collecting apart from sending, shared by both runners.

Sending may wait on a hung carbon for up to a send timeout per report; collecting must not, or an
outage would cost the snapshots that the buffer exists to keep. So the reporters' ``flush`` runs on
a dedicated sender thread, woken after each collect and when a back-off ends, and collecting runs
where the runner says: all at once on its own thread (``collect``), or a slice per step
(``collect_steps``) for a driver that must get back to other work between slices, such as a reactor.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator

from graphmetrics.reporters import Reporter
from graphmetrics.forksafety import reset_after_fork

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
        """Collect one report in the calling thread (each reporter's ``collect``), then wake the sender."""
        for _ in self._steps(timestamp, sliced=False):
            pass

    def collect_steps(self, timestamp: int) -> Iterator[None]:
        """``collect``, yielding between slices of the reporters that can be read in slices.

        A reporter with ``collect_slices(timestamp)`` (the network reporters) gives one step per
        slice of metrics; any other is collected in one step.
        """
        return self._steps(timestamp, sliced=True)

    def _steps(self, timestamp: int, sliced: bool) -> Iterator[None]:
        for reporter in self.reporters:
            try:
                slices = getattr(reporter, "collect_slices", None) if sliced else None
                if slices is not None:
                    yield from slices(timestamp)
                else:
                    reporter.collect(timestamp)
                    yield
            except Exception:  # one broken reporter must not cost the others their report
                self.collect_errors += 1
                log.exception("%s: %r failed to collect the report at %d", self.name, reporter, timestamp)
        self._wake.set()

    def wake(self) -> None:
        """Make the sender try now (e.g. after the clock moved)."""
        self._wake.set()

    def finish(self, timestamp: int | None, deadline: float) -> bool:
        """Collect a final report at ``timestamp`` (None: the caller did) and send all within ``deadline`` s.

        True when every reporter has nothing left unacknowledged. Threads are stopped, connections
        closed; what a reporter still holds at the deadline is given up (``give_up``: counted and
        logged with its timestamps), never dropped silently.
        """
        end = time.monotonic() + deadline
        if timestamp is not None:
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
                give_up = getattr(reporter, "give_up", None)
                if give_up is not None:
                    give_up()
            except Exception:
                log.exception("%s: closing %r failed", self.name, reporter)
        return done

    def _flush(self, reporter: Reporter, timeout: float | None) -> bool:
        try:
            return reporter.flush(timeout)
        except Exception:
            log.exception("%s: %r failed to flush", self.name, reporter)
            return False

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

    def after_fork_in_child(self) -> None:
        self._reset()  # the threads do not exist in the child; start() may be called again there
