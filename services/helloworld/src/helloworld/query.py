"""The query string of ``GET /``: the only user input the service reads, validated before it touches a metric.

Parsing works on the raw bytes of the request line, not on Twisted's pre-parsed ``request.args``, so that
non-UTF-8 escapes, overlong strings and repeated parameters are seen and refused rather than silently
decoded, truncated or merged. Unknown parameters (cache busters and the like) are ignored.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

__all__ = ["BadRequest", "MAX_QUERY_BYTES", "MAX_WORLD_SIZE", "WORLD_SIZE", "parse_world_size"]

WORLD_SIZE = "world_size"
"""The one query parameter the service understands."""

MAX_QUERY_BYTES = 1024
"""Longest accepted query string: a real ``?world_size=N`` is under 30 bytes; more is abuse or a bug."""

MAX_WORLD_SIZE = 1_000_000_000
"""Largest accepted ``world_size``: beyond a billion the number is a typo or an attack, and bounding it keeps
the histogram's sum and variance far inside float precision."""

_COMMON = re.compile(rb"world_size=([0-9]{1,9})")
"""The shape of nearly every real query: answered without the general parser (the hot path of ``GET /``)."""
_DIGITS = re.compile(r"[0-9]+")
_SIGNED_INTEGER = re.compile(r"-[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SHOWN_CHARS = 40


class BadRequest(ValueError):
    """Input the service refuses; ``detail`` is the message sent to the client in the 400 body."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _shown(value: str) -> str:
    """``value`` quoted for an error message, cut short so a client cannot make us echo a megabyte."""
    if len(value) > _SHOWN_CHARS:
        return repr(value[:_SHOWN_CHARS]) + "..."
    return repr(value)


def _parse_value(value: str) -> int:
    if value == "":
        raise BadRequest(f"{WORLD_SIZE} needs a value, e.g. ?{WORLD_SIZE}=42")
    if _DIGITS.fullmatch(value):
        # Compare lengths first: int() of a 5000-digit string is slow (and refused by Python >= 3.11).
        if len(value.lstrip("0")) > len(str(MAX_WORLD_SIZE)) or int(value) > MAX_WORLD_SIZE:
            raise BadRequest(f"{WORLD_SIZE} must be at most {MAX_WORLD_SIZE}, got {_shown(value)}")
        return int(value)
    if _SIGNED_INTEGER.fullmatch(value):
        raise BadRequest(f"{WORLD_SIZE} must not be negative, got {_shown(value)}")
    if _DECIMAL.fullmatch(value):
        raise BadRequest(f"{WORLD_SIZE} must be a whole number written with digits only, got {_shown(value)}")
    raise BadRequest(f"{WORLD_SIZE} must be an integer, got {_shown(value)}")


def parse_world_size(raw_query: bytes) -> int | None:
    """Return the ``world_size`` in ``raw_query`` (the bytes after ``?``), ``None`` if it is absent.

    Raises :class:`BadRequest` naming the problem for anything else: an overlong or non-UTF-8 query, and a
    ``world_size`` that is empty, not a plain non-negative integer, above :data:`MAX_WORLD_SIZE`, or repeated.
    """
    if not raw_query:
        return None
    common = _COMMON.fullmatch(raw_query)
    if common is not None:
        return int(common.group(1))  # at most 9 digits: within MAX_WORLD_SIZE by construction
    if len(raw_query) > MAX_QUERY_BYTES:
        raise BadRequest(f"query string is {len(raw_query)} bytes long, more than {MAX_QUERY_BYTES}")
    try:
        text = raw_query.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise BadRequest("query string is not valid UTF-8 (after percent-decoding)") from None
    values = [value for name, value in pairs if name == WORLD_SIZE]
    if not values:
        return None
    if len(values) > 1:
        raise BadRequest(f"{WORLD_SIZE} must be given once, got it {len(values)} times")
    return _parse_value(values[0])
