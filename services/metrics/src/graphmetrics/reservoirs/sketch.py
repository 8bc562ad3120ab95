"""The log-bucket sketch, the default reservoir: bounded relative error, exact merges, small memory.

Buckets follow DDSketch: a positive value v is counted in bucket ``ceil(log_gamma(v))`` with
``gamma = (1 + a) / (1 - a)``; the bucket reports ``2 * gamma**i / (gamma + 1)``, which is within
``a`` of every value in it, so every percentile is within ``a`` of the exact one. Negative values
use mirrored buckets, zero has its own. Count, sum, min, max and variance are kept exactly (the
variance per batch of values with a two-pass formula, batches combined with Chan et al.'s).

Cost: ``update`` only appends to the pending values (one C call, atomic under the GIL, so there is
no lock on the hot path and no update is lost: with the C speedups ``update`` *is* that C call,
otherwise a small closure around ``array.append``); the writer that
fills it to ``FOLD_AT`` values moves them into buckets under the lock. In C that is one logarithm
per value into a counting array; in pure Python it sorts the batch (C) and counts it a bucket at a
time, one logarithm and one binary search per bucket instead of a logarithm and a dict update per
value. Readers never fold: they combine a copy of the buckets with
the pending values. Until its first fold a sketch has all its values, so a histogram with few
values reports exact percentiles and costs 8 bytes per value.
"""

from __future__ import annotations

import math
import sys
import threading
from array import array
from bisect import bisect_right
from collections.abc import Callable, Sized
from itertools import accumulate
from typing import Protocol

from graphmetrics._native import speedups
from graphmetrics.reservoirs.base import finite
from graphmetrics.snapshots import ExactSnapshot, SketchSnapshot, Snapshot

__all__ = ["LogBucketSketch", "FOLD_AT"]

FOLD_AT = 2048
"""Pending values (16 KiB) after which the writer moves them into the buckets: in batches this large
the per-batch costs (the lock, the copies, the moments' set-up) vanish per value."""


_JUMP_LIMIT = 1e300
"""Above this, ``gamma**index`` may overflow: such batches are counted value by value."""


Summary = tuple[int, int, float, float, float, float]
"""What a fold reports about the values it counted: (count, zeros, sum, m2, min, max)."""


