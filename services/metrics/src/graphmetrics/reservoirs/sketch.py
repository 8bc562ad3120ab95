"""The log-bucket sketch, the default reservoir: bounded relative error, exact merges, small memory.

Buckets follow DDSketch: a positive value v is counted in bucket ``ceil(log_gamma(v))`` with
``gamma = (1 + a) / (1 - a)``; the bucket reports ``2 * gamma**i / (gamma + 1)``, which is within
``a`` of every value in it, so every percentile is within ``a`` of the exact one. Negative values
use mirrored buckets, zero has its own. Count, sum, min, max and variance are kept exactly (the
variance per batch of values with a two-pass formula, batches combined with Chan et al.'s).

Cost: ``update`` only appends to the pending values (:mod:`graphmetrics.reservoirs.pending`: no lock
on the hot path, no update lost); the writer that fills them to ``FOLD_AT`` values moves them into
buckets under the lock. In pure Python that sorts the batch (C) and counts it a bucket at a time, one
logarithm and one binary search per bucket instead of a logarithm and a dict update per value.
Readers never fold: they combine a copy of the buckets with the pending values. Until its first
fold a sketch has all its values, so a histogram with few values reports exact percentiles and costs
8 bytes per value.
"""

from __future__ import annotations

import math
import sys
import threading
from itertools import accumulate

from graphmetrics.reservoirs.pending import PendingValues, count_values, moments, new_pending
from graphmetrics.snapshots import ExactSnapshot, SketchSnapshot, Snapshot

__all__ = ["LogBucketSketch"]

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
        self.absorb(*count_values(values, self.positive, self.negative, gamma, mult))

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


def _power(gamma: float, index: int) -> float:
    """``gamma**index``, or the largest float where that overflows (the top bucket of values within
    about 2 % of it); snapshots clamp percentiles to the exact max anyway."""
    try:
        return gamma**index
    except OverflowError:
        return sys.float_info.max


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
        self._pending, self.update = new_pending(self.fold)
        """``update(value)`` records a value: appends it to the pending values (see :func:`new_pending`)."""

    @property
    def count(self) -> int:
        return self._buckets.count + len(self._pending)

    @property
    def pending(self) -> PendingValues:
        """The values not yet folded into buckets (never replaced): a writer that measured a finite
        value itself may append to them, and calls :meth:`fold` once they reach ``FOLD_AT``."""
        return self._pending

    def fold(self) -> None:
        """Move the pending values into the buckets (``update`` does it every ``FOLD_AT`` values)."""
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
    total, m2 = moments(values)
    return ExactSnapshot(values, total, _variance(len(values), m2))


def _variance(count: int, m2: float) -> float:
    return m2 / (count - 1) if count > 1 else 0.0
