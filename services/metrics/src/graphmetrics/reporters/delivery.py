"""What the peer got: the bytes written to one connection, mapped back to the reports they carry.

carbon's protocols have no acknowledgement, but the peer's TCP has: the kernel knows how many
written bytes are not acknowledged yet (:meth:`~graphmetrics.reporters.transport.TcpTransport.unacked_bytes`).
Everything before them is in the peer's kernel. A :class:`Ledger` turns that count into "these
reports are acknowledged" while the connection lives, and, when it dies, into "resume each report
at the unit (line, frame) holding its first unacknowledged byte", so a close after the peer
acknowledged a report re-sends nothing of it, and a close before re-sends only what it lacks.
"""

from __future__ import annotations

from collections import deque

from graphmetrics.reporters.buffer import Batch, Outgoing
from graphmetrics.reporters.wire import Framing

__all__ = ["Ledger", "points_between"]


def points_between(batch: Batch, start: int, end: int, framing: Framing) -> int:
    """Points of the units of ``batch`` whose last byte lies within its bytes ``[start, end)``."""
    if start <= 0 and end >= batch.nbytes:
        return batch.points
    count = 0
    while start < end:
        index, inner = batch.locate(start)
        base = start - inner
        stop = min(end, batch.ends[index]) - base
        count += framing.points(batch.messages[index], inner, stop)
        start = batch.ends[index]
    return count


class Ledger:
    """The segments of reports written to the current connection and not yet known to be acknowledged."""

    def __init__(self, framing: Framing) -> None:
        self.framing = framing
        self._segments: deque[list[object]] = deque()  # [entry, start, end] in the order written
        self.unsettled = 0
        """Bytes written to this connection that are not known to be acknowledged."""

    def __bool__(self) -> bool:
        return bool(self._segments)

    def wrote(self, entry: Outgoing, start: int, count: int) -> None:
        last = self._segments[-1] if self._segments else None
        if last is not None and last[0] is entry and last[2] == start:
            last[2] = start + count
        else:
            self._segments.append([entry, start, start + count])
        self.unsettled += count

    def acknowledge(self, unacked: int | None) -> list[Outgoing]:
        """The peer lacks only the last ``unacked`` bytes (None: unknown, taken as none): advance each
        report's ``acked``; return the reports now acknowledged in full."""
        acked = self.unsettled - (unacked or 0)
        complete: list[Outgoing] = []
        while acked > 0 and self._segments:
            segment = self._segments[0]
            entry, start, end = segment
            assert isinstance(entry, Outgoing) and isinstance(start, int) and isinstance(end, int)
            take = min(acked, end - start)
            acked -= take
            self.unsettled -= take
            entry.acked = max(entry.acked, start + take)
            if start + take < end:
                segment[1] = start + take
                break
            self._segments.popleft()
            if entry.acked >= entry.batch.nbytes:
                complete.append(entry)
        return complete

    def rewind(self, unacked: int | None) -> tuple[list[Outgoing], list[Outgoing]]:
        """The connection is gone, lacking the last ``unacked`` bytes (None: unknown, taken as all):
        ``(reports acknowledged in full, reports to resume)``. Each report to resume restarts at the
        unit holding its first unacknowledged byte."""
        complete = self.acknowledge(self.unsettled if unacked is None else unacked)
        resume: list[Outgoing] = []
        for entry, _start, _end in self._segments:
            assert isinstance(entry, Outgoing)
            if entry in resume:
                continue
            batch = entry.batch
            restart = entry.acked
            if restart < batch.nbytes:
                index, inner = batch.locate(restart)
                restart -= inner - self.framing.unit_start(batch.messages[index], inner)
            entry.acked = entry.written = restart
            resume.append(entry)
        self._segments.clear()
        self.unsettled = 0
        return complete, resume
