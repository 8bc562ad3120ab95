"""Reading a registry out: from its metrics to the flat ``(path, value)`` points of one report.

Every wire format (plaintext, pickle, UDP, Hosted Graphite) starts from the points made here, so the
rules hold everywhere: each path comes from :func:`graphmetrics.names.path_parts`, NaN and infinities
are never sent, nor ints without a float (see :data:`POINT_INT_LIMIT`), ints stay ints and floats keep
full precision (:func:`format_value`).

How a report is cut, from registry to socket (the sizes below, named together):

1. The keys are copied when a report starts (``registry.keys()``), or kept from an earlier report
   by a :class:`Layout` while ``registry.generation`` stays the same. A report covers the metrics
   registered when it starts; each is looked up again when its slice is read, so one removed
   meanwhile (``registry.clear()``) is left out and one created meanwhile waits for the next report.
2. They are read a slice at a time: :data:`SLICE` metrics the general way (``registry.read`` gives a
   fields dict, :func:`flatten` turns it into points), or :data:`COUNTER_SLICE` plain counters on the
   layout's fast path (a read and a tuple each). One slice is one step of a reporter's
   ``collect_slices``, which the Twisted runner interleaves with the reactor's other work; nothing
   bigger than a slice is held, so a report rarely brings on a full garbage collection.
3. The reporter gathers points until it has :data:`ENCODE_AT`, then encodes them in one call: one
   pickle frame (:data:`PICKLE_AT_ONCE` points or fewer are pickled whole; more are cut into frames of
   at most :data:`PICKLE_FRAME_BYTES`) or plaintext messages of at most :data:`STREAM_MESSAGE_BYTES`
   (``wire.MAX_DATAGRAM_BYTES`` for UDP, a protocol limit rather than a tuning size).
4. On a stream transport, a flush joins consecutive messages into sends of about
   :data:`STREAM_MESSAGE_BYTES`: one system call and one GIL handover per send, not per frame.

What these cost is measured in docs/benchmarks.md (``benchmarks/bench_readout.py``, ``make bench-lib``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

from graphmetrics.counters import COUNT_FIELD, Counter
from graphmetrics.names import MAX_KEY_LENGTH, checked_path, path_parts, sanitize_name

__all__ = [
    "SLICE",
    "COUNTER_SLICE",
    "ENCODE_AT",
    "PICKLE_AT_ONCE",
    "PICKLE_FRAME_BYTES",
    "STREAM_MESSAGE_BYTES",
    "BUCKETS_FIELD",
    "POINT_INT_LIMIT",
    "Point",
    "Flattened",
    "Slice",
    "ReadableRegistry",
    "flatten",
    "format_value",
    "bucket_node",
    "read_slices",
    "CounterRun",
    "Layout",
]

# -- the pipeline's sizes (see the module docstring for how they fit together) -------------------------

SLICE = 16
"""Metrics per slice read the general way."""

COUNTER_SLICE = 128
"""Plain counters per slice on the layout's fast path: about what a general slice of 16 metrics costs."""

ENCODE_AT = 128
"""Points are encoded in groups of at least this many (the last one of a report excepted), whatever the
size of the slices they were read in: one encoder call and about one message (frame) per group."""

PICKLE_AT_ONCE = 512
"""Up to this many points are pickled whole without estimating frame sizes first (usually one frame)."""

PICKLE_FRAME_BYTES = 256 * 1024
"""Default pickle frame size: a quarter of carbon's 1 MiB limit, so a lowered limit still fits."""

STREAM_MESSAGE_BYTES = 256 * 1024
"""Plaintext over TCP is cut into messages of this size, and a stream's sends are joined to about it:
joining a whole 50,000-metric report into one ``bytes`` is a single C call that holds the GIL long."""

BUCKETS_FIELD = "buckets"
"""Sketch buckets are exported as ``<prefix>.<name>.buckets.<bound node>``."""

POINT_INT_LIMIT = 2**1024 - 2**970
"""Ints this big (either sign) have no float: carbon's ``float()`` overflows (its pickle receiver then
drops the connection and the rest of what it read), and past 4300 digits ``str()`` raises. Refused."""

Point = tuple[str, int | float]
"""One series value: ``(path, value)``. The timestamp is shared by the whole report."""

Slice = tuple[dict[str, dict[str, int | float]], dict[str, list[tuple[float, int]]] | None]
"""One slice: ``(snapshot part, bucket part or None)``, shaped like ``snapshot()``/``bucket_snapshot()``."""


