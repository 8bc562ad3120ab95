"""A sketch's pending values: where ``update`` puts a value, and how a batch of them becomes buckets.

Recording a value only appends it here: one C call, atomic under the GIL, so the hot path takes no
lock and loses no update. With the C speedups the pending values are a ``_speedups.Pending``, which
*is* the sketch's ``update``; in pure Python an ``array('d')`` and a small closure around its
``append`` (:func:`new_pending`). The writer that fills it to :data:`FOLD_AT` values calls the
sketch's ``fold``, which moves them into the bucket dicts under the sketch's lock (``fold_into``: in
C one logarithm per value into a counting array; in Python :func:`count_values`).

A timer that records durations it measured itself appends to the same pending values and folds at
the same size (:class:`graphmetrics.timers.Stopwatch`): the third copy of this append-and-fold step,
listed with its twins in docs/library.md.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_right
from collections.abc import Callable, Sized
from typing import Protocol

from graphmetrics._native import speedups
from graphmetrics.reservoirs.base import finite

__all__ = ["FOLD_AT", "Summary", "PendingValues", "new_pending", "count_values", "moments"]

FOLD_AT = 2048
"""Pending values (16 KiB) after which the writer moves them into the buckets: in batches this large
the per-batch costs (the lock, the copies, the moments' set-up) vanish per value."""


_JUMP_LIMIT = 1e300
"""Above this, ``gamma**index`` may overflow: such batches are counted value by value."""


Summary = tuple[int, int, float, float, float, float]
"""What a fold reports about the values it counted: (count, zeros, sum, m2, min, max)."""


def count_values(
    values: list[float],
    positive: dict[int, int],
    negative: dict[int, int],
    gamma: float,
    mult: float,
    _log2: Callable[[float], float] = math.log2,
    _ceil: Callable[[float], int] = math.ceil,
    _bisect: Callable[[list[float], float, int], int] = bisect_right,
) -> Summary:
    """Count finite ``values`` into the bucket dicts (sorting the list in place); most of what an
    update costs in pure Python.

    Sorted, a batch of positive values is counted a bucket at a time: one logarithm for the first
    value of a bucket, one C-level binary search for where the bucket ends. Latencies crowd into
    few buckets, so this costs far less than a logarithm and a dict update per value.
    """
    values.sort()  # C, with a float-only comparison
    lowest, highest = values[0], values[-1]
    get = positive.get
    zeros = 0
    if 0.0 < lowest and highest < _JUMP_LIMIT:  # the usual case (durations, sizes)
        start, end = 0, len(values)
        while start < end:
            index = _ceil(_log2(values[start]) * mult)
            # start + 1: the value itself counts here even if gamma**index rounds to just below it
            stop = _bisect(values, gamma**index, start + 1)
            positive[index] = get(index, 0) + stop - start
            start = stop
    else:
        for value in values:
            if value > 0.0:
                index = _ceil(_log2(value) * mult)
                positive[index] = get(index, 0) + 1
            elif value < 0.0:
                index = _ceil(_log2(-value) * mult)
                negative[index] = negative.get(index, 0) + 1
            else:
                zeros += 1
    return (len(values), zeros, *moments(values), lowest, highest)


class PendingValues(Protocol):
    """What a sketch keeps its not yet folded values in (the C ``Pending`` or :class:`_PendingArray`)."""

    def __len__(self) -> int: ...

    def append(self, value: float) -> None: ...

    def take(self) -> list[float]: ...

    def fold_into(
        self, positive: dict[int, int], negative: dict[int, int], gamma: float, mult: float
    ) -> Summary | None: ...

    def tolist(self) -> list[float]: ...

    def clear(self) -> None: ...


class _PendingArray(array):  # type: ignore[type-arg]
    """Pending values in pure Python: an ``array('d')`` with the C ``Pending``'s ``take``/``clear``."""

    __slots__ = ()

    def take(self) -> list[float]:
        values = self.tolist()
        del self[: len(values)]  # values appended meanwhile wait for the next fold
        return values

    def clear(self) -> None:
        del self[:]

    def fold_into(
        self, positive: dict[int, int], negative: dict[int, int], gamma: float, mult: float
    ) -> Summary | None:
        """Move every pending value into the bucket dicts (what the C ``Pending`` does in C)."""
        values = self.take()
        return count_values(values, positive, negative, gamma, mult) if values else None


def _reject(value: object) -> None:
    """The clear error for a value that is not a finite number (``update`` checked it is not)."""
    finite(value)  # type: ignore[arg-type]  # raises for NaN, infinities and non-numbers
    raise TypeError(f"histogram values must be numbers, not {type(value).__name__}: {value!r}")


def _updater(
    pending: array[float], fold: Callable[[], None], _inf: float = math.inf, _len: Callable[[Sized], int] = len
) -> Callable[[float], None]:
    """A sketch's ``update`` in pure Python: a closure, so the hot path finds the array's bound
    ``append`` and ``fold`` in local cells instead of looking up attributes and methods on every call."""
    append = pending.append

    def update(value: float) -> None:
        try:
            if -_inf < value < _inf:  # finite: NaN fails both comparisons
                append(value)
                if _len(pending) >= FOLD_AT:
                    fold()
                return
        except TypeError:
            pass
        _reject(value)

    return update


def new_pending(fold: Callable[[], None]) -> tuple[PendingValues, Callable[[float], None]]:
    """A new sketch's pending values and its ``update``: the C ``Pending`` (which is its own update)
    or the pure-Python array and closure."""
    if speedups is not None:
        pending = speedups.Pending(FOLD_AT, fold, _reject)
        return pending, pending
    array_ = _PendingArray("d")
    return array_, _updater(array_, fold)


def moments(values: list[float]) -> tuple[float, float]:
    """Sum and sum of squared deviations from the mean, two C-level passes (``math.dist`` is the
    accurate square root of a sum of squares: two-pass stable, no cancellation)."""
    total = sum(values)
    spread = math.dist(values, [total / len(values)] * len(values))
    return total, spread * spread  # inf, not OverflowError, for values near the largest float
