"""Counters: exact ints, including under threads, without a lock on the increment."""

from __future__ import annotations

import pytest

from core_threads import run_threads

from graphmetrics.counters import Counter


def test_inc_dec_get_clear() -> None:
    counter = Counter()
    assert counter.get_count() == 0
    counter.inc()
    counter.inc(5)
    counter.dec()
    counter.dec(2)
    assert counter.get_count() == 3
    assert counter.get_count() == 3  # reading does not change the count
    assert type(counter.get_count()) is int
    counter.clear()
    assert counter.get_count() == 0
    counter.inc()
    assert counter.fields() == {"count": 1}


def test_counts_are_ints_and_bad_amounts_change_nothing() -> None:
    counter = Counter()
    counter.inc(2)
    for bad in (0.5, "1", None):
        with pytest.raises(TypeError):
            counter.inc(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            counter.dec(bad)  # type: ignore[arg-type]
    assert counter.get_count() == 2
    counter.inc(10**30)
    assert counter.get_count() == 10**30 + 2


def test_amounts_by_keyword_and_anything_equal_to_one() -> None:
    """The C counter and its pure-Python twin take the same arguments (inc(1.0) is inc(), as in pure Python)."""
    counter = Counter()
    counter.inc(n=4)
    counter.dec(n=1)
    counter.inc(1.0)  # type: ignore[arg-type]
    counter.inc(True)
    assert counter.get_count() == 5
    with pytest.raises(TypeError):
        counter.inc(amount=2)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        counter.inc(1, 2)  # type: ignore[call-arg]
    assert counter.get_count() == 5


def test_totals_past_64_bits_stay_exact_both_ways() -> None:
    counter = Counter()
    counter.inc(2**63 - 2)
    counter.inc()
    counter.inc()  # past the largest C long long
    assert counter.get_count() == 2**63
    counter.dec(2**64)
    counter.dec()
    assert counter.get_count() == -(2**63) - 1
    counter.inc(2**63 + 1)
    assert counter.get_count() == 0 and type(counter.get_count()) is int
    counter.clear()
    counter.inc()
    assert counter.get_count() == 1


def test_four_threads_times_a_million_increments_are_exact() -> None:
    counter = Counter()
    inc = counter.inc

    def work() -> None:
        for _ in range(1_000_000):
            inc()

    run_threads(4, work)
    assert counter.get_count() == 4_000_000


def test_mixed_increments_decrements_and_reads_under_threads_are_exact() -> None:
    counter = Counter()

    def work() -> None:
        for _ in range(20_000):
            counter.inc()
            counter.inc(3)
            counter.dec(2)
            counter.get_count()

    run_threads(4, work)
    assert counter.get_count() == 4 * 20_000 * 2
