"""Socket transports against real localhost sockets (no carbon needed)."""

from __future__ import annotations

import os
import socket
import time

import pytest
from carbon_fixture import Sink, sink_fixture  # noqa: F401 - the `sink` fixture

from graphmetrics.reporters.transport import TcpTransport, UdpTransport


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_tcp_sends_everything_on_one_connection(sink: Sink) -> None:
    transport = TcpTransport("127.0.0.1", sink.port)
    transport.send(b"a 1 10\n")
    transport.send(b"b 2 10\n")
    assert sink.data(14) == b"a 1 10\nb 2 10\n"
    assert len(sink.connections) == 1
    transport.close()


def test_a_refused_connection_raises_oserror_and_leaves_no_socket() -> None:
    transport = TcpTransport("127.0.0.1", closed_port(), connect_timeout=1.0)
    with pytest.raises(ConnectionRefusedError):
        transport.send(b"a 1 10\n")
    assert "connected=False" in repr(transport)


def test_peer_close_is_noticed_before_the_next_write(sink: Sink) -> None:
    transport = TcpTransport("127.0.0.1", sink.port)
    transport.send(b"a 1 10\n")
    sink.data(7)
    assert transport.peer_closed() is False
    sink.close_connections()
    deadline = time.monotonic() + 5
    while not transport.peer_closed():  # the FIN travels through the kernel: wait for it, boundedly
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert transport.unacked_bytes() in (0, None)  # still answers for the lost connection
    with pytest.raises(ConnectionError):
        transport.send(b"lost 1 10\n")  # never written to a connection the peer closed
    transport.close()
    assert "connected=False" in repr(transport)
    transport.send(b"b 2 20\n")  # reconnects
    assert sink.data(14).endswith(b"b 2 20\n")
    assert len(sink.connections) == 2


def test_unacked_bytes_drop_to_zero_once_the_peer_has_the_data(sink: Sink) -> None:
    transport = TcpTransport("127.0.0.1", sink.port)
    assert transport.unacked_bytes() is None  # no connection
    transport.send(b"x" * 1000)
    sink.data(1000)
    deadline = time.monotonic() + 5
    while transport.unacked_bytes() not in (0, None):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert transport.unacked_bytes() in (0, None)  # None off Linux


def test_a_hung_peer_costs_at_most_the_send_timeout() -> None:
    # A listener that never accepts nor reads: the kernel buffers fill, then a send takes no byte.
    with socket.create_server(("127.0.0.1", 0)) as hung:
        transport = TcpTransport("127.0.0.1", hung.getsockname()[1], send_timeout=0.2)
        written = 0
        with pytest.raises(TimeoutError):
            for _ in range(64):
                written += transport.send(b"x" * (1 << 20))
        unacked = transport.unacked_bytes()
        assert unacked is None or 0 < unacked <= written  # what the peer's kernel did not take
        transport.close()
        assert "connected=False" in repr(transport)


def test_a_send_to_a_slow_peer_returns_what_it_wrote() -> None:
    with socket.create_server(("127.0.0.1", 0)) as slow:
        transport = TcpTransport("127.0.0.1", slow.getsockname()[1], send_timeout=5)
        written = transport.send(b"x" * (64 << 20))  # more than any kernel buffer takes at once
        assert 0 < written < 64 << 20
        transport.close()


def test_udp_sends_one_datagram_per_message(sink: Sink) -> None:
    transport = UdpTransport("127.0.0.1", sink.udp_port)
    transport.send(b"a 1 10\n")
    transport.send(b"b 2 10\n")
    deadline = time.monotonic() + 5
    while len(sink.datagrams) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sink.datagrams == [b"a 1 10\n", b"b 2 10\n"]
    assert transport.peer_closed() is False and transport.unacked_bytes() is None
    transport.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_a_forked_child_does_not_share_the_parents_connection(sink: Sink) -> None:
    transport = TcpTransport("127.0.0.1", sink.port)
    transport.send(b"parent 1 10\n")
    pid = os.fork()
    if pid == 0:  # the child: its copy must have forgotten the socket, and must not write to it
        os._exit(0 if "connected=False" in repr(transport) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    transport.send(b"parent 2 20\n")  # the parent's connection is intact
    assert sink.data(24) == b"parent 1 10\nparent 2 20\n"
    assert len(sink.connections) == 1


@pytest.mark.parametrize("host", ["a..b", "a" * 64 + ".example.org", "münchen.de", "[carbon]"])
def test_a_host_that_is_no_dns_name_nor_ip_is_refused_at_construction(host: str) -> None:
    """Found: CARBON_HOST=a..b passed, then every send raised UnicodeError (not an OSError): a log flood.
    The rule itself is tested in test_report_transport_checks.py; here, that every transport applies it."""
    from graphmetrics.reporters.carbon import CarbonReporter
    from graphmetrics.registry import MetricsRegistry

    with pytest.raises(ValueError, match="must be an IP address or a DNS name"):
        TcpTransport(host, 2003)
    with pytest.raises(ValueError, match="must be an IP address or a DNS name"):
        UdpTransport(host, 2003)
    with pytest.raises(ValueError, match="must be an IP address or a DNS name"):
        CarbonReporter(MetricsRegistry(), host, 2004)


def test_an_exception_from_resolving_a_host_is_a_connection_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever name resolution raises (the IDNA codec raises UnicodeError) is an OSError to the reporter:
    a send failure with back-off, one warning, not a traceback per attempt."""

    from graphmetrics.clock import ManualClock
    from graphmetrics.registry import MetricsRegistry
    from graphmetrics.reporters.carbon import CarbonReporter

    def broken_resolver(*args: object, **kwargs: object) -> object:
        raise UnicodeError("label empty or too long")

    monkeypatch.setattr(socket, "create_connection", broken_resolver)
    monkeypatch.setattr(socket, "getaddrinfo", broken_resolver)
    with pytest.raises(ConnectionError, match="cannot resolve 'carbon'"):
        TcpTransport("carbon", 2003).send(b"x")
    with pytest.raises(ConnectionError, match="cannot resolve 'carbon'"):
        UdpTransport("carbon", 2003).send(b"x")
    clock = ManualClock(1_700_000_000)
    registry = MetricsRegistry(clock=clock)
    reporter = CarbonReporter(registry, "carbon", 2003, "plaintext", clock=clock)
    reporter.collect(1_700_000_000)
    assert reporter.flush() is False
    assert reporter.retry_in is not None and reporter.retry_in > 0  # backing off
    assert registry.counter("graphmetrics.carbon.send_failures").get_count() == 1
