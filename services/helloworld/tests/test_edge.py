"""The HTTP edge under attack, on real sockets: the service's real site listens on 127.0.0.1 in a reactor
thread, its timeouts run on a ``task.Clock`` the test advances, and every attack is checked for its answer
and for a normal client being served meanwhile."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.internet.threads import blockingCallFromThread
from twisted.logger import globalLogPublisher

from graphmetrics.registry import MetricsRegistry
from helloworld import edge
from helloworld.edge import (
    IDLE_TIMEOUT, LINGER_TIMEOUT, LOG_SUMMARY_INTERVAL, MAX_BODY_BYTES, MAX_HEAD_BYTES, MAX_HEADER_FIELDS, MAX_REQUEST_LINE_BYTES,
    REQUEST_TIMEOUT, EventSummary, HelloWorldSite, connection_limit,
)
from helloworld.web import HelloWorldResource

CLIENT_TIMEOUT = 5.0  # real seconds a test client waits for an answer that must come


@pytest.fixture(scope="module")
def reactor() -> Iterator[Any]:
    """Twisted's global reactor, running in a thread of its own for this module's tests."""
    from twisted.internet import reactor as global_reactor

    thread = threading.Thread(target=global_reactor.run, kwargs={"installSignalHandlers": False}, daemon=True)
    thread.start()
    yield global_reactor
    global_reactor.callFromThread(global_reactor.stop)
    thread.join(timeout=5)


@dataclass
class Answer:
    status: int
    phrase: bytes
    headers: dict[bytes, bytes]
    body: bytes

    def reason(self) -> str:
        assert self.headers[b"content-type"] == b"application/json"
        body = json.loads(self.body)
        assert body["status"] == self.status
        return str(body["error"])


def read_answer(sock: socket.socket) -> Answer:
    """One HTTP/1.1 response from ``sock`` (its head, then ``content-length`` bytes of body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.split(b"\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(b":") for line in lines)}
    length = int(headers.get(b"content-length", b"0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the body"
        body += chunk
    _version, status, phrase = status_line.split(b" ", 2)
    return Answer(int(status), phrase, headers, body[:length])


def closed_by_peer(sock: socket.socket) -> bool:
    """True once the service closed ``sock`` (EOF or reset), waiting at most CLIENT_TIMEOUT."""
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


class Served:
    """The service's real site on 127.0.0.1, its timeouts on a ``task.Clock``."""

    def __init__(self, reactor: Any, max_connections: int | None = None) -> None:
        self.reactor = reactor
        self.registry = MetricsRegistry()
        self.clock = Clock()
        self.site = HelloWorldSite(
            HelloWorldResource(self.registry), self.registry, reactor=self.clock, max_connections=max_connections
        )
        self.port = self.call(reactor.listenTCP, 0, self.site, interface="127.0.0.1")
        self.call(self.site.listening, self.port)
        self.address = ("127.0.0.1", self.port.getHost().port)
        self.sockets: list[socket.socket] = []

    def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``function(*args)`` in the reactor thread, where every object of the site lives."""
        return blockingCallFromThread(self.reactor, function, *args, **kwargs)

    def sync(self) -> None:
        """Return once the reactor has read every byte already sent to it: two round trips through its call
        queue have an I/O pass between them."""
        for _ in range(2):
            self.call(lambda: None)

    def advance(self, seconds: float) -> None:
        self.sync()
        self.call(self.clock.advance, seconds)

    def connect(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=CLIENT_TIMEOUT)
        self.sockets.append(sock)
        return sock

    def wait_open(self, count: int) -> None:
        """Wait (bounded) until the site has ``count`` connections open."""
        for _ in range(500):
            if self.call(lambda: self.site.open_connections) == count:
                return
            time.sleep(0.01)
        raise AssertionError(f"{self.site.open_connections} connections open, expected {count}")

    def request(self, raw: bytes) -> Answer:
        with socket.create_connection(self.address, timeout=CLIENT_TIMEOUT) as sock:
            sock.sendall(raw)
            return read_answer(sock)

    def get(self, target: bytes = b"/", method: bytes = b"GET") -> Answer:
        """A normal client: one request on a new connection."""
        return self.request(method + b" " + target + b" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")

    def count(self, key: str) -> int:
        snapshot = self.call(self.registry.snapshot)
        fields = snapshot.get(key, {})
        return int(fields.get("count", fields.get("value", 0)))

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.call(self.port.stopListening)


@pytest.fixture
def served(reactor: Any) -> Iterator[Served]:
    server = Served(reactor)
    yield server
    server.close()


def assert_normal_client_served(served: Served) -> None:
    answer = served.get(b"/?world_size=5")
    assert answer.status == 200 and json.loads(answer.body)["max"] == pytest.approx(5, rel=0.01)


# -- timeouts ---------------------------------------------------------------------------------------------


def test_a_trickled_request_gets_408_at_its_deadline_while_others_are_served(served: Served) -> None:
    attacker = served.connect()
    served.wait_open(1)
    trickle = b"GET / HTTP/1.1\r\nHost: x\r\n"
    for second, byte in zip(range(0, int(REQUEST_TIMEOUT) - 1, 2), trickle):  # a byte every 2 s, up to 9 s in
        attacker.sendall(bytes([byte]))
        served.advance(2 if second else 0)
    assert_normal_client_served(served)
    served.advance(REQUEST_TIMEOUT)  # Twisted's own timeout restarts at every byte: it never fired
    answer = read_answer(attacker)
    assert answer.status == 408 and "not complete within 10 s" in answer.reason()
    assert answer.headers[b"connection"] == b"close" and closed_by_peer(attacker)
    assert served.count("connections.timed_out") == 1
    assert served.count("hello_called") == 1  # the normal client; a timeout is a connection event
    assert_normal_client_served(served)


def test_one_byte_every_20_seconds_does_not_keep_a_connection(served: Served) -> None:
    attacker = served.connect()
    served.wait_open(1)
    attacker.sendall(b"G")
    served.advance(20)
    assert read_answer(attacker).status == 408 and closed_by_peer(attacker)
    served.wait_open(1)  # the service lingers, draining, so the peer reads the answer instead of a reset ...
    served.advance(LINGER_TIMEOUT)
    served.wait_open(0)  # ... for LINGER_TIMEOUT at most, even when the peer never closes its side


def test_a_connection_that_says_nothing_is_closed_without_an_answer(served: Served) -> None:
    silent = served.connect()
    served.wait_open(1)
    served.advance(REQUEST_TIMEOUT - 0.5)
    assert_normal_client_served(served)
    served.advance(1)
    assert closed_by_peer(silent)
    assert served.count("connections.timed_out") == 1


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(served: Served) -> None:
    client = served.connect()
    for _ in range(2):  # each request ends its own deadline; the connection stays open between them
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_answer(client).body == b"HelloWorld"
        served.advance(IDLE_TIMEOUT - 1)
    assert_normal_client_served(served)
    served.advance(2)
    assert closed_by_peer(client)
    assert served.count("connections.timed_out") == 1


# -- the connection limit ---------------------------------------------------------------------------------


def test_at_the_connection_limit_new_clients_wait_and_are_served_when_a_slot_frees(reactor: Any) -> None:
    served = Served(reactor, max_connections=4)
    try:
        for _ in range(4):
            served.connect()
        served.wait_open(4)
        waiting = served.connect()  # the kernel completes it; the service does not accept it yet
        waiting.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        served.sync()
        assert served.call(lambda: served.site.open_connections) == 4
        assert served.count("connections.open") == 4 and served.count("connections.limit_reached") == 1
        served.advance(REQUEST_TIMEOUT)  # the four silent ones time out: the waiting client is accepted
        answer = read_answer(waiting)
        assert answer.status == 200 and answer.body == b"HelloWorld"
        assert served.count("connections.timed_out") == 4
        assert_normal_client_served(served)
    finally:
        served.close()


def test_a_connection_accepted_beyond_the_limit_gets_a_503() -> None:
    registry = MetricsRegistry()
    site = HelloWorldSite(HelloWorldResource(registry), registry, reactor=Clock(), max_connections=0)
    protocol = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
    transport = StringTransport()
    protocol.makeConnection(transport)
    status_line, _, rest = transport.value().partition(b"\r\n")
    assert status_line == b"HTTP/1.1 503 Service Unavailable" and b"retry-after: 1" in rest
    assert b"too many connections" in rest and transport.disconnecting
    assert registry.snapshot()["connections.refused"]["count"] == 1
    site.reactor.advance(LINGER_TIMEOUT)  # a peer that never closes its side is aborted
    assert transport.disconnected
    held = [site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40001 + n)) for n in range(edge.FD_RESERVE)]
    answered = [protocol for protocol in held if protocol is not None]
    assert 0 < len(answered) < edge.FD_RESERVE // 2  # the rest are closed at once: their descriptors stay free
    assert registry.snapshot()["connections.refused"]["count"] == 1 + edge.FD_RESERVE


def test_the_connection_limit_keeps_descriptors_in_reserve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(edge.rlimits, "getrlimit", lambda _which: (128, 4096))
    assert connection_limit() == 128 - edge.FD_RESERVE
    assert connection_limit(maximum=10) == 10
    monkeypatch.setattr(edge.rlimits, "getrlimit", lambda _which: (edge.rlimits.RLIM_INFINITY,) * 2)
    assert connection_limit() == edge.MAX_CONNECTIONS


# -- bodies -------------------------------------------------------------------------------------------------


@pytest.fixture
def temp_files(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every temporary file Twisted's request would spool a body into."""
    import twisted.web.http

    made: list[object] = []
    real = twisted.web.http.tempfile.TemporaryFile

    def recording(*args: Any, **kwargs: Any) -> Any:
        made.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(twisted.web.http.tempfile, "TemporaryFile", recording)
    return made


def test_a_large_declared_body_is_refused_413_before_it_is_read(served: Served, temp_files: list[object]) -> None:
    client = served.connect()
    client.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\nExpect: 100-continue\r\n\r\n")
    answer = read_answer(client)  # the first answer is the refusal, not "100 Continue"
    assert answer.status == 413 and f"larger than {MAX_BODY_BYTES}" in answer.reason()
    client.sendall(b"x" * 256 * 1024)  # a client that sends its body anyway is drained, not reset at once
    assert_normal_client_served(served)
    assert closed_by_peer(client)
    assert temp_files == []
    assert served.count("responses.413") == served.count("bad_requests") == 1


def test_a_large_chunked_body_is_refused_413_as_it_arrives(served: Served, temp_files: list[object]) -> None:
    client = served.connect()
    client.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (16384, b"y" * 16384)
    for _ in range(MAX_BODY_BYTES // 16384 + 1):
        client.sendall(chunk)
    answer = read_answer(client)
    assert answer.status == 413 and "larger than" in answer.reason()
    assert_normal_client_served(served)
    assert temp_files == [] and served.count("responses.413") == 1


def test_a_small_body_is_read_in_memory_and_the_method_refused(served: Served, temp_files: list[object]) -> None:
    client = served.connect()
    body = b"z" * 2000
    client.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    answer = read_answer(client)
    assert answer.status == 405 and answer.headers[b"allow"] == b"GET, HEAD"
    client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # the connection stayed in step
    assert read_answer(client).body == b"HelloWorld"
    assert temp_files == []


# -- request heads --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "status", "reason"),
    [
        (b"GET /?" + b"a" * MAX_REQUEST_LINE_BYTES + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "request line longer"),
        (b"GET /" + b"a" * (MAX_HEAD_BYTES + 10), 414, "request line longer"),  # no line end at all
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * (MAX_HEAD_BYTES + 10), 431, "header field longer"),
        (b"GET / HTTP/1.1\r\n" + b"X-Big: %s\r\n" % (b"c" * 10000) * 4 + b"\r\n", 431, "request head"),
        (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(MAX_HEADER_FIELDS + 1)) + b"\r\n",
         431, f"more than {MAX_HEADER_FIELDS} header fields"),
        (b"GET / HTTP/1.1\r\nHost x\r\n\r\n", 400, "malformed request"),
        (b"\x00 / HTTP/1.1\r\n\r\n", 400, "malformed request line"),
        (b"GET / HTTP/1.1 x\r\n\r\n", 400, "malformed request line"),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "use HTTP/1.1"),
        (b"GET / HTTP/1.1\r\nContent-Length: 12a\r\n\r\n", 400, "malformed request"),
    ],
    ids=["long-request-line", "unending-request-line", "long-header", "large-head", "many-fields",
         "header-without-colon", "bad-method", "bad-version", "http2-preface", "bad-content-length"],
)
def test_an_oversized_or_malformed_head_is_answered_with_a_reason_and_counted(
    served: Served, raw: bytes, status: int, reason: str
) -> None:
    client = served.connect()
    client.sendall(raw)
    answer = read_answer(client)
    assert answer.status == status and reason in answer.reason()
    assert answer.phrase == {400: b"Bad Request", 414: b"URI Too Long", 431: b"Request Header Fields Too Large",
                             505: b"HTTP Version Not Supported"}[status]
    assert closed_by_peer(client)
    assert_normal_client_served(served)
    assert served.count(f"responses.{status}") == served.count("bad_requests") == 1
    assert served.count("hello_called") == served.count("requests") == 2


# -- targets and methods ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [b"http://host/?world_size=9", b"HTTPS://host:8001/?world_size=9",
                                    b"http://user@host?world_size=9"])