class Flattened(NamedTuple):
    points: list[Point]
    rejected: int
    """Values that could not be sent: a non-number, or a metric whose path cannot be built."""
    refused: tuple[str, ...] = ()
    """The paths (or keys, when no path can be built) of those values."""


class ReadableRegistry(Protocol):
    """The read side of :class:`graphmetrics.registry.MetricsRegistry`: what every reader uses."""

    @property
    def generation(self) -> int: ...

    def keys(self) -> list[str]: ...

    def get(self, key: str) -> Any: ...

    def read(self, metric: Any) -> dict[str, int | float] | None: ...

    def buckets(self, metric: Any) -> list[tuple[float, int]] | None: ...

    def snapshot(self) -> dict[str, dict[str, int | float]]: ...


# -- paths: names.path_parts, cached ----------------------------------------------------------------------

# A report needs the path parts of every (prefix, key) and the node of every field name, every interval.
# One cache each, dropped whole when it grows past the bound (never evicted piecemeal).
_PARTS: dict[tuple[str, str], tuple[str, str]] = {}
_NODES: dict[str, str] = {}
_CACHE_LIMIT = 1 << 18


def _parts(prefix: str, key: str) -> tuple[str, str]:
    parts = _PARTS.get((prefix, key))
    if parts is None:
        parts = path_parts(prefix, key)
        if len(_PARTS) >= _CACHE_LIMIT:
            _PARTS.clear()
        _PARTS[(prefix, key)] = parts
    return parts


def _node(field: str) -> str:
    node = _NODES.get(field)
    if node is None:
        node = sanitize_name(field)
        if len(_NODES) >= _CACHE_LIMIT:
            _NODES.clear()
        _NODES[field] = node
    return node


def _path(prefix: str, key: str, field: str) -> str:
    """``names.series_path(prefix, key, field)``, from the caches."""
    head, tags = _parts(prefix, key)
    return checked_path(head + _node(field) + tags)


# -- values -----------------------------------------------------------------------------------------------


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
        points.append((_path(prefix, key, f"{BUCKETS_FIELD}.{node}"), count))


# -- the general way: fields dicts -> points -----------------------------------------------------------------


def flatten(
    snapshot: Mapping[str, Mapping[str, object]],
    prefix: str = "",
    buckets: Mapping[str, Iterable[tuple[float, int]]] | None = None,
) -> Flattened:
    """All points of ``snapshot`` (shaped like ``registry.snapshot()``), in its order, buckets (if
    given) after their metric's fields.

    A metric whose path cannot be built (too long), or a value that is not a number or an int without
    a float, is left out, counted in ``rejected`` and named in ``refused``: one bad metric never costs
    the others their report.
    """
    points: list[Point] = []
    append = points.append
    rejected = 0
    refused: list[str] = []
    inf = math.inf
    limit = POINT_INT_LIMIT
    nodes: dict[str, str] = {}  # field -> path node, for this call (_node() once per field name)
    raw: Any
    for key, fields in snapshot.items():
        start = len(points)
        try:
            head, tags = _parts(prefix, key)  # _path inlined: the hot loop of a report
            for field, raw in fields.items():
                kind = type(raw)
                if (kind is int and -limit < raw < limit) or (kind is float and -inf < raw < inf):  # usual, no call
                    value = raw
                else:
                    try:
                        value = _number(raw)
                    except TypeError:
                        rejected += 1
                        refused.append(head + _node(field) + tags)
                        continue
                    if value is None:
                        continue
                node = nodes.get(field)
                if node is None:
                    node = nodes[field] = _node(field)
                path = head + node + tags
                append((path if len(path) <= MAX_KEY_LENGTH else checked_path(path), value))
            if buckets is not None and key in buckets:
                _bucket_points(prefix, key, buckets[key], points)
        except ValueError:
            del points[start:]
            rejected += 1
            refused.append(key)
    return Flattened(points, rejected, tuple(refused))


def read_slices(
    registry: ReadableRegistry, keys: list[str], buckets: bool = False, size: int = SLICE
) -> Iterator[Slice]:
    """The metrics of ``keys`` still registered when read, in that order, ``size`` keys per slice.

    Over ``registry.keys()`` the slices together hold what ``registry.snapshot()`` (and
    ``bucket_snapshot()`` if ``buckets``) would have returned, had nothing been added or removed meanwhile.
    """
    for start in range(0, len(keys), size):
        part: dict[str, dict[str, int | float]] = {}
        bucket_part: dict[str, list[tuple[float, int]]] | None = {} if buckets else None
        for key in keys[start : start + size]:
            metric = registry.get(key)  # looked up now: clear() may have removed it since
            if metric is None:
                continue
            fields = registry.read(metric)
            if fields:
                part[key] = fields
            if bucket_part is not None and (found := registry.buckets(metric)) is not None:
                bucket_part[key] = found
        yield part, bucket_part


