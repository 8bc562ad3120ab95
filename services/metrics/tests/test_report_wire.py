"""Carbon wire formats: plaintext lines, pickle frames, UDP-sized messages."""

from __future__ import annotations

import pickle
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphmetrics.reporters.wire import (
    MAX_DATAGRAM_BYTES,
    pickle_frames,
    plaintext_lines,
    plaintext_messages,
)

POINTS = [("app.hello_called.count", 3), ("app.world_size.avg", 0.1), ("app.req.count;code=200", 2**60)]


def unframe(frames: list[bytes]) -> list[tuple[str, tuple[int, float]]]:
    """Decode frames the way carbon's pickle receiver does: length prefix, then a pickled list."""
    out = []
    for frame in frames:
        (length,) = struct.unpack("!L", frame[:4])
        assert length == len(frame) - 4
        out += pickle.loads(frame[4:])
    return out


def test_plaintext_line_is_path_value_timestamp_newline() -> None:
    assert plaintext_lines(1700000000, POINTS) == [
        b"app.hello_called.count 3 1700000000\n",
        b"app.world_size.avg 0.1 1700000000\n",
        b"app.req.count;code=200 1152921504606846976 1700000000\n",
    ]


def test_line_prefix_starts_every_line() -> None:
    assert plaintext_lines(10, POINTS[:1], "KEY.") == [b"KEY.app.hello_called.count 3 10\n"]


def test_tcp_plaintext_is_one_message() -> None:
    assert plaintext_messages(10, POINTS) == [b"".join(plaintext_lines(10, POINTS))]
    assert plaintext_messages(10, []) == []


def test_datagrams_hold_whole_lines_and_stay_under_the_limit() -> None:
    points = [(f"app.metric_{i:05d}.count", i) for i in range(3000)]
    messages = plaintext_messages(1700000000, points, max_bytes=MAX_DATAGRAM_BYTES)
    assert len(messages) > 1
    assert all(len(message) <= MAX_DATAGRAM_BYTES for message in messages)
    assert all(message.endswith(b"\n") for message in messages)
    assert b"".join(messages) == b"".join(plaintext_lines(1700000000, points))


def test_a_line_longer_than_a_datagram_is_an_error_not_a_split() -> None:
    with pytest.raises(ValueError, match="cannot fit"):
        plaintext_messages(1, [("a" * 200, 1)], max_bytes=100)


@settings(max_examples=50)
@given(
    st.lists(st.tuples(st.from_regex(r"[a-z][a-z0-9_.]{0,80}", fullmatch=True), st.integers(0, 10**6)), max_size=400),
    st.integers(200, 9000),
)
def test_datagram_packing_never_loses_or_splits_a_line(points: list[tuple[str, int]], limit: int) -> None:
    messages = plaintext_messages(5, points, max_bytes=limit)
    assert all(0 < len(message) <= limit for message in messages)
    assert [line for m in messages for line in m.splitlines(keepends=True)] == plaintext_lines(5, points)


def test_pickle_frame_is_length_prefixed_list_of_path_timestamp_value() -> None:
    assert unframe(pickle_frames(1700000000, POINTS)) == [(p, (1700000000, v)) for p, v in POINTS]


def test_pickle_keeps_ints_as_ints_and_floats_exact() -> None:
    decoded = unframe(pickle_frames(7, [("a", 2**70), ("b", 1 / 3)]))
    assert decoded == [("a", (7, 2**70)), ("b", (7, 1 / 3))]
    assert type(decoded[0][1][1]) is int


def test_pickle_uses_no_globals_so_carbons_restricted_unpickler_accepts_it() -> None:
    class Refuse(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> object:
            raise pickle.UnpicklingError(f"global {module}.{name}")

    import io

    for frame in pickle_frames(1, POINTS):
        Refuse(io.BytesIO(frame[4:])).load()


def test_big_report_is_split_into_frames_well_below_carbons_1_mib() -> None:
    points = [(f"service.instance.metric_{i:06d}.99_percentile", i + 0.5) for i in range(50_000)]
    frames = pickle_frames(1700000000, points, max_frame_bytes=256 * 1024)
    assert len(frames) > 4
    assert all(len(frame) <= 256 * 1024 for frame in frames)
    assert unframe(frames) == [(p, (1700000000, v)) for p, v in points]


def test_frames_are_halved_when_the_estimate_was_too_low() -> None:
    # Long paths with tiny limits: the per-point estimate is off, the hard limit still holds.
    points = [("p" * 300 + str(i), i) for i in range(40)]
    frames = pickle_frames(1, points, max_frame_bytes=1000)
    assert all(len(frame) <= 1000 for frame in frames)
    assert unframe(frames) == [(p, (1, v)) for p, v in points]


def test_a_point_bigger_than_a_frame_is_an_error() -> None:
    with pytest.raises(ValueError, match="one point"):
        pickle_frames(1, [("x" * 500, 1)], max_frame_bytes=100)
