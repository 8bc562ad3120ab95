"""pyformance's ``CarbonReporter`` (TCP: plaintext or pickle) and ``UdpCarbonReporter`` over the core
:class:`~graphmetrics.reporters.carbon.CarbonReporter`: one persistent connection, batches buffered
through outages, names sanitised."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from graphmetrics.clock import Clock
from graphmetrics.compat.pyformance.reporters.reporter import Reporter
from graphmetrics.reporters import Reporter as Engine
from graphmetrics.reporters import carbon

__all__ = ["CarbonReporter", "UdpCarbonReporter", "DEFAULT_CARBON_SERVER", "DEFAULT_CARBON_PORT"]

DEFAULT_CARBON_SERVER = "0.0.0.0"
DEFAULT_CARBON_PORT = 2003


class CarbonReporter(Reporter):
    """Reports to carbon's line receiver (``pickle_protocol=True``: pickle, to the port given).

    ``prefix`` is a path prefix: ``"app."`` and ``"app"`` both give ``app.<name>.<field>``.
    ``socket_factory`` is accepted for pyformance's signature only: the core transport owns its
    sockets (timeouts, TLS, back-off), so any other factory is a ``ValueError``.
    """

    protocol = "plaintext"

    def __init__(
        self,
        registry: Any = None,
        reporting_interval: float = 5,
        prefix: str = "",
        server: str = DEFAULT_CARBON_SERVER,
        port: int = DEFAULT_CARBON_PORT,
        socket_factory: Callable[..., socket.socket] = socket.socket,
        clock: Clock | None = None,
        pickle_protocol: bool = False,
    ) -> None:
        if socket_factory is not socket.socket:
            raise ValueError("socket_factory is not supported: graphmetrics' transports make their own sockets")
        self.prefix = prefix
        self.server = server
        self.port = port
        self.socket_factory = socket_factory
        self.pickle_protocol = pickle_protocol
        if pickle_protocol:
            if self.protocol == "udp":
                raise ValueError("carbon takes pickle over TCP only: use CarbonReporter(pickle_protocol=True)")
            self.protocol = "pickle"
        super().__init__(registry, reporting_interval, clock)

    def _engine(self, registry: Any) -> Engine:
        return carbon.CarbonReporter(
            registry, self.server, self.port, self.protocol, self.prefix, clock=self.clock,
            name="carbon" if self.protocol != "udp" else "carbon_udp",
        )


class UdpCarbonReporter(CarbonReporter):
    """Reports to carbon's UDP listener: best effort, a lost datagram goes unnoticed."""

    protocol = "udp"
