"""Snapshot -> flat ``(path, value)`` points: the one place that decides what leaves the process.

Every wire format (plaintext, pickle, UDP, Hosted Graphite, console) starts from :func:`flatten`, so
the rules hold everywhere: each path comes from :func:`graphmetrics.names.series_path`, NaN and
infinities are never sent, nor ints without a float (see ``POINT_INT_LIMIT``), ints stay ints and
floats keep full precision (``repr``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from graphmetrics.names import MAX_KEY_LENGTH, checked_path, field_node, series_path, series_parts

__all__ = ["Point", "Flattened", "flatten", "format_value", "bucket_node", "BUCKETS_FIELD", "POINT_INT_LIMIT"]

Point = tuple[str, int | float]
"""One series value: ``(path, value)``. The timestamp is shared by the whole report."""

BUCKETS_FIELD = "buckets"
"""Sketch buckets are exported as ``<prefix>.<name>.buckets.<bound node>``."""


POINT_INT_LIMIT = 2**1024 - 2**970
"""Ints this big (either sign) have no float: carbon's ``float()`` overflows (its pickle receiver then
drops the connection and the rest of what it read), and past 4300 digits ``str()`` raises. Refused."""


class Flattened(NamedTuple):
    points: list[Point]
    rejected: int
    """Values that could not be sent: a non-number, or a metric whose path cannot be built."""
    refused: tuple[str, ...] = ()
    """The paths (or keys, when no path can be built) of those values."""


def _number(value: object) -> int | float | None:
    """``value`` as an int or a finite float, or None when it must not be sent."""
    if type(value) is int:  # noqa: E721 - exact type: bool is an int subclass but no metric value
        if -POINT_INT_LIMIT < value < POINT_INT_LIMIT:
            return value
        raise TypeError("an int too big for a float")
    if type(value) is float:  # noqa: E721
        return value if math.isfinite(value) else None
    if isinstance(value, numbers.Integral):  # bool, numpy ints, ...
        return _number(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else None
    raise TypeError(f"not a number: {type(value).__name__}")


def format_value(value: int | float) -> str:
    """Full precision text: ints as ints, floats via ``repr`` (shortest round-tripping form)."""
    return str(value) if type(value) is int else repr(value)  # noqa: E721


def bucket_node(bound: float) -> str:
    """The path node for a bucket's upper bound: the number with ``_`` for the decimal point.

    A dot would split the node, so ``12.5`` becomes ``12_5`` (``-0_5``, ``1250740``, ``0_00001``:
    six significant digits, never an exponent). Grafana gets the number back with
    ``aliasSub(..., '_', '.')``; see docs/reporting.md for the heatmap target.
    """
    if not math.isfinite(bound):
        raise ValueError(f"bucket bound must be finite, not {bound!r}")
    text = format(Decimal(f"{bound:.6g}"), "f")
    return text.replace(".", "_")


def _bucket_points(
    prefix: str, key: str, buckets: Iterable[tuple[float, int]], points: list[Point]
) -> None:
    counts: dict[str, int] = {}
    for bound, count in buckets:
        node = bucket_node(bound)
        counts[node] = counts.get(node, 0) + int(count)  # bounds equal to 6 digits share one series
    for node, count in counts.items():
        points.append((series_path(prefix, key, f"{BUCKETS_FIELD}.{node}"), count))


def flatten(
    snapshot: Mapping[str, Mapping[str, object]],
    prefix: str = "",
    buckets: Mapping[str, Iterable[tuple[float, int]]] | None = None,
) -> Flattened:
    """All points of one report, in snapshot order, buckets (if given) after their metric's fields.

    A metric whose path cannot be built (too long) or whose value is not a number is left out and
    counted in ``rejected``: one bad metric never costs the others their report.
    """
    points: list[Point] = []
    append = points.append
    rejected = 0
    refused: list[str] = []
    inf = math.inf
    limit = POINT_INT_LIMIT
    nodes: dict[str, str] = {}  # field -> path node, for this call (field_node() once per field name)
    raw: Any
    for key, fields in snapshot.items():
        start = len(points)
        try:
            head, tags = series_parts(prefix, key)  # series_path's parts, inlined: the hot loop of a report
            for field, raw in fields.items():
                kind = type(raw)
                if (kind is int and -limit < raw < limit) or (kind is float and -inf < raw < inf):  # usual, no call
                    value = raw
                else:
                    try:
                        value = _number(raw)
                    except TypeError:
                        rejected += 1
                        refused.append(head + field_node(field) + tags)
                        continue
                    if value is None:
                        continue
                node = nodes.get(field)
                if node is None:
                    node = nodes[field] = field_node(field)
                path = head + node + tags
                append((path if len(path) <= MAX_KEY_LENGTH else checked_path(path), value))
            if buckets is not None and key in buckets:
                _bucket_points(prefix, key, buckets[key], points)
        except ValueError:
            del points[start:]
            rejected += 1
            refused.append(key)
    return Flattened(points, rejected, tuple(refused))
