"""``/metrics`` is built off the reactor thread (issue 15: 1.1-1.3 s per request with 200,000 metrics,
every other request waiting), with a size cap and a clear error past it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

import helloworld.web as web
from graphmetrics.registry import MetricsRegistry
from helloworld.edge import HelloWorldSite
from helloworld.web import HelloWorldResource


class Held:
    """An ``off_thread`` that keeps the work until the test runs it on a real thread of its own."""

    def __init__(self) -> None:
        self.work: list[tuple[Callable[[], bytes], Deferred[bytes]]] = []

    def __call__(self, work: Callable[[], bytes]) -> Deferred[bytes]:
        done: Deferred[bytes] = Deferred()
        self.work.append((work, done))
        return done

    def run(self) -> int:
        """Run the held work on another thread; fire its Deferred here (the 'reactor'); its thread id."""
        work, done = self.work.pop(0)
        result: list[object] = []

        def target() -> None:
            try:
                result.append(work())
            except Exception as error:  # handed to the Deferred below
                result.append(error)
            result.append(threading.get_ident())

        thread = threading.Thread(target=target)
        thread.start()
        thread.join(10)
        value, ident = result
        if isinstance(value, Exception):
            done.errback(value)
        else:
            done.callback(value)
        return int(ident)  # type: ignore[call-overload]


def connect(site: HelloWorldSite, target: bytes) -> StringTransport:
    channel = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
    transport = StringTransport()
    channel.makeConnection(transport)
    channel.dataReceived(b"GET " + target + b" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
    return transport


def status_and_body(transport: StringTransport) -> tuple[int, bytes]:
    head, _, body = transport.value().partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():  # an answer written later is chunked
        chunks, rest = [], body
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            length = int(size, 16)
            chunks.append(rest[:length])
            rest = rest[length + 2 :]
        body = b"".join(chunks)
    return int(head.split(b" ")[1]), body


def test_metrics_are_built_on_another_thread_while_the_reactor_serves() -> None:
    registry = MetricsRegistry()
    registry.counter("c").inc(3)
    held = Held()
    site = HelloWorldSite(HelloWorldResource(registry, off_thread=held), registry, reactor=Clock())
    scrape = connect(site, b"/metrics")
    assert scrape.value() == b""  # not built on the reactor thread...
    other = connect(site, b"/healthz")
    assert status_and_body(other) == (200, b"ok")  # ...which meanwhile serves other requests
    assert held.run() != threading.get_ident()
    status, body = status_and_body(scrape)
    assert status == 200 and json.loads(body)["metrics"]["c"] == {"count": 3}


def test_past_the_cap_metrics_answers_503_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web, "MAX_METRICS_BYTES", 100)
    registry = MetricsRegistry()
    for index in range(20):
        registry.counter(f"c{index}").inc()
    held = Held()
    scrape = connect(HelloWorldSite(HelloWorldResource(registry, off_thread=held), registry, reactor=Clock()),
                     b"/metrics")
    held.run()
    status, body = status_and_body(scrape)
    assert status == 503 and "over the 100-byte cap of /metrics" in json.loads(body)["error"]


def test_a_client_gone_before_the_metrics_are_ready_costs_nothing() -> None:
    held = Held()
    registry = MetricsRegistry()
    site = HelloWorldSite(HelloWorldResource(registry, off_thread=held), registry, reactor=Clock())
    channel = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
    transport = StringTransport()
    channel.makeConnection(transport)
    channel.dataReceived(b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
    channel.connectionLost(Failure(ConnectionDone()))
    held.run()  # writes nothing, raises nothing
    assert transport.value() == b""
