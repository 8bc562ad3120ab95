"""A human-readable report on a text stream (stdout by default), for local runs and debugging."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping
from typing import TextIO

from graphmetrics.readout import ReadableRegistry, format_value

__all__ = ["ConsoleReporter", "format_report"]


def format_report(timestamp: int, snapshot: Mapping[str, Mapping[str, int | float]]) -> str:
    """One block per report: a dated header, then each metric key with its fields indented."""
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
    lines = [f"-- {when} ({timestamp}) " + "-" * 40]
    for key in sorted(snapshot):
        lines.append(key)
        fields = snapshot[key]
        width = max((len(field) for field in fields), default=0)
        for field, value in fields.items():
            shown = _shown(value)
            lines.append(f"    {field:<{width}} = {shown}")
    return "\n".join(lines) + "\n"


def _shown(value: object) -> str:
    """A value as text. An int with more digits than ``str()`` allows is named, not printed: one such
    metric must not cost the others the report (the console is for people; it shows any int it can)."""
    if not isinstance(value, (int, float)):
        return repr(value)
    try:
        return format_value(value)
    except ValueError:  # an int over sys.get_int_max_str_digits() digits
        return f"not shown (an int of {value.bit_length()} bits; no point can carry it)"  # type: ignore[union-attr]


class ConsoleReporter:
    """Formats on ``collect`` (the runner's collecting thread), writes on ``flush`` (its sending one)."""

    def __init__(self, registry: ReadableRegistry, stream: TextIO | None = None) -> None:
        self.registry = registry
        self.stream = stream
        self._pending: list[str] = []
        self._lock = threading.Lock()

    def collect(self, timestamp: int) -> None:
        text = format_report(int(timestamp), self.registry.snapshot())
        with self._lock:
            self._pending.append(text)

    @property
    def retry_in(self) -> float | None:
        return None

    def flush(self, timeout: float | None = None) -> bool:
        with self._lock:
            texts, self._pending = self._pending, []
        stream = self.stream if self.stream is not None else sys.stdout  # stdout as it is at write time
        for text in texts:
            stream.write(text)
        stream.flush()
        return True

    def close(self) -> None:
        return None
