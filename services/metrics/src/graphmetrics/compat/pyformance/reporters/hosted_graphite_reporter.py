"""pyformance's ``HostedGraphiteReporter`` over the core
:class:`~graphmetrics.reporters.hostedgraphite.HostedGraphiteReporter`.

Both argument orders work: pyformance 0.4's ``(hosted_graphite_api_key, registry=None,
reporting_interval=10, ...)`` and the one of the fork many tutorials use, ``(registry,
reporting_interval, api_key)``; a registry and a key are told apart by type. Reports go to Hosted
Graphite's carbon endpoint (``host``/``port``/``transport``, the core reporter's defaults unless
given) with the key as every line's first node, never to pyformance's HTTP sink: ``url`` is accepted
at its default only. The key is only ever shown masked.
"""

from __future__ import annotations

from typing import Any

from graphmetrics.clock import Clock
from graphmetrics.compat.pyformance.reporters.reporter import Reporter
from graphmetrics.registry import MetricsRegistry
from graphmetrics.reporters import Reporter as Engine
from graphmetrics.reporters import hostedgraphite

__all__ = ["HostedGraphiteReporter", "DEFAULT_URL"]

DEFAULT_URL = "https://hostedgraphite.com/api/v1/sink"


class HostedGraphiteReporter(Reporter):
    """Reports to Hosted Graphite every ``reporting_interval`` seconds once started.

    A key of None is read as the core reporter reads it (``$HOSTEDGRAPHITE_API_KEY`` or the file
    named by ``$HOSTEDGRAPHITE_API_KEY_FILE``). ``host``, ``port``, ``transport`` and ``prefix`` are
    the core reporter's, for a relay or a local carbon.
    """

    def __init__(
        self,
        hosted_graphite_api_key: Any = None,
        registry: Any = None,
        reporting_interval: Any = 10,
        url: str = DEFAULT_URL,
        clock: Clock | None = None,
        *,
        host: str = hostedgraphite.HOST,
        port: int | None = None,
        transport: str | None = None,
        prefix: str = "",
    ) -> None:
        key = hosted_graphite_api_key
        if isinstance(key, MetricsRegistry):  # the fork's order: (registry, reporting_interval, api_key)
            key, registry, reporting_interval = (
                reporting_interval if isinstance(reporting_interval, str) else None,
                key,
                registry if registry is not None else 10,
            )
        if key is not None and not isinstance(key, str):
            raise TypeError(f"the Hosted Graphite API key must be a str, not {type(key).__name__}")
        if url != DEFAULT_URL:
            raise ValueError("graphmetrics sends to Hosted Graphite's carbon endpoint, not to an HTTP url: "
                             "give host=, port= and transport= instead")
        self.url = url
        self._key = key
        self._options: dict[str, Any] = {"host": host, "port": port, "prefix": prefix}
        if transport is not None:
            self._options["transport"] = transport
        super().__init__(registry, reporting_interval, clock)
        self.masked_key = self.engine.masked_key  # type: ignore[attr-defined]

    def _engine(self, registry: Any) -> Engine:
        return hostedgraphite.HostedGraphiteReporter(registry, self._key, clock=self.clock, **self._options)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.engine!r}>"
