"""The bounded buffer of unsent reports and the back-off between attempts."""

from __future__ import annotations

import pytest

from graphmetrics.reporters.backoff import Backoff
from graphmetrics.reporters.buffer import Batch, BatchBuffer


def batch(timestamp: int, size: int = 100, points: int = 10) -> Batch:
    return Batch(timestamp, (b"x" * size,), points)


def test_batches_come_out_oldest_first_and_stay_until_removed() -> None:
    buffer = BatchBuffer(10_000)
    first, second = batch(10), batch(20)
    buffer.push(first)
    buffer.push(second)
    assert buffer.peek() is first
    assert buffer.peek() is first
    buffer.remove(first)
    assert buffer.peek() is second
    assert (len(buffer), buffer.nbytes) == (1, 100)


def test_when_full_the_oldest_are_dropped_and_counted() -> None:
    buffer = BatchBuffer(350)
    for timestamp in (10, 20, 30):
        assert buffer.push(batch(timestamp)) == []
    dropped = buffer.push(batch(40))
    assert [b.timestamp for b in dropped] == [10]
    assert (buffer.dropped_reports, buffer.dropped_points, buffer.nbytes) == (1, 10, 300)
    assert buffer.peek().timestamp == 20  # type: ignore[union-attr]


def test_a_batch_bigger_than_the_whole_buffer_cannot_be_kept() -> None:
    buffer = BatchBuffer(50)
    assert [b.timestamp for b in buffer.push(batch(10))] == [10]
    assert (len(buffer), buffer.nbytes, buffer.dropped_reports) == (0, 0, 1)


def test_requeued_batches_go_back_in_front_in_their_order() -> None:
    buffer = BatchBuffer(10_000)
    buffer.push(batch(30))
    buffer.requeue([batch(10), batch(20)])
    order = []
    while (head := buffer.peek()) is not None:
        order.append(head.timestamp)
        buffer.remove(head)
    assert order == [10, 20, 30]


def test_remove_of_a_batch_no_longer_at_the_head_is_a_no_op() -> None:
    buffer = BatchBuffer(150)
    old = batch(10)
    buffer.push(old)
    buffer.push(batch(20))  # drops `old`
    buffer.remove(old)
    assert (len(buffer), buffer.peek().timestamp) == (1, 20)  # type: ignore[union-attr]


def test_batch_repr_never_shows_the_payload() -> None:
    assert "SECRETKEY" not in repr(Batch(1, (b"SECRETKEY.a 1 1\n",), 1))


def test_non_positive_bound_is_refused() -> None:
    with pytest.raises(ValueError):
        BatchBuffer(0)


class FixedRandom:
    def __init__(self, *values: float) -> None:
        self.values = list(values)

    def __call__(self) -> float:
        return self.values.pop(0)


def test_backoff_doubles_up_to_the_maximum_without_jitter() -> None:
    backoff = Backoff(initial=1.0, maximum=10.0, jitter=0.0, random=FixedRandom(*[0.7] * 6))
    assert [backoff.next_delay() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_jitter_scales_each_delay_down_by_up_to_the_jitter_fraction() -> None:
    backoff = Backoff(initial=4.0, maximum=60.0, jitter=0.5, random=FixedRandom(0.0, 1.0, 0.5))
    assert [backoff.next_delay() for _ in range(3)] == [4.0, 4.0, 12.0]


def test_reset_starts_over() -> None:
    backoff = Backoff(initial=1.0, jitter=0.0)
    backoff.next_delay()
    backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() == 1.0


def test_many_failures_stay_at_the_maximum() -> None:
    backoff = Backoff(initial=1.0, maximum=30.0, multiplier=1e6, jitter=0.0)
    delays = [backoff.next_delay() for _ in range(200)]
    assert delays[-1] == 30.0


@pytest.mark.parametrize(
    "kwargs", [{"initial": 0}, {"initial": 5, "maximum": 1}, {"multiplier": 0.5}, {"jitter": 1.5}]
)
def test_bad_backoff_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)