def test_an_absolute_form_target_is_served_like_origin_form(served: Served, target: bytes) -> None:
    answer = served.get(target)
    assert answer.status == 200 and json.loads(answer.body)["max"] == pytest.approx(9, rel=0.01)
    assert served.get(b"http://host").body == b"HelloWorld"
    assert served.get(b"http://host/healthz").body == b"ok"


@pytest.mark.parametrize("path", [b"/", b"/metrics", b"/healthz", b"/nope"])
@pytest.mark.parametrize("method", [b"POST", b"PUT", b"DELETE", b"OPTIONS"])
def test_every_path_refuses_other_methods_with_405_and_counts_them(served: Served, path: bytes, method: bytes) -> None:
    answer = served.get(path, method=method)
    assert answer.status == 405 and answer.headers[b"allow"] == b"GET, HEAD"
    assert "not allowed" in answer.reason()
    assert served.count("responses.405") == served.count("bad_requests") == served.count("hello_called") == 1
    assert served.get(b"/healthz").status == 200 and served.get(b"/metrics").status == 200
    assert served.count("hello_called") == 1  # GET of /healthz and /metrics stays uncounted


# -- logging ------------------------------------------------------------------------------------------------------


def test_timed_out_connections_are_counted_and_logged_once_per_interval(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    twisted_events: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(twisted_events.append)
    try:
        with caplog.at_level(logging.INFO, logger="helloworld.edge"):
            for _ in range(20):
                served.connect()
            served.wait_open(20)
            served.advance(REQUEST_TIMEOUT)
            served.wait_open(0)
            first = [record.getMessage() for record in caplog.records]
            served.advance(LOG_SUMMARY_INTERVAL)
            later = [record.getMessage() for record in caplog.records][len(first):]
    finally:
        globalLogPublisher.removeObserver(twisted_events.append)
    assert served.count("connections.timed_out") == 20
    assert first == ["HTTP connections: 1 closed by the request timeout (next summary in 60s at the earliest)"]
    assert later == ["HTTP connections: 19 closed by the request timeout (next summary in 60s at the earliest)"]
    assert not [event for event in twisted_events if "client" in str(event.get("log_format", ""))]


def test_the_summary_logs_at_most_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    summary = EventSummary(clock, interval=60)
    with caplog.at_level(logging.INFO, logger="helloworld.edge"):
        for _ in range(100):
            summary.note("a")
            clock.advance(1)  # 100 s of one event a second: the first at once, then one line per 60 s
        summary.note("b")
        assert len(caplog.records) == 2
        clock.advance(60)
        clock.advance(60)  # nothing new: no line, and the summary goes quiet
        assert clock.getDelayedCalls() == []
    messages = [record.getMessage() for record in caplog.records]
    assert messages[0].startswith("HTTP connections: 1 a ")
    assert messages[1].startswith("HTTP connections: 59 a ")
    assert messages[2].startswith("HTTP connections: 40 a, 1 b ")


# -- any bytes at all ---------------------------------------------------------------------------------------------

HEADS = st.builds(
    lambda method, target, version, fields, body: b"%s %s %s\r\n%s\r\n%s" % (method, target, version, fields, body),
    st.sampled_from([b"GET", b"HEAD", b"POST", b"PUT", b"get", b"CONNECT", b"OPTIONS", b"G\x00T"]),
    st.one_of(st.sampled_from([b"/", b"/?world_size=3", b"http://h/?world_size=4", b"*", b"/metrics", b"h:1"]),
              st.binary(max_size=40)),
    st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2", b"", b"HTTP/1.1 x"]),
    st.lists(st.sampled_from([b"Host: h\r\n", b"Content-Length: 5\r\n", b"Content-Length: 99999999\r\n",
                              b"Content-Length: -1\r\n", b"Transfer-Encoding: chunked\r\n", b"Expect: 100-continue\r\n",
                              b"Connection: close\r\n", b"X: " + b"v" * 20000 + b"\r\n", b"bad header\r\n",
                              b" folded\r\n"]), max_size=6).map(b"".join),
    st.sampled_from([b"", b"hello", b"5\r\nhello\r\n0\r\n\r\n", b"zz\r\n", b"GET / HTTP/1.1\r\n\r\n"]),
)


@settings(max_examples=300, deadline=None)
@given(raw=st.one_of(st.binary(max_size=2000), HEADS, st.lists(HEADS, min_size=2, max_size=3).map(b"".join)))
def test_any_bytes_get_answers_without_a_5xx_and_keep_the_accounting(raw: bytes) -> None:
    registry = MetricsRegistry()
    site = HelloWorldSite(HelloWorldResource(registry), registry, reactor=Clock())
    channel = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
    transport = StringTransport()
    channel.makeConnection(transport)
    channel.dataReceived(raw)
    site.reactor.advance(IDLE_TIMEOUT + LINGER_TIMEOUT)  # whatever is incomplete or idle by now is closed
    assert transport.disconnecting or transport.disconnected
    statuses = [int(status) for status in re.findall(rb"(?:\A|\n)HTTP/1\.[01] (\d{3}) ", transport.value())]
    assert all(status < 500 or status == 505 for status in statuses), transport.value()[:500]
    counts = {key: int(fields["count"]) for key, fields in registry.snapshot().items() if "count" in fields}
    responses = sum(count for key, count in counts.items() if key.startswith("responses."))
    assert counts["hello_called"] == counts["requests"] == responses
    assert len(statuses) + counts["connections.timed_out"] >= min(1, len(raw))  # said something: answered or timed out
    channel.connectionLost(None)
