"""What a reporter remembers of its registry between reports: where the plain counters are, and their paths.

Most metrics of a big registry are counters, and a counter is one series, ``<prefix>.<name>.count``.
Read the general way (a fields dict per metric, then :func:`~graphmetrics.reporters.points.flatten`
assembling and checking every path) a counter costs about 3 µs per report: 50,000 of them hold a core
for 150 ms each interval. A :class:`Layout` notes, during one report, which keys hold plain counters
and their finished paths. While the registry's ``_version`` stays the same (no metric registered, the
registry not cleared), later reports turn each run of counters into points in one comprehension: a
read and a tuple per counter.

Everything else (gauges, meters, histograms, timers, a subclass of Counter, a path too long to send)
goes the general way, 16 metrics per slice. Points come in ``registry.snapshot()`` order either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from graphmetrics.counters import Counter
from graphmetrics.names import series_path
from graphmetrics.reporters.points import POINT_INT_LIMIT, Flattened, flatten
from graphmetrics.reporters.reading import SLICE, SlicedRegistry, read_slices

__all__ = ["COUNTER_SLICE", "CounterRun", "Layout"]

COUNTER_SLICE = 128
"""Counters per slice on the fast path: about 0.1 ms, the general path's slice of 16 metrics or less."""

_COUNT = "count"  # a Counter's one field (Counter._fields)


class CounterRun(NamedTuple):
    """Consecutive keys (in snapshot order) that hold plain counters, with the counters and their paths."""

    keys: list[str]
    counters: list[Counter]
    paths: list[str]


Segment = list[str] | CounterRun
"""Keys read the general way, or a run of plain counters."""


class Layout:
    """One reporter's memo of one registry's layout; its prefix is in every path it keeps."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._known: tuple[int, list[Segment]] | None = None  # (registry version, segments): one attribute,
        # so a report on another thread sees the old layout or the new one, never half of each

    def report(self, registry: SlicedRegistry, buckets: bool = False) -> Iterator[Flattened]:
        """One report's points, a slice at a time; the same points ``flatten(registry.snapshot())`` has.

        As in :mod:`~graphmetrics.reporters.reading`, a report covers the metrics registered when it
        starts, each read when its slice is; one removed meanwhile is left out.
        """
        version = registry.generation
        known = self._known
        if known is None or known[0] != version:
            yield from self._learn(registry, version, buckets)
            return
        for segment in known[1]:
            if isinstance(segment, CounterRun):
                yield from self._counters(registry, version, segment, buckets)
            else:
                yield from self._general(registry, segment, buckets)

    def _general(self, registry: SlicedRegistry, keys: list[str], buckets: bool) -> Iterator[Flattened]:
        for part, bucket_part in read_slices(registry, keys, buckets):
            yield flatten(part, self.prefix, bucket_part)

    def _counters(
        self, registry: SlicedRegistry, version: int, run: CounterRun, buckets: bool
    ) -> Iterator[Flattened]:
        for start in range(0, len(run.keys), COUNTER_SLICE):
            if registry.generation != version:  # cleared (or grown) meanwhile: look each one up again
                yield from self._general(registry, run.keys[start:], buckets)
                return
            stop = start + COUNTER_SLICE
            counts = [counter.get_count() for counter in run.counters[start:stop]]
            if counts and not -POINT_INT_LIMIT < min(counts) <= max(counts) < POINT_INT_LIMIT:
                yield from self._general(registry, run.keys[start:stop], buckets)  # refuses the one too big
                continue
            yield Flattened(list(zip(run.paths[start:stop], counts)), 0)

    def _learn(self, registry: SlicedRegistry, version: int, buckets: bool) -> Iterator[Flattened]:
        """A report the general way that notes the layout as it goes; kept if the registry did not change."""
        segments: list[Segment] = []
        keys = registry.keys()
        for start, (part, bucket_part) in zip(range(0, len(keys), SLICE), read_slices(registry, keys, buckets)):
            yield flatten(part, self.prefix, bucket_part)
            for key in keys[start : start + SLICE]:
                self._place(segments, key, registry.get(key))
        if registry.generation == version:
            self._known = (version, segments)

    def _place(self, segments: list[Segment], key: str, metric: object) -> None:
        last = segments[-1] if segments else None
        if type(metric) is Counter:  # exactly: a subclass may read differently
            try:
                path = series_path(self.prefix, key, _COUNT)
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
