"""Shared fixtures: a fresh registry, and the service's real site (its resource behind Twisted's HTTP parser
and the service's edge), in memory."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from graphmetrics.registry import MetricsRegistry
from helloworld.edge import HelloWorldSite
from helloworld.web import HelloWorldResource


@dataclass
class Response:
    status: int
    headers: dict[bytes, bytes]
    body: bytes

    def json(self) -> Any:
        assert self.headers[b"content-type"] == b"application/json"
        return json.loads(self.body)


class InMemoryHTTP:
    """Sends raw request bytes through a ``Site``'s own ``HTTPChannel`` on a ``StringTransport``."""

    def __init__(self, registry: MetricsRegistry) -> None:
        self.site = HelloWorldSite(HelloWorldResource(registry), registry, reactor=Clock())

    def request(self, target: bytes, method: bytes = b"GET") -> Response:
        channel = self.site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
        transport = StringTransport()
        channel.makeConnection(transport)
        channel.dataReceived(method + b" " + target + b" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        raw = transport.value()
        channel.connectionLost(None)
        head, _, body = raw.partition(b"\r\n\r\n")
        status_line, *header_lines = head.split(b"\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        return Response(int(status_line.split()[1]), headers, body)


class TickingClock:
    """Each reading is ``step`` seconds after the previous one: every request lasts exactly ``step``."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.now = 0.0

    def time(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture
def registry() -> MetricsRegistry:
    return MetricsRegistry()


@pytest.fixture
def http(registry: MetricsRegistry) -> InMemoryHTTP:
    return InMemoryHTTP(registry)
