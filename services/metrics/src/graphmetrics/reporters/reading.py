"""Reading a registry a slice at a time, so a report of any size can be collected between other work.

A report covers the metrics registered when its collection starts: the reporter copies their keys then
(``registry.keys()``: one list of existing strings, well under a millisecond for 50,000 metrics, where
copying ``(key, metric)`` pairs allocates 50,000 tuples and sets off the garbage collector), or keeps
them from an earlier report (``reporters.layout``). Each slice looks its metrics up
again when it is read, so a metric removed meanwhile (``registry.clear()``) is left out, and one
created meanwhile waits for the next report. Nothing bigger than one slice is held, so a report
allocates little that outlives it and rarely brings on a full garbage collection.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

__all__ = ["SLICE", "Slice", "SlicedRegistry", "read_slices"]

SLICE = 16
"""Metrics per slice: read, flattened and encoded in well under 0.1 ms for counters, about 1 ms for timers."""

Slice = tuple[dict[str, dict[str, int | float]], dict[str, list[tuple[float, int]]] | None]
"""One slice: ``(snapshot part, bucket part or None)``, shaped like ``snapshot()``/``bucket_snapshot()``."""


class SlicedRegistry(Protocol):
    """The read side of :class:`graphmetrics.registry.MetricsRegistry` read here."""

    @property
    def generation(self) -> int: ...

    def keys(self) -> list[str]: ...

    def get(self, key: str) -> Any: ...

    def read(self, metric: Any) -> dict[str, int | float] | None: ...

    def buckets(self, metric: Any) -> list[tuple[float, int]] | None: ...


def read_slices(
    registry: SlicedRegistry, keys: list[str], buckets: bool = False, size: int = SLICE
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
