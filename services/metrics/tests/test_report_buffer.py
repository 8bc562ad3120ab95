"""The bounded buffer of unsent reports and the back-off between attempts."""

from __future__ import annotations

import pytest

from graphmetrics.reporters.backoff import Backoff
from graphmetrics.reporters.buffer import Batch, BatchBuffer


def batch(timestamp: int, size: int = 100, points: int = 10) -> Batch:
    return Batch(timestamp, (b"x" * size,), points)


def test_reports_are_claimed_oldest_first_and_stay_until_done() -> None:
    buffer = BatchBuffer(10_000)
    buffer.push(batch(10))
    buffer.push(batch(20))
    first = buffer.claim()
    assert first is not None and first.batch.timestamp == 10 and first.on_wire
    assert buffer.claim() is first  # not written yet: still the one to write
    first.written = 100
    second = buffer.claim()
    assert second is not None and second.batch.timestamp == 20
    buffer.done(first)
    assert (len(buffer), buffer.nbytes, buffer.oldest()) == (1, 100, second)


def test_when_full_the_oldest_are_dropped_and_returned() -> None:
    buffer = BatchBuffer(350)
    for timestamp in (10, 20, 30):
        assert buffer.push(batch(timestamp)) == []
    dropped = buffer.push(batch(40))
    assert [e.batch.timestamp for e in dropped] == [10]
    assert buffer.nbytes == 300
    assert buffer.oldest().batch.timestamp == 20  # type: ignore[union-attr]


def test_a_report_on_the_connection_is_never_dropped_the_next_oldest_goes() -> None:
    buffer = BatchBuffer(350)
    for timestamp in (10, 20, 30):
        buffer.push(batch(timestamp))
    assert buffer.claim().batch.timestamp == 10  # type: ignore[union-attr]
    assert [e.batch.timestamp for e in buffer.push(batch(40))] == [20]
    buffer.release()  # the connection failed: 10 may go now
    assert [e.batch.timestamp for e in buffer.push(batch(50))] == [10]


def test_a_report_bigger_than_the_whole_buffer_is_kept_as_the_newest() -> None:
    buffer = BatchBuffer(50)
    assert buffer.push(batch(10)) == []
    assert (len(buffer), buffer.nbytes) == (1, 100)
    assert [e.batch.timestamp for e in buffer.push(batch(20))] == [10]
    assert (len(buffer), buffer.nbytes) == (1, 100)


def test_a_batch_locates_its_bytes_in_its_messages() -> None:
    report = Batch(10, (b"abc", b"de", b"fghi"), 3)
    assert (report.nbytes, report.ends) == (9, (3, 5, 9))
    assert [report.locate(i) for i in (0, 2, 3, 4, 5, 8)] == [(0, 0), (0, 2), (1, 0), (1, 1), (2, 0), (2, 3)]


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
