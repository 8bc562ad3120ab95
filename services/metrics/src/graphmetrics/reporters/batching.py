"""The reporting engine shared by the network reporters: collect (CPU) apart from flush (I/O).

``collect(timestamp)`` snapshots the registry, flattens and encodes it into one :class:`Batch` and
queues it; it never touches the network, so a runner can take every interval's snapshot on time
while carbon is down. ``flush()`` sends queued batches oldest first through one persistent
connection; a failure keeps them queued (bounded by bytes) and backs off with jitter, never for
longer than one report interval.

A report leaves the queue only once the peer's TCP acknowledged its last byte (Linux ``TIOCOUTQ``,
:mod:`.delivery`). When a connection ends (closed by the peer, reset, failed, or no byte taken within
``send_timeout``) each report resumes at the line or frame holding its first unacknowledged byte: a
close after the peer acknowledged a report re-sends nothing of it; a slow peer gets the rest of a
report, never its start again. Re-sent points are counted apart from first sends.

The reporter counts its own work in its registry under ``graphmetrics.<name>.``, so it is reported
with everything else (``<prefix>.graphmetrics.carbon.points_acknowledged.count``).
"""

from __future__ import annotations

import bisect
import logging
import math
import threading
import time
from collections.abc import Callable, Generator, Sequence
from typing import Any, Protocol

from graphmetrics.clock import SYSTEM_CLOCK, Clock
from graphmetrics.forksafety import reset_after_fork
from graphmetrics.names import sanitize_name
from graphmetrics.readout import ENCODE_AT, STREAM_MESSAGE_BYTES, Layout, Point, ReadableRegistry
from graphmetrics.reporters.backoff import Backoff
from graphmetrics.reporters.buffer import DEFAULT_MAX_BYTES, Batch, BatchBuffer, Outgoing
from graphmetrics.reporters.delivery import Ledger, points_between
from graphmetrics.reporters.transport import Transport
from graphmetrics.reporters.wire import LINES, Framing

__all__ = ["BatchReporter", "Encoder", "Registry", "OUTAGE_MINUTES", "ACK_POLL"]

log = logging.getLogger(__name__)

OUTAGE_MINUTES = 15
"""The carbon outage a reporter's buffer should outlast; a smaller ``max_buffer_bytes`` is warned about."""

ACK_POLL = 0.5
"""Seconds between looks at what the peer acknowledged while written bytes are unacknowledged."""
_FINAL_POLL = 0.02
_REFUSED_REMEMBERED = 10_000  # metrics whose refusal was logged: bounded, like everything kept

Encoder = Callable[[int, Sequence[Point]], list[bytes]]
"""``(timestamp, points) -> messages``: one of :mod:`graphmetrics.reporters.wire`'s formats."""


class Registry(ReadableRegistry, Protocol):
    """The part of :class:`graphmetrics.registry.MetricsRegistry` a reporter uses."""

    def get_metrics(self, name: str, tags: Any = None) -> dict[str, int | float]: ...

    def counter(self, name: str, tags: Any = None) -> Any: ...

    def gauge(self, name: str, fn_or_value: Any = None, tags: Any = None) -> Any: ...


def _span(entries: Sequence[Outgoing]) -> str:
    """How a log line names some reports: their count, points and timestamps."""
    if not entries:
        return "no reports"
    stamps_all = [entry.batch.timestamp for entry in entries]
    first, last = min(stamps_all), max(stamps_all)
    stamps = f"timestamp {first}" if first == last else f"timestamps {first}..{last}"
    return f"{len(entries)} report(s) ({stamps})"


