"""Counters: exact under threads, yet as cheap as a plain method call.

With the C speedups, a counter's total is a C object (``_speedups.Count``) whose every update is one C
call holding the GIL: atomic, no lock. In pure Python, ``inc()`` advances an ``itertools.count``; its
``__next__`` is one C call too, so concurrent increments are never lost and the hot path takes no
lock. ``self.n += 1`` is a read, an add and a write: that no thread switch falls between them is an
accident of the interpreter version, not a guarantee. Other amounts go through a lock.
"""

from __future__ import annotations

import threading
from itertools import count
from operator import index
from typing import TYPE_CHECKING

from graphmetrics._native import speedups

__all__ = ["Counter", "COUNT_FIELD"]

COUNT_FIELD = "count"
"""A counter's one field: its series is ``<prefix>.<name>.count``."""


class AtomicCount:
    """An int total whose ``+1`` is lock-free; the base of :class:`Counter` and of meters."""

    __slots__ = ("_ticks", "_offset", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset_count()

    def _reset_count(self) -> None:
        self._ticks = count()  # how many times next() was called on it = lock-free increments
        self._offset = 0  # every other change: inc(n != 1), dec(n), and the reads (see _count_locked)

    def _add(self, n: int) -> None:
        n = index(n)  # counts are ints: refuse 0.5 or "1" loudly instead of corrupting the total
        with self._lock:
            self._offset += n

    def _count_locked(self) -> int:
        # next() returns the number of earlier next() calls and is one more itself: take it back.
        total = next(self._ticks) + self._offset
        self._offset -= 1
        return total

    def get_count(self) -> int:
        with self._lock:
            return self._count_locked()


class _PyCount(AtomicCount):
    """The pure-Python twin of ``_speedups.Count``: the same methods, the same results."""

    __slots__ = ()

    def inc(self, n: int = 1) -> None:
        if n == 1:
            next(self._ticks)
        else:
            self._add(n)

    def dec(self, n: int = 1) -> None:
        self._add(-index(n))

    def clear(self) -> None:
        with self._lock:
            self._reset_count()


if TYPE_CHECKING or speedups is None:
    _Count = _PyCount
else:
    _Count = speedups.Count


class Counter(_Count):
    """An integer that goes up and down: ``inc(n=1)``, ``dec(n=1)``, ``get_count()``, ``clear()``."""

    __slots__ = ()

    def fields(self) -> dict[str, int | float]:
        """What a report holds of it: ``{"count": total}``."""
        return {COUNT_FIELD: self.get_count()}