# -- the layout memo and the counter fast path ---------------------------------------------------------------


class CounterRun(NamedTuple):
    """Consecutive keys (in snapshot order) that hold plain counters, with the counters and their paths."""

    keys: list[str]
    counters: list[Counter]
    paths: list[str]


Segment = list[str] | CounterRun
"""Keys read the general way, or a run of plain counters."""


class Layout:
    """One reporter's memo of one registry's layout: where the plain counters are, and their paths.

    Most metrics of a big registry are counters, and a counter is one series, ``<prefix>.<name>.count``.
    Read the general way (a fields dict per metric, then :func:`flatten` assembling and checking every
    path) that costs a dict and a path per counter per report. During one report a layout notes
    which keys hold plain counters and their finished paths; while ``registry.generation`` stays the
    same, later reports turn each run of counters into points in one comprehension. Everything else
    (gauges, meters, histograms, timers, a subclass of Counter, a path too long to send) goes the
    general way. Points come in ``registry.snapshot()`` order either way. Its prefix is in every
    path it keeps.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._known: tuple[int, list[Segment]] | None = None  # (registry generation, segments): one
        # attribute, so a report on another thread sees the old layout or the new one, never half of each

    def report(self, registry: ReadableRegistry, buckets: bool = False) -> Iterator[Flattened]:
        """One report's points, a slice at a time; the same points ``flatten(registry.snapshot())`` has.

        A report covers the metrics registered when it starts, each read when its slice is; one
        removed meanwhile is left out.
        """
        generation = registry.generation
        known = self._known
        if known is None or known[0] != generation:
            yield from self._learn(registry, generation, buckets)
            return
        for segment in known[1]:
            if isinstance(segment, CounterRun):
                yield from self._counters(registry, generation, segment, buckets)
            else:
                yield from self._general(registry, segment, buckets)

    def _general(self, registry: ReadableRegistry, keys: list[str], buckets: bool) -> Iterator[Flattened]:
        for part, bucket_part in read_slices(registry, keys, buckets):
            yield flatten(part, self.prefix, bucket_part)

    def _counters(
        self, registry: ReadableRegistry, generation: int, run: CounterRun, buckets: bool
    ) -> Iterator[Flattened]:
        for start in range(0, len(run.keys), COUNTER_SLICE):
            if registry.generation != generation:  # cleared (or grown) meanwhile: look each one up again
                yield from self._general(registry, run.keys[start:], buckets)
                return
            stop = start + COUNTER_SLICE
            counts = [counter.get_count() for counter in run.counters[start:stop]]
            if counts and not -POINT_INT_LIMIT < min(counts) <= max(counts) < POINT_INT_LIMIT:
                yield from self._general(registry, run.keys[start:stop], buckets)  # refuses the one too big
                continue
            yield Flattened(list(zip(run.paths[start:stop], counts)), 0)

    def _learn(self, registry: ReadableRegistry, generation: int, buckets: bool) -> Iterator[Flattened]:
        """A report the general way that notes the layout as it goes; kept if the registry did not change."""
        segments: list[Segment] = []
        keys = registry.keys()
        for start, (part, bucket_part) in zip(range(0, len(keys), SLICE), read_slices(registry, keys, buckets)):
            yield flatten(part, self.prefix, bucket_part)
            for key in keys[start : start + SLICE]:
                self._place(segments, key, registry.get(key))
        if registry.generation == generation:
            self._known = (generation, segments)

    def _place(self, segments: list[Segment], key: str, metric: object) -> None:
        last = segments[-1] if segments else None
        if type(metric) is Counter:  # exactly: a subclass may read differently
            try:
                path = _path(self.prefix, key, COUNT_FIELD)  # what Counter.fields() would flatten to
            except ValueError:  # too long: the general way leaves it out and counts it, each report
                pass
            else:
                if not isinstance(last, CounterRun):
                    last = CounterRun([], [], [])
                    segments.append(last)
                last.keys.append(key)
                last.counters.append(metric)
                last.paths.append(path)
                return
        if not isinstance(last, list):
            last = []
            segments.append(last)
        last.append(key)