class BatchReporter:
    """Reports one registry through one transport; ``collect`` and ``flush`` may run on two threads."""

    def __init__(
        self,
        registry: Registry,
        transport: Transport,
        encode: Encoder,
        *,
        name: str,
        prefix: str = "",
        export_buckets: bool = False,
        max_buffer_bytes: int = DEFAULT_MAX_BYTES,
        backoff: Backoff | None = None,
        clock: Clock | None = None,
        framing: Framing = LINES,
    ) -> None:
        self.name = sanitize_name(name)
        self.prefix = sanitize_name(prefix) if prefix else ""
        self.registry = registry
        self.export_buckets = export_buckets
        self._transport = transport
        self._encode = encode
        self._clock = clock if clock is not None else SYSTEM_CLOCK
        self._backoff = backoff if backoff is not None else Backoff()
        self._buffer = BatchBuffer(max_buffer_bytes)
        self._layout = Layout(self.prefix)
        self._ledger = Ledger(framing)
        self._framing = framing
        self._last_acked: Outgoing | None = None  # the report acknowledged last on this connection
        self._suspect: Outgoing | None = None  # ... when the peer then closed it: see _settle
        self._send_lock = threading.Lock()
        self._retry_at = -math.inf
        self._failing = False
        self._interval: float | None = None  # between the last two reports: the longest back-off
        self.last_acknowledged: float | None = None
        """Clock time the peer last acknowledged a whole report (where that cannot be known: wrote it)."""
        self._previous_timestamp: int | None = None
        self._capacity_checked = False
        self._oversize_warned = False
        self._refused: set[str] = set()
        own = f"graphmetrics.{self.name}."
        if registry.get_metrics(own + "points_written"):
            raise ValueError(f"this registry already has a reporter named {self.name!r}: give each one its own name=")
        self._points_written = registry.counter(own + "points_written")
        self._points_acknowledged = registry.counter(own + "points_acknowledged")
        self._points_resent = registry.counter(own + "points_resent")
        self._points_dropped = registry.counter(own + "points_dropped")
        self._send_failures = registry.counter(own + "send_failures")
        self._dropped_reports = registry.counter(own + "dropped_reports")
        self._rejected_points = registry.counter(own + "rejected_points")
        registry.gauge(own + "buffered_reports", lambda: len(self._buffer))
        registry.gauge(own + "buffered_bytes", lambda: self._buffer.nbytes)
        registry.gauge(own + "oldest_unacknowledged_age", self._oldest_age)
        registry.gauge(own + "last_acknowledged",
                       lambda: math.nan if self.last_acknowledged is None else self.last_acknowledged)
        reset_after_fork(self)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.name!r} prefix={self.prefix!r} via {self._transport!r} "
            f"buffered={len(self._buffer)}>"
        )

    # -- collecting (CPU only) ---------------------------------------------------------------------

    def collect(self, timestamp: int) -> Batch:
        """Snapshot the registry as one report stamped ``timestamp`` and queue it for sending."""
        steps = self.collect_slices(timestamp)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]

    def collect_slices(self, timestamp: int) -> Generator[None, None, Batch]:
        """``collect``, one slice of metrics per step: read, flatten and encode each, then yield.

        A driver (the Twisted runner) runs a few steps per reactor turn; the batch is queued after
        the last step and returned. Every point carries ``timestamp``, however long the steps take.
        """
        timestamp = int(timestamp)
        messages: list[bytes] = []
        waiting: list[Point] = []
        points = rejected = 0
        for flat in self._layout.report(self.registry, self.export_buckets):
            waiting += flat.points
            points += len(flat.points)
            rejected += flat.rejected
            if flat.refused:
                self._refusing(flat.refused)
            if len(waiting) >= ENCODE_AT:
                messages += self._encode(timestamp, waiting)
                waiting = []
            yield
        if waiting:
            messages += self._encode(timestamp, waiting)
        if rejected:
            self._rejected_points.inc(rejected)
        batch = Batch(timestamp, tuple(messages), points)
        self._check_capacity(batch)
        if batch.nbytes:
            dropped = self._buffer.push(batch)
            if dropped:
                self._drop(dropped, "the buffer is full")
                self._retry_at = -math.inf  # probe now: a back-off must not outlast what the buffer holds
            if batch.nbytes > self._buffer.max_bytes and not self._oversize_warned:
                self._oversize_warned = True
                log.warning("%s: a %d-byte report is bigger than max_buffer_bytes=%d: only the newest "
                            "report is kept during an outage", self.name, batch.nbytes, self._buffer.max_bytes)
        return batch

    def _drop(self, dropped: list[Outgoing], why: str) -> None:
        """Count and log reports given up on (their unacknowledged points are lost)."""
        if not dropped:
            return
        points = sum(points_between(e.batch, e.acked, e.batch.nbytes, self._framing) for e in dropped)
        self._dropped_reports.inc(len(dropped))
        self._points_dropped.inc(points)
        log.warning("%s: %s: dropped %s, %d point(s) not acknowledged by the peer",
                    self.name, why, _span(dropped), points)

    def _oldest_age(self) -> float:
        """Seconds since the oldest report not acknowledged in full was due; 0 with none."""
        oldest = self._buffer.oldest()
        return 0.0 if oldest is None else max(0.0, self._clock.time() - oldest.batch.timestamp)

    def _refusing(self, paths: Sequence[str]) -> None:
        """Log each metric whose value cannot be a point once (it is counted in every report)."""
        for path in paths:
            if path not in self._refused and len(self._refused) < _REFUSED_REMEMBERED:
                self._refused.add(path)
                log.warning("%s: the value of %s cannot be a point (not a finite number, an int without a float, "
                            "or no valid path): left out of every report it is in, counted in rejected_points",
                            self.name, path)

    def _check_capacity(self, batch: Batch) -> None:
        """Warn once if the buffer holds less than 15 minutes of reports of this size and interval."""
        previous, self._previous_timestamp = self._previous_timestamp, batch.timestamp
        if previous is not None and batch.timestamp > previous:
            self._interval = float(batch.timestamp - previous)
        if self._capacity_checked or previous is None or batch.timestamp <= previous or not batch.nbytes:
            return
        self._capacity_checked = True
        minutes = self._buffer.max_bytes // batch.nbytes * (batch.timestamp - previous) / 60
        if minutes < OUTAGE_MINUTES:
            log.warning("%s: max_buffer_bytes=%d holds %.1f minutes of %d-byte reports, less than %d: "
                        "a longer carbon outage will drop the oldest", self.name, self._buffer.max_bytes,
                        minutes, batch.nbytes, OUTAGE_MINUTES)

    # -- sending (I/O) -----------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Reports queued with bytes not yet written to a connection."""
        return self._buffer.unwritten

    @property
    def unacknowledged(self) -> int:
        """Reports not acknowledged in full by the peer (queued or in flight)."""
        return len(self._buffer)

    @property
    def retry_in(self) -> float | None:
        """Seconds until the next flush has work (0: now), or None if nothing is unacknowledged."""
        if not len(self._buffer):
            return None
        wait = self._retry_at - self._clock.time()
        if wait <= 0 and not self._buffer.unwritten:
            return ACK_POLL  # everything written: look at the acknowledgements again soon
        return max(0.0, wait)

    def flush(self, timeout: float | None = None) -> bool:
        """Send queued reports oldest first; True once the peer acknowledged every one.

        Without ``timeout``: one attempt, skipped while backing off. With ``timeout`` (the final
        flush of a ``stop``): attempts regardless of back-off and waits for the acknowledgements,
        until done or ``timeout`` real seconds have passed; every socket wait is cut to what is left.
        """
        if timeout is None:
            if self._clock.time() < self._retry_at:
                return not len(self._buffer)
            with self._send_lock:
                return self._attempt(None)
        deadline = time.monotonic() + timeout
        if not self._send_lock.acquire(timeout=max(0.0, timeout)):
            return False
        try:
            while not self._attempt(deadline):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                pause = self._retry_at - self._clock.time() if self._failing else _FINAL_POLL  # back-off or acks
                time.sleep(max(0.0, min(pause, left)))
            return True
        finally:
            self._send_lock.release()

    def close(self) -> None:
        """Close the connection; reports not acknowledged stay queued (a later flush reconnects and
        resumes them where the peer stopped).

        Never waits for a send in progress on another thread (a stop past its deadline).
        """
        if self._send_lock.acquire(blocking=False):
            try:
                self._connection_lost(None)
                self._last_acked = None
            finally:
                self._send_lock.release()
        else:
            self._transport.close()

    def give_up(self) -> int:
        """Drop every report not acknowledged in full, count it and log it (a stop at its deadline);
        return how many reports that was."""
        lost = self._buffer.drain()
        self._drop(lost, "stopped before the peer acknowledged them")
        return len(lost)

    def _attempt(self, deadline: float | None) -> bool:
        if not self._settle():
            return False
        try:
            while (entry := self._buffer.claim()) is not None:
                self._write(entry, deadline)
        except OSError as exc:
            self._failed(exc)
            return False
        self._settle()
        if self._failing:
            log.info("%s: sending through %r works again", self.name, self._transport)
        self._failing = False
        self._backoff.reset()
        self._retry_at = -math.inf
        return not len(self._buffer)

    def _write(self, entry: Outgoing, deadline: float | None) -> None:
        """Write the rest of ``entry`` to the connection (raises ``OSError``, ``TimeoutError``)."""
        batch = entry.batch
        stream = self._transport.stream
        while entry.written < batch.nbytes:
            index, inner = batch.locate(entry.written)
            if stream:  # join the following messages into one send of about STREAM_MESSAGE_BYTES
                end = bisect.bisect_left(batch.ends, entry.written + STREAM_MESSAGE_BYTES, lo=index)
                data = memoryview(b"".join(batch.messages[index : end + 1]))[inner:]
            else:
                data = memoryview(batch.messages[index])
            while data:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError("stop deadline reached")
                start = entry.written
                count = self._transport.send(data, left)
                self._suspect = None  # a new connection took data: the peer did not go away
                data = data[count:]
                entry.written += count
                self._ledger.wrote(entry, start, count)
                if start < entry.high:
                    self._points_resent.inc(points_between(batch, start, min(entry.written, entry.high),
                                                           self._framing))
                if entry.written > entry.high:
                    if entry.written == batch.nbytes:
                        self._points_written.inc(batch.points)
                    entry.high = entry.written

    def _settle(self) -> bool:
        """Take in what the peer acknowledged. A peer that closed the connection after acknowledging
        everything (an idle timeout) costs nothing; one that closed on bytes it had not acknowledged
        is a failure (its reports resume, after a back-off). False after a failure.

        A close after everything was acknowledged may also be carbon stopping, which drops what it
        acknowledged and had not written yet. So the report acknowledged last stays a suspect until
        the next connection: refused, it goes again (carbon was stopped); accepted, it was delivered
        (an idle-closing hop accepts at once)."""
        if self._transport.peer_closed():
            unacked = self._transport.unacked_bytes() if self._ledger else 0
            if unacked is None or unacked > 0:
                self._failed(ConnectionResetError(f"the peer closed the connection lacking {unacked} byte(s)"))
                return False
            self._connection_lost(None)
            self._suspect, self._last_acked = self._last_acked, None
        elif self._ledger:
            self._acknowledged(self._ledger.acknowledge(self._transport.unacked_bytes()))
        return True

    def _acknowledged(self, complete: list[Outgoing]) -> None:
        for entry in complete:
            self._buffer.done(entry)
            self._points_acknowledged.inc(entry.batch.points)
        if complete:
            self.last_acknowledged = self._clock.time()
            self._last_acked = complete[-1]

    def _connection_lost(self, why: str | None) -> None:
        """Close the connection; every report not yet delivered resumes where the peer stopped."""
        unacked = self._transport.unacked_bytes() if self._ledger else 0
        complete, resume = self._ledger.rewind(unacked)
        self._transport.close()
        self._acknowledged(complete)
        self._buffer.release()
        if resume:
            log.info("%s: %s; %s resume at the first line or frame the peer did not acknowledge",
                     self.name, why or "the connection is closed", _span(resume))

    def _failed(self, exc: OSError) -> None:
        self._send_failures.inc()
        self._connection_lost(f"{type(exc).__name__}: {exc}")
        self._last_acked = None
        suspect, self._suspect = self._suspect, None
        if suspect is not None:  # closed, then refused: carbon stopped, maybe before writing it
            suspect.acked = suspect.written = 0
            self._buffer.requeue(suspect)
            log.info("%s: the peer closed the connection and then refused a new one: the report at %d it "
                     "acknowledged last goes again (a stopped carbon-cache drops what it had not written)",
                     self.name, suspect.batch.timestamp)
        delay = self._backoff.next_delay(self._interval)  # back within one interval of carbon's return
        self._retry_at = self._clock.time() + delay
        level = logging.DEBUG if self._failing else logging.WARNING
        self._failing = True
        log.log(level, "%s: sending through %r failed (%s: %s); %d report(s) unacknowledged, next try in %.1f s",
                self.name, self._transport, type(exc).__name__, exc, len(self._buffer), delay)

    def after_fork_in_child(self) -> None:
        # The parent still owns (and will send) everything queued before the fork.
        self._send_lock = threading.Lock()
        self._buffer.reset_lock_after_fork()
        self._buffer.drain()
        self._ledger = Ledger(self._framing)
        self._last_acked = self._suspect = None
