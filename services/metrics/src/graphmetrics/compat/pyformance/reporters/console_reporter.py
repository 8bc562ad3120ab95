"""pyformance's ``ConsoleReporter`` over the core :class:`~graphmetrics.reporters.console.ConsoleReporter`."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from graphmetrics.clock import Clock
from graphmetrics.compat.pyformance.reporters.reporter import Reporter
from graphmetrics.reporters import Reporter as Engine
from graphmetrics.reporters import console

__all__ = ["ConsoleReporter"]


class ConsoleReporter(Reporter):
    """Writes each report, readable, to ``stream``: a dated header, then each metric and its fields."""

    def __init__(
        self, registry: Any = None, reporting_interval: float = 30, stream: TextIO = sys.stderr,
        clock: Clock | None = None,
    ) -> None:
        self.stream = stream
        super().__init__(registry, reporting_interval, clock)

    def _engine(self, registry: Any) -> Engine:
        return console.ConsoleReporter(registry, self.stream)