def _count(
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
    return (len(values), zeros, *_moments(values), lowest, highest)


class _Buckets:
    """Bucket counts and exact moments; its sketch's lock guards it (readers work on copies)."""

    __slots__ = ("positive", "negative", "zero", "count", "sum", "m2", "min", "max")

    def __init__(self) -> None:
        self.positive: dict[int, int] = {}
        self.negative: dict[int, int] = {}  # keyed by the bucket of -value
        self.zero = 0
        self.count = 0
        self.sum = 0.0
        self.m2 = 0.0  # sum of squared deviations from the mean
        self.min = math.inf
        self.max = -math.inf

    def copy(self) -> _Buckets:
        other = _Buckets()
        other.positive, other.negative = dict(self.positive), dict(self.negative)
        other.zero, other.count, other.sum, other.m2 = self.zero, self.count, self.sum, self.m2
        other.min, other.max = self.min, self.max
        return other

    def add(self, values: list[float], gamma: float, mult: float) -> None:
        """Count finite ``values`` (sorting the list in place)."""
        self.absorb(*_count(values, self.positive, self.negative, gamma, mult))

    def absorb(self, count: int, zeros: int, total: float, m2: float, lowest: float, highest: float) -> None:
        """Account for ``count`` values already counted into the bucket dicts but for ``zeros`` of them."""
        self.zero += zeros
        self.min = min(self.min, lowest)
        self.max = max(self.max, highest)
        self._combine(count, total, m2)

    def _combine(self, count: int, total: float, m2: float) -> None:
        """Add the moments of ``count`` more values (Chan et al.'s parallel formula)."""
        n = self.count
        if n:
            delta = total / count - self.sum / n
            self.m2 += m2 + delta * delta * n * count / (n + count)
        else:
            self.m2 = m2
        self.count = n + count
        self.sum += total

    def merge(self, other: _Buckets) -> None:
        if other.count == 0:
            return
        for mine, theirs in ((self.positive, other.positive), (self.negative, other.negative)):
            for index, count in theirs.items():
                mine[index] = mine.get(index, 0) + count
        self.zero += other.zero
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        self._combine(other.count, other.sum, other.m2)

    def collapse(self, limit: int) -> None:
        """Keep at most ``limit`` buckets per sign by merging the ones nearest zero."""
        for store in (self.positive, self.negative):
            if len(store) > limit:
                keys = sorted(store)
                excess = len(keys) - limit
                store[keys[excess]] += sum(store.pop(key) for key in keys[:excess])


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
        return _count(values, positive, negative, gamma, mult) if values else None


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


def _new_pending(fold: Callable[[], None]) -> tuple[PendingValues, Callable[[float], None]]:
    """A new sketch's pending values and its ``update``: the C ``Pending`` (which is its own update)
    or the pure-Python array and closure."""
    if speedups is not None:
        pending = speedups.Pending(FOLD_AT, fold, _reject)
        return pending, pending
    array_ = _PendingArray("d")
    return array_, _updater(array_, fold)


def _power(gamma: float, index: int) -> float:
    """``gamma**index``, or the largest float where that overflows (the top bucket of values within
    about 2 % of it); snapshots clamp percentiles to the exact max anyway."""
    try:
        return gamma**index
    except OverflowError:
        return sys.float_info.max


def _moments(values: list[float]) -> tuple[float, float]:
    """Sum and sum of squared deviations from the mean, two C-level passes (``math.dist`` is the
    accurate square root of a sum of squares: two-pass stable, no cancellation)."""
    total = sum(values)
    spread = math.dist(values, [total / len(values)] * len(values))
    return total, spread * spread  # inf, not OverflowError, for values near the largest float


class LogBucketSketch:
    """A mergeable sketch with relative error at most ``relative_accuracy`` on every percentile.

    Memory is one dict entry per non-empty bucket, about 116 buckets per factor of 10 at 1%. Above
    ``max_buckets`` per sign the buckets nearest zero are merged, so only the smallest values lose
    accuracy.
    """

    __slots__ = ("relative_accuracy", "max_buckets", "_gamma", "_mult", "_lock", "_pending", "_buckets", "update")

    def __init__(self, relative_accuracy: float = 0.01, max_buckets: int = 2048) -> None:
        if not 0.0 < relative_accuracy < 1.0:
            raise ValueError(f"relative_accuracy must be in (0, 1), not {relative_accuracy!r}")
        if max_buckets < 2:
            raise ValueError(f"max_buckets must be at least 2, not {max_buckets!r}")
        self.relative_accuracy = relative_accuracy
        self.max_buckets = max_buckets
        self._gamma = (1.0 + relative_accuracy) / (1.0 - relative_accuracy)
        self._mult = 1.0 / math.log2(self._gamma)
        self._lock = threading.Lock()
        self._buckets = _Buckets()
        # never replaced: update() and timers keep a reference to it
        self._pending, self.update = _new_pending(self._fold)
        """``update(value)`` records a value: appends it to the pending values (see :func:`_new_pending`)."""

    @property
    def count(self) -> int:
        return self._buckets.count + len(self._pending)

    def _fold(self) -> None:
        with self._lock:
            buckets = self._buckets
            summary = self._pending.fold_into(buckets.positive, buckets.negative, self._gamma, self._mult)
            if summary is not None:
                buckets.absorb(*summary)
                buckets.collapse(self.max_buckets)

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
            self._buckets = _Buckets()

    def _state(self) -> tuple[_Buckets | None, list[float]]:
        """A copy of the buckets (None before the first fold) and of the pending values."""
        with self._lock:
            buckets = self._buckets.copy() if self._buckets.count else None
            return buckets, self._pending.tolist()

    def _everything(self) -> _Buckets:
        """A copy of the buckets with the pending values counted in; the sketch itself is unchanged."""
        state, pending = self._state()
        state = state or _Buckets()
        if pending:
            state.add(pending, self._gamma, self._mult)
            state.collapse(self.max_buckets)
        return state

    def merge(self, other: LogBucketSketch) -> None:
        """Add every value of ``other`` to this sketch (exactly: the buckets line up)."""
        if not isinstance(other, LogBucketSketch) or other._gamma != self._gamma:
            raise ValueError("only LogBucketSketches with the same relative_accuracy can be merged")
        if other is self:
            raise ValueError("a sketch cannot be merged into itself")
        theirs = other._everything()  # taken under other's lock only: the locks are never nested
        with self._lock:
            self._buckets.merge(theirs)
            self._buckets.collapse(self.max_buckets)

    def buckets(self) -> list[tuple[float, int]]:
        """Non-empty buckets as ``(upper bound, count)``, ascending: what replicas export to be merged.

        A negative bucket's bound is its end nearest zero; zero has the bucket ``(0.0, count)``.
        """
        state = self._everything()
        gamma = self._gamma
        out = [(-_power(gamma, i - 1), state.negative[i]) for i in sorted(state.negative, reverse=True)]
        if state.zero:
            out.append((0.0, state.zero))
        out.extend((_power(gamma, i), state.positive[i]) for i in sorted(state.positive))
        return out

    def snapshot(self) -> Snapshot:
        state, pending = self._state()
        if state is None:
            return _exact_snapshot(pending)
        if pending:
            state.add(pending, self._gamma, self._mult)
            state.collapse(self.max_buckets)
        negative_keys = sorted(state.negative, reverse=True)
        positive_keys = sorted(state.positive)
        counts = list(map(state.negative.__getitem__, negative_keys))
        if state.zero:
            counts.append(state.zero)
        counts += map(state.positive.__getitem__, positive_keys)
        gamma = self._gamma
        scale = 2.0 / (gamma + 1.0)
        below_zero = len(negative_keys)
        zero = 1 if state.zero else 0

        def representative(position: int) -> float:
            if position >= below_zero + zero:
                return scale * _power(gamma, positive_keys[position - below_zero - zero])
            if position < below_zero:
                return -scale * _power(gamma, negative_keys[position])
            return 0.0

        return SketchSnapshot(
            representative, list(accumulate(counts)), state.sum, state.min, state.max, _variance(state.count, state.m2)
        )


def _exact_snapshot(values: list[float]) -> Snapshot:
    """Values not yet folded are all known: their percentiles are exact."""
    if not values:
        return ExactSnapshot(values, 0.0, 0.0)
    values.sort()
    total, m2 = _moments(values)
    return ExactSnapshot(values, total, _variance(len(values), m2))


def _variance(count: int, m2: float) -> float:
    return m2 / (count - 1) if count > 1 else 0.0
