"""The bounded queue of encoded reports the peer has not acknowledged yet, with how far each got.

Reports are kept already encoded, so the bound is exact in bytes and a retry costs no CPU. A report
stays queued until the peer has acknowledged its last byte: :class:`Outgoing` says which of its bytes
the peer has (``acked``) and which are on the current connection (``written``). Memory is the one
thing an outage must not exhaust: past the bound, the *oldest* reports with nothing on the connection
go first (the newest are the most useful once carbon is back); the newest report is always kept, so a
report bigger than the whole buffer is sent, not dropped.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from collections import deque
from dataclasses import dataclass, field

__all__ = ["Batch", "BatchBuffer", "Outgoing", "DEFAULT_MAX_BYTES"]

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""64 MiB: 15 minutes of 10 s reports (90 reports) of up to ~12,000 points each in plaintext."""


@dataclass(frozen=True)
class Batch:
    """One report, encoded: its messages are sent in order, all carrying ``timestamp``."""

    timestamp: int
    messages: tuple[bytes, ...] = field(repr=False)  # may carry an API key: never in a repr
    points: int
    nbytes: int = field(init=False)
    ends: tuple[int, ...] = field(init=False, repr=False)
    """Offset just past each message, in the report's bytes."""

    def __post_init__(self) -> None:
        ends = tuple(itertools.accumulate(len(message) for message in self.messages))
        object.__setattr__(self, "ends", ends)
        object.__setattr__(self, "nbytes", ends[-1] if ends else 0)

    def locate(self, offset: int) -> tuple[int, int]:
        """``(message index, offset inside it)`` of the report's byte at ``offset`` (< ``nbytes``)."""
        index = bisect.bisect_right(self.ends, offset)
        return index, offset - (self.ends[index - 1] if index else 0)


class Outgoing:
    """A queued report and its progress: bytes ``[0, acked)`` are with the peer, ``[acked, written)``
    were written to the current connection and are not acknowledged yet. ``on_wire`` (changed only
    under the buffer's lock) keeps the bound from dropping a report the sender is writing."""

    __slots__ = ("batch", "acked", "written", "high", "on_wire")

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.acked = 0
        self.written = 0
        self.high = 0
        """The furthest byte ever written: bytes written again below it are re-sends."""
        self.on_wire = False

    def __repr__(self) -> str:
        return f"<Outgoing {self.batch.timestamp} acked={self.acked} written={self.written}/{self.batch.nbytes}>"


class BatchBuffer:
    """Oldest-first queue of :class:`Outgoing` reports, at most ``max_bytes`` (see the module). Thread-safe."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes!r}")
        self.max_bytes = max_bytes
        self._queue: deque[Outgoing] = deque()
        self._lock = threading.Lock()
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self._queue)

    def push(self, batch: Batch) -> list[Outgoing]:
        """Queue ``batch`` as the newest; return the reports dropped to respect the bound, oldest first."""
        with self._lock:
            self._queue.append(Outgoing(batch))
            self.nbytes += batch.nbytes
            dropped: list[Outgoing] = []
            if self.nbytes > self.max_bytes:
                keep: deque[Outgoing] = deque()
                newest = self._queue[-1]
                for entry in self._queue:
                    if self.nbytes > self.max_bytes and not entry.on_wire and entry is not newest:
                        self.nbytes -= entry.batch.nbytes
                        dropped.append(entry)
                    else:
                        keep.append(entry)
                self._queue = keep
            return dropped

    def claim(self) -> Outgoing | None:
        """The oldest report with bytes left to write, marked ``on_wire`` (the sender writes it now)."""
        with self._lock:
            for entry in self._queue:
                if entry.written < entry.batch.nbytes:
                    entry.on_wire = True
                    return entry
            return None

    def release(self) -> None:
        """The connection is gone: no report is on one, the bound may drop any again."""
        with self._lock:
            for entry in self._queue:
                entry.on_wire = False

    def requeue(self, entry: Outgoing) -> None:
        """Put an acknowledged report back in front, to be sent again from its first byte."""
        with self._lock:
            entry.on_wire = False
            self._queue.appendleft(entry)
            self.nbytes += entry.batch.nbytes

    def done(self, entry: Outgoing) -> None:
        """``entry`` was acknowledged in full: forget it."""
        with self._lock:
            try:
                self._queue.remove(entry)
            except ValueError:
                return
            self.nbytes -= entry.batch.nbytes

    def oldest(self) -> Outgoing | None:
        with self._lock:
            return self._queue[0] if self._queue else None

    @property
    def unwritten(self) -> int:
        """Reports with bytes not yet written to a connection."""
        with self._lock:
            return sum(1 for entry in self._queue if entry.written < entry.batch.nbytes)

    def drain(self) -> list[Outgoing]:
        """Remove and return every queued report."""
        with self._lock:
            entries = list(self._queue)
            self._queue.clear()
            self.nbytes = 0
            return entries

    def reset_lock_after_fork(self) -> None:
        """A lock held by another thread at ``fork()`` would stay held forever in the child."""
        self._lock = threading.Lock()
