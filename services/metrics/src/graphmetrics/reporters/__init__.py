"""Reporters: each interval's snapshot -> carbon, Hosted Graphite, a console or JSON.

A reporter has two halves, driven by a runner (:mod:`graphmetrics.runners`): ``collect(timestamp)``
(snapshot, flatten, encode: CPU only) and ``flush(timeout=None) -> bool`` (I/O), plus ``retry_in``
and ``close()``; optionally ``collect_slices(timestamp)``, the collect as a generator yielding
between slices of metrics, which the Twisted runner prefers (see :mod:`graphmetrics.readout`), and
``give_up()``, which a stop calls at its deadline so that what was never delivered is counted and
logged. Import the concrete reporters from their modules (``reporters.carbon`` ...).
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Reporter"]


class Reporter(Protocol):
    """What a runner drives. ``collect`` never blocks on I/O; ``flush`` never raises for I/O errors."""

    def collect(self, timestamp: int) -> object: ...

    @property
    def retry_in(self) -> float | None: ...

    def flush(self, timeout: float | None = None) -> bool: ...

    def close(self) -> None: ...
