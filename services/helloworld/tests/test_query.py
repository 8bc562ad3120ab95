"""The query-string rules of GET /: what is accepted, and the message for everything that is not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helloworld.query import MAX_QUERY_BYTES, MAX_WORLD_SIZE, BadRequest, parse_world_size


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"", None),
        (b"other=1", None),
        (b"world_size=0", 0),
        (b"world_size=42", 42),
        (b"world_size=007", 7),
        (b"world_size=42&cachebuster=abc", 42),
        (b"world%5Fsize=5", 5),
        (b"world_size=%34%32", 42),
        (b"world_size=" + str(MAX_WORLD_SIZE).encode(), MAX_WORLD_SIZE),
        (b"world_size=000" + str(MAX_WORLD_SIZE).encode(), MAX_WORLD_SIZE),
    ],
)
def test_accepted(query: bytes, expected: int | None) -> None:
    assert parse_world_size(query) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (b"world_size", "needs a value"),
        (b"world_size=", "needs a value"),
        (b"world_size=abc", "must be an integer, got 'abc'"),
        (b"world_size=1.5", "whole number"),
        (b"world_size=1e3", "whole number"),
        (b"world_size=.5", "whole number"),
        (b"world_size=-3", "must not be negative"),
        (b"world_size=%2B3", "whole number"),
        (b"world_size=+3", "must be an integer"),  # '+' is a space in a query string
        (b"world_size=%203", "must be an integer"),
        (b"world_size=1_000", "must be an integer"),
        (b"world_size=%D9%A3", "must be an integer"),  # ARABIC-INDIC DIGIT THREE: int() would take it
        (b"world_size=0x10", "must be an integer"),
        (b"world_size=" + str(MAX_WORLD_SIZE + 1).encode(), f"at most {MAX_WORLD_SIZE}"),
        (b"world_size=" + b"9" * 900, f"at most {MAX_WORLD_SIZE}"),
        (b"world_size=1&world_size=1", "given once, got it 2 times"),
        (b"world_size=%ff", "not valid UTF-8"),
        (b"world_size=\xff", "not valid UTF-8"),
        (b"world_size=1&x=" + b"a" * MAX_QUERY_BYTES, f"more than {MAX_QUERY_BYTES}"),
    ],
    ids=lambda value: repr(value)[:40] if isinstance(value, bytes) else None,
)
def test_refused_with_a_message_naming_the_problem(query: bytes, message: str) -> None:
    with pytest.raises(BadRequest) as raised:
        parse_world_size(query)
    assert message in raised.value.detail


def test_a_long_bad_value_is_not_echoed_in_full() -> None:
    with pytest.raises(BadRequest) as raised:
        parse_world_size(b"world_size=" + b"z" * 900)
    assert len(raised.value.detail) < 120


@given(st.integers(min_value=0, max_value=MAX_WORLD_SIZE))
def test_every_integer_in_range_round_trips(value: int) -> None:
    assert parse_world_size(b"world_size=%d" % value) == value


@given(st.binary(max_size=2 * MAX_QUERY_BYTES))
def test_any_bytes_give_a_value_none_or_bad_request(query: bytes) -> None:
    try:
        result = parse_world_size(query)
    except BadRequest as bad:
        assert bad.detail
    else:
        assert result is None or 0 <= result <= MAX_WORLD_SIZE


@given(st.from_regex(rb"[0-9]{1,12}", fullmatch=True))
def test_the_fast_path_agrees_with_the_general_parser(digits: bytes) -> None:
    def outcome(query: bytes) -> int | str | None:
        try:
            return parse_world_size(query)
        except BadRequest as bad:
            return bad.detail

    assert outcome(b"world_size=" + digits) == outcome(b"other=1&world_size=" + digits)
