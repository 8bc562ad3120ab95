"""The reporting engine shared by the network reporters: collect (CPU) apart from flush (I/O).

``collect(timestamp)`` snapshots the registry, flattens and encodes it into one :class:`Batch` and
queues it; it never touches the network, so a runner can take every interval's snapshot on time
while carbon is down. ``flush()`` sends queued batches oldest first through one persistent
connection; a failure keeps them queued (bounded by bytes) and backs off with jitter.

Delivery is at-least-once. A batch written to a connection stays "in flight" until the next flush
finds that connection still open with nothing unacknowledged (Linux ``TIOCOUTQ``); if the peer closed
it meanwhile, the in-flight batches are queued again, because carbon may have dropped them unread.
Re-sending a point is harmless for carbon-cache (same path, same timestamp: the same Whisper slot);
only an aggregator summing that slot would count it twice.

The reporter counts its own work in its registry under ``graphmetrics.<name>.``, so it is reported
with everything else (``<prefix>.graphmetrics.carbon.points_sent.count``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from typing import Any, Protocol

from graphmetrics.clock import SYSTEM_CLOCK, Clock
from graphmetrics.names import sanitize_name
from graphmetrics.reporters.backoff import Backoff
from graphmetrics.reporters.buffer import DEFAULT_MAX_BYTES, Batch, BatchBuffer
from graphmetrics.reporters.forksafety import reset_after_fork
from graphmetrics.reporters.layout import Layout
from graphmetrics.reporters.points import Point
from graphmetrics.reporters.reading import SlicedRegistry
from graphmetrics.reporters.transport import Transport
from graphmetrics.reporters.wire import STREAM_MESSAGE_BYTES

__all__ = ["BatchReporter", "ENCODE_AT", "Encoder", "Registry", "OUTAGE_MINUTES"]

log = logging.getLogger(__name__)

OUTAGE_MINUTES = 15
"""The carbon outage a reporter's buffer should outlast; a smaller ``max_buffer_bytes`` is warned about."""

ENCODE_AT = 128
"""Points are encoded in groups of at least this many (the last one of a report excepted), whatever the
size of the slices they were read in: one encoder call and about one message (frame) per group."""

Encoder = Callable[[int, Sequence[Point]], list[bytes]]
"""``(timestamp, points) -> messages``: one of :mod:`graphmetrics.reporters.wire`'s formats."""


class Registry(SlicedRegistry, Protocol):
    """The part of :class:`graphmetrics.registry.MetricsRegistry` a reporter uses."""

    def snapshot(self) -> dict[str, dict[str, int | float]]: ...

    def get_metrics(self, name: str, tags: Any = None) -> dict[str, int | float]: ...

    def counter(self, name: str, tags: Any = None) -> Any: ...

    def gauge(self, name: str, fn_or_value: Any = None, tags: Any = None) -> Any: ...


