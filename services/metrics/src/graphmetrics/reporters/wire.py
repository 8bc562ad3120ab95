"""Carbon's wire formats: the points of one report -> the byte messages that carry them.

Pure functions (no I/O), so the expensive part of a report is done and measured apart from the
sending. Facts they rely on: carbon's line receiver drops a connection on lines over 16384 bytes
(series paths are at most 4096 characters, see :mod:`graphmetrics.names`); its pickle receiver
closes the connection on a frame above ``PICKLE_RECEIVER_MAX_LENGTH`` (1 MiB by default); UDP
receivers (carbon, Hosted Graphite) take datagrams of at most 8192 bytes.
"""

from __future__ import annotations

import io
import pickle
import struct
from collections.abc import Sequence
from typing import Protocol

from graphmetrics.readout import PICKLE_AT_ONCE, PICKLE_FRAME_BYTES, Point, format_value

__all__ = [
    "MAX_DATAGRAM_BYTES",
    "plaintext_lines",
    "plaintext_messages",
    "pickle_frames",
    "Framing",
    "LINES",
    "FRAMES",
]

MAX_DATAGRAM_BYTES = 8192

_PICKLE_PROTOCOL = 2  # list/tuple/str/int/float only: what carbon's restricted unpickler accepts
_PICKLE_OVERHEAD = 48  # per point beyond the path's length, measured for protocol 2 (about 40)
_LENGTH = struct.Struct("!L")


def plaintext_lines(timestamp: int, points: Sequence[Point], line_prefix: str = "") -> list[bytes]:
    """``[line_prefix]path value timestamp\\n`` per point."""
    tail = f" {int(timestamp)}\n"
    return [f"{line_prefix}{path} {format_value(value)}{tail}".encode() for path, value in points]


def plaintext_messages(
    timestamp: int, points: Sequence[Point], line_prefix: str = "", max_bytes: int | None = None
) -> list[bytes]:
    """The plaintext report as messages of at most ``max_bytes``, never split inside a line.

    ``max_bytes=None`` gives one message.
    """
    lines = plaintext_lines(timestamp, points, line_prefix)
    if max_bytes is None:
        return [b"".join(lines)] if lines else []
    messages: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for line in lines:
        if len(line) > max_bytes:
            raise ValueError(f"a {len(line)}-byte line cannot fit a {max_bytes}-byte message: {line[:60]!r}")
        if size + len(line) > max_bytes:
            messages.append(b"".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line)
    if current:
        messages.append(b"".join(current))
    return messages


def _pickled(obj: object) -> bytes:
    """``obj`` pickled without the memo: a report has no shared or recursive objects, and the memo's
    opcodes make a frame 13% bigger and slower to write."""
    out = io.BytesIO()
    pickler = pickle.Pickler(out, _PICKLE_PROTOCOL)
    pickler.fast = True
    pickler.dump(obj)
    return out.getvalue()


def _frame(timestamp: int, points: Sequence[Point], max_frame_bytes: int) -> list[bytes]:
    payload = _pickled([(path, (timestamp, value)) for path, value in points])
    if len(payload) + _LENGTH.size <= max_frame_bytes:
        return [_LENGTH.pack(len(payload)) + payload]
    if len(points) == 1:
        raise ValueError(f"one point needs a {len(payload)}-byte pickle frame, more than {max_frame_bytes}")
    half = len(points) // 2
    return _frame(timestamp, points[:half], max_frame_bytes) + _frame(timestamp, points[half:], max_frame_bytes)


def pickle_frames(
    timestamp: int, points: Sequence[Point], max_frame_bytes: int = PICKLE_FRAME_BYTES
) -> list[bytes]:
    """Length-prefixed pickle frames of ``[(path, (timestamp, value)), ...]``, each <= ``max_frame_bytes``."""
    timestamp = int(timestamp)
    if len(points) <= PICKLE_AT_ONCE:  # a report's slice: pickled whole, _frame halves it if too big
        return _frame(timestamp, points, max_frame_bytes) if points else []
    frames: list[bytes] = []
    start = 0
    estimate = 0
    for index, (path, _value) in enumerate(points):
        cost = len(path) + _PICKLE_OVERHEAD
        if estimate + cost > max_frame_bytes and index > start:
            frames += _frame(timestamp, points[start:index], max_frame_bytes)
            start, estimate = index, 0
        estimate += cost
    if start < len(points):
        frames += _frame(timestamp, points[start:], max_frame_bytes)
    return frames


class Framing(Protocol):
    """Where a format's units (a line, a frame) start, and how many points they hold.

    A receiver that loses its connection drops the unit it was reading (carbon's line and pickle
    receivers both do), so a report is resumed at the start of the unit holding the first byte the
    peer did not acknowledge: no point goes twice, none is lost.
    """

    def unit_start(self, message: bytes, offset: int) -> int: ...

    def points(self, message: bytes, start: int, stop: int) -> int:
        """Points of the units that end within ``message[start:stop]``."""
        ...


class _Lines:
    """Plaintext: a unit is a line; a message holds whole lines."""

    def unit_start(self, message: bytes, offset: int) -> int:
        return message.rfind(b"\n", 0, offset) + 1

    def points(self, message: bytes, start: int, stop: int) -> int:
        return message.count(b"\n", start, stop)

    def __repr__(self) -> str:
        return "LINES"


class _Frames:
    """Pickle: a unit is a frame; a message is one frame."""

    def unit_start(self, message: bytes, offset: int) -> int:
        return 0

    def points(self, message: bytes, start: int, stop: int) -> int:
        if not start < stop >= len(message):
            return 0
        return len(pickle.loads(message[_LENGTH.size :]))  # our own bytes; only re-sends are counted this way

    def __repr__(self) -> str:
        return "FRAMES"


LINES: Framing = _Lines()
FRAMES: Framing = _Frames()
