"""The bounded queue of encoded reports waiting to be sent.

Reports are kept already encoded, so the bound is exact in bytes and a retry costs no CPU. Memory is
the one thing an outage must not exhaust: when the bound is hit, the *oldest* reports go first (the
newest are the most useful once carbon is back) and every dropped report is counted.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Batch", "BatchBuffer", "DEFAULT_MAX_BYTES"]

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""64 MiB: 15 minutes of 10 s reports (90 reports) of up to ~12,000 points each in plaintext."""


@dataclass(frozen=True)
class Batch:
    """One report, encoded: its messages are sent in order, all carrying ``timestamp``."""

    timestamp: int
    messages: tuple[bytes, ...] = field(repr=False)  # may carry an API key: never in a repr
    points: int
    nbytes: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "nbytes", sum(len(message) for message in self.messages))


class BatchBuffer:
    """Oldest-first queue of :class:`Batch`, at most ``max_bytes`` in total. Thread-safe."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes!r}")
        self.max_bytes = max_bytes
        self._batches: deque[Batch] = deque()
        self._lock = threading.Lock()
        self.nbytes = 0
        self.dropped_reports = 0
        self.dropped_points = 0

    def __len__(self) -> int:
        return len(self._batches)

    def push(self, batch: Batch) -> list[Batch]:
        """Queue ``batch`` as the newest; return the batches dropped to respect the bound."""
        with self._lock:
            self._batches.append(batch)
            self.nbytes += batch.nbytes
            return self._shrink()

    def requeue(self, batches: Iterable[Batch]) -> list[Batch]:
        """Put batches back in front (they are older than any queued one), keeping their order."""
        with self._lock:
            for batch in reversed(list(batches)):
                self._batches.appendleft(batch)
                self.nbytes += batch.nbytes
            return self._shrink()

    def peek(self) -> Batch | None:
        """The oldest batch, left in the queue until :meth:`remove` confirms it was sent."""
        with self._lock:
            return self._batches[0] if self._batches else None

    def remove(self, batch: Batch) -> None:
        """Take ``batch`` out (a no-op if the bound already dropped it meanwhile)."""
        with self._lock:
            if self._batches and self._batches[0] is batch:
                self._batches.popleft()
                self.nbytes -= batch.nbytes

    def clear(self) -> None:
        with self._lock:
            self._batches.clear()
            self.nbytes = 0

    def reset_lock_after_fork(self) -> None:
        """A lock held by another thread at ``fork()`` would stay held forever in the child."""
        self._lock = threading.Lock()

    def _shrink(self) -> list[Batch]:
        dropped: list[Batch] = []
        while self.nbytes > self.max_bytes and self._batches:
            batch = self._batches.popleft()
            self.nbytes -= batch.nbytes
            self.dropped_reports += 1
            self.dropped_points += batch.points
            dropped.append(batch)
        return dropped