def _joined(messages: Iterable[bytes], size: int = STREAM_MESSAGE_BYTES) -> Iterator[bytes]:
    """Consecutive messages joined into sends of about ``size`` bytes, for a stream transport: a report
    encoded a slice at a time is thousands of small frames, and a ``send`` per frame would be a system
    call and a handover of the GIL between the sender thread and the application's each."""
    group: list[bytes] = []
    total = 0
    for message in messages:
        group.append(message)
        total += len(message)
        if total >= size:
            yield b"".join(group)
            group, total = [], 0
    if group:
        yield b"".join(group)


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
        self._in_flight: list[Batch] = []
        self._send_lock = threading.Lock()
        self._retry_at = -math.inf
        self._failing = False
        self.last_success: float | None = None
        self._previous_timestamp: int | None = None
        self._capacity_checked = False
        own = f"graphmetrics.{self.name}."
        if registry.get_metrics(own + "points_sent"):
            raise ValueError(f"this registry already has a reporter named {self.name!r}: give each one its own name=")
        self._points_sent = registry.counter(own + "points_sent")
        self._send_failures = registry.counter(own + "send_failures")
        self._dropped_reports = registry.counter(own + "dropped_reports")
        self._rejected_points = registry.counter(own + "rejected_points")
        registry.gauge(own + "buffered_reports", lambda: len(self._buffer))
        registry.gauge(own + "buffered_bytes", lambda: self._buffer.nbytes)
        registry.gauge(own + "last_success", lambda: math.nan if self.last_success is None else self.last_success)
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
            if len(waiting) >= ENCODE_AT:
                messages += self._encode(timestamp, waiting)
                waiting = []
            yield
        if waiting:
            messages += self._encode(timestamp, waiting)
        if rejected:
            self._rejected_points.inc(rejected)
            log.warning("%s: %d metric value(s) left out of the report (not a number or bad path)",
                        self.name, rejected)
        batch = Batch(timestamp, tuple(messages), points)
        self._check_capacity(batch)
        dropped = self._buffer.push(batch)
        if dropped:
            self._dropped_reports.inc(len(dropped))
            log.warning("%s: buffer full (%d bytes): dropped the %d oldest unsent report(s), %d points",
                        self.name, self._buffer.max_bytes, len(dropped), sum(b.points for b in dropped))
        return batch

    def _check_capacity(self, batch: Batch) -> None:
        """Warn once if the buffer holds less than 15 minutes of reports of this size and interval."""
        previous, self._previous_timestamp = self._previous_timestamp, batch.timestamp
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
        """Reports queued and not yet written to a connection."""
        return len(self._buffer)

    @property
    def retry_in(self) -> float | None:
        """Seconds until queued reports may be sent (0: now), or None if none are queued."""
        if not len(self._buffer):
            return None
        return max(0.0, self._retry_at - self._clock.time())

    def flush(self, timeout: float | None = None) -> bool:
        """Send queued reports oldest first; True once none is left queued.

        Without ``timeout``: one attempt, skipped while backing off. With ``timeout`` (the final
        flush of a ``stop``): attempts regardless of back-off until done or ``timeout`` real seconds
        have passed, and every socket wait is cut to what is left.
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
                pause = min(self._retry_at - self._clock.time(), deadline - time.monotonic())
                if deadline - time.monotonic() <= 0:
                    return False
                if pause > 0:
                    time.sleep(pause)
            return True
        finally:
            self._send_lock.release()

    def close(self) -> None:
        """Close the connection; queued reports stay queued (a later flush reconnects).

        Never waits for a send in progress on another thread (a stop past its deadline).
        """
        if self._send_lock.acquire(blocking=False):
            try:
                self._settle()
            finally:
                self._send_lock.release()
        self._transport.close()

    def _attempt(self, deadline: float | None) -> bool:
        self._settle()
        while (batch := self._buffer.peek()) is not None:
            messages = _joined(batch.messages) if self._transport.stream else batch.messages
            try:
                for message in messages:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        raise TimeoutError("stop deadline reached")
                    self._transport.send(message, left)
            except OSError as exc:
                self._failed(exc)
                return False
            self._buffer.remove(batch)
            self._in_flight.append(batch)
            self._points_sent.inc(batch.points)
            self.last_success = self._clock.time()
        if self._failing:
            log.info("%s: sending through %r works again", self.name, self._transport)
        self._failing = False
        self._backoff.reset()
        self._retry_at = -math.inf
        return True

    def _settle(self) -> None:
        """Decide the fate of the batches written since the last flush: delivered, or to re-send."""
        if not self._in_flight:
            return
        if self._transport.peer_closed():
            self._requeue("the connection was closed by the peer")
            return
        unacked = self._transport.unacked_bytes()
        if not unacked:
            self._in_flight.clear()
            return
        keep = 0  # the newest batches still (partly) unacknowledged stay in flight
        for batch in reversed(self._in_flight):
            keep += 1
            unacked -= batch.nbytes
            if unacked <= 0:
                break
        del self._in_flight[:-keep]

    def _requeue(self, why: str) -> None:
        batches, self._in_flight = self._in_flight, []
        dropped = self._buffer.requeue(batches)
        if dropped:
            self._dropped_reports.inc(len(dropped))
        log.info("%s: %s; queued %d report(s) to send again", self.name, why, len(batches))

    def _failed(self, exc: OSError) -> None:
        self._send_failures.inc()
        self._transport.close()
        if self._in_flight:
            self._requeue("the connection failed")
        delay = self._backoff.next_delay()
        self._retry_at = self._clock.time() + delay
        level = logging.DEBUG if self._failing else logging.WARNING
        self._failing = True
        log.log(level, "%s: sending through %r failed (%s: %s); %d report(s) queued, next try in %.1f s",
                self.name, self._transport, type(exc).__name__, exc, len(self._buffer), delay)

    def _after_fork_in_child(self) -> None:
        # The parent still owns (and will send) everything queued before the fork.
        self._send_lock = threading.Lock()
        self._buffer.reset_lock_after_fork()
        self._buffer.clear()
        self._in_flight = []
