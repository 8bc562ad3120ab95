"""Hosted Graphite: the key prefix on every line, where the key comes from, and that it never leaks."""

from __future__ import annotations

import logging
import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest
from carbon_fixture import Sink, sink_fixture  # noqa: F401 - the `sink` fixture

from graphmetrics.registry import MetricsRegistry
from graphmetrics.reporters.hostedgraphite import PORTS, HostedGraphiteReporter, mask_key, resolve_api_key

KEY = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
T0 = 1_700_000_000


@pytest.fixture(autouse=True)
def no_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOSTEDGRAPHITE_API_KEY", raising=False)
    monkeypatch.delenv("HOSTEDGRAPHITE_API_KEY_FILE", raising=False)


def test_every_line_starts_with_the_key(sink: Sink) -> None:
    registry = MetricsRegistry()
    registry.counter("hello_called").inc(2)
    reporter = HostedGraphiteReporter(registry, KEY, "tcp", prefix="helloworld.inst1", host="127.0.0.1", port=sink.port)
    batch = reporter.collect(T0)
    assert reporter.flush(timeout=5) is True
    lines = sink.data(batch.nbytes).decode().splitlines()
    assert f"{KEY}.helloworld.inst1.hello_called.count 2 {T0}" in lines
    assert all(line.startswith(KEY + ".helloworld.inst1.") for line in lines)
    reporter.close()


def test_udp_datagrams_carry_the_key_on_every_line(sink: Sink) -> None:
    registry = MetricsRegistry()
    for i in range(200):
        registry.counter(f"c{i}").inc()
    reporter = HostedGraphiteReporter(registry, KEY, "udp", host="127.0.0.1", port=sink.udp_port)
    reporter.collect(T0)
    reporter.flush()
    deadline = time.monotonic() + 5
    while len(sink.datagrams) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert all(len(d) <= 8192 for d in sink.datagrams)
    assert all(line.startswith(KEY + ".") for d in sink.datagrams for line in d.decode().splitlines())


def test_key_from_argument_then_environment_then_file(tmp_path: Path) -> None:
    key_file = tmp_path / "hg_key"
    key_file.write_text("file-key-0123456789abcdef\n")  # trailing newline, as secrets usually have
    env = {"HOSTEDGRAPHITE_API_KEY": "env-key-0123456789abcdef", "HOSTEDGRAPHITE_API_KEY_FILE": str(key_file)}
    assert resolve_api_key("arg-key-0123456789abcdef", env)[0] == "arg-key-0123456789abcdef"
    assert resolve_api_key(None, env) == ("env-key-0123456789abcdef", "$HOSTEDGRAPHITE_API_KEY")
    del env["HOSTEDGRAPHITE_API_KEY"]
    key, source = resolve_api_key(None, env)
    assert key == "file-key-0123456789abcdef" and str(key_file) in source


def test_reporter_reads_the_key_file_named_in_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "hg_key"
    key_file.write_text(KEY)
    monkeypatch.setenv("HOSTEDGRAPHITE_API_KEY_FILE", str(key_file))
    reporter = HostedGraphiteReporter(MetricsRegistry())
    assert reporter.masked_key == mask_key(KEY)
    assert ":2003" in repr(reporter)


def test_no_key_anywhere_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="HOSTEDGRAPHITE_API_KEY"):
        HostedGraphiteReporter(MetricsRegistry())


def test_unreadable_key_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ValueError, match="nope"):
        resolve_api_key(None, {"HOSTEDGRAPHITE_API_KEY_FILE": str(missing)})


@pytest.mark.parametrize("bad", ["abc def-0123456789abcd", "key\n0123456789abcdef.x 1 1", "a" * 129, "k;ey=1"])
def test_a_key_that_could_break_a_line_is_refused_without_showing_it(bad: str) -> None:
    with pytest.raises(ValueError, match="must be 1-128 characters") as error:
        resolve_api_key(bad, {})
    assert bad not in str(error.value)


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="got 0 characters"):
        resolve_api_key("  \n", {})


def test_mask_keeps_only_the_last_four_characters() -> None:
    assert mask_key(KEY) == "****6789"
    assert mask_key("short") == "****"


def test_key_never_appears_in_repr_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    registry = MetricsRegistry()
    registry.counter("c").inc()
    reporter = HostedGraphiteReporter(registry, KEY, "tcp", "app", host="127.0.0.1", port=dead_port)
    with caplog.at_level(logging.DEBUG):
        batch = reporter.collect(T0)
        reporter.flush()
        reporter.flush(timeout=0.05)
        reporter.close()
    assert caplog.records  # the failure was logged...
    assert KEY not in caplog.text  # ...without the key
    for text in (repr(reporter), str(reporter), repr(batch), repr(reporter._encode), repr(reporter._transport)):
        assert KEY not in text
    assert "****6789" in repr(reporter) and "argument" in repr(reporter)


def test_tls_uses_port_20030_and_verifies_the_host() -> None:
    assert PORTS == {"tcp": 2003, "tls": 20030, "udp": 2003}
    reporter = HostedGraphiteReporter(MetricsRegistry(), KEY, "tls")
    assert "tls://carbon.hostedgraphite.com:20030" in repr(reporter)
    context = reporter._transport.ssl_context  # type: ignore[attr-defined]
    assert context.check_hostname is True


def test_unknown_transport_is_refused() -> None:
    with pytest.raises(ValueError, match="transport"):
        HostedGraphiteReporter(MetricsRegistry(), KEY, "http")


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


def test_tls_keeps_one_verified_connection_across_reports(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []
    connections: list[ssl.SSLSocket] = []

    def serve() -> None:
        raw, _ = listener.accept()
        connection = server_context.wrap_socket(raw, server_side=True)  # TLS 1.3 sends session tickets
        connections.append(connection)
        while data := connection.recv(65536):
            received.append(data)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    registry = MetricsRegistry()
    registry.counter("c").inc()
    reporter = HostedGraphiteReporter(
        registry, KEY, "tls", host="localhost", port=listener.getsockname()[1],
        ssl_context=ssl.create_default_context(cafile=str(cert)),
    )
    total = 0
    for timestamp in (T0, T0 + 10):
        total += reporter.collect(timestamp).nbytes
        assert reporter.flush(timeout=5) is True  # written and acknowledged
        deadline = time.monotonic() + 5
        while sum(map(len, received)) < total and time.monotonic() < deadline:
            time.sleep(0.01)
    lines = b"".join(received).decode().splitlines()
    assert f"{KEY}.c.count 1 {T0}" in lines and f"{KEY}.c.count 1 {T0 + 10}" in lines
    # the session tickets made the socket readable: that is no reason to reconnect (or re-send)
    assert len(connections) == 1 and lines.count(f"{KEY}.c.count 1 {T0}") == 1
    reporter.close()
    listener.close()
    server.join(5)


def test_the_default_transport_is_tls_and_plaintext_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    """Found: the default was plain TCP, so the key crossed the network in clear."""
    with caplog.at_level(logging.WARNING):
        reporter = HostedGraphiteReporter(MetricsRegistry(), KEY)
    assert reporter.transport == "tls" and "tls://carbon.hostedgraphite.com:20030" in repr(reporter)
    assert "in clear" not in caplog.text
    for transport in ("tcp", "udp"):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            HostedGraphiteReporter(MetricsRegistry(), KEY, transport)
        assert "the API key crosses the network in clear" in caplog.text and KEY not in caplog.text


def fragments(text: str, size: int = 3) -> set[str]:
    return {text[i : i + size] for i in range(len(text) - size + 1)}


@pytest.mark.parametrize("bad", ["0a1b2c3d-4e5f-6789-abcd-ef012345678!", "0a1b2c3d 4e5f 6789 abcd ef0123456789",
                                 "x" * 20 + "Zq9" * 50])
def test_an_invalid_key_is_refused_without_any_of_its_characters(bad: str) -> None:
    """Found: the mask of an invalid key showed its last four characters."""
    with pytest.raises(ValueError) as error:
        resolve_api_key(bad, {})
    message = str(error.value)
    assert f"got {len(bad)} characters" in message
    shown = fragments(message) & fragments(bad)
    assert not shown or all(frag in "the Hosted Graphite API key from the api_key argument must be" for frag in shown)
    assert bad[-4:] not in message


def test_a_key_pasted_as_a_host_is_not_echoed() -> None:
    """A config error must not echo a value that looks like a key (here one pasted as the host)."""
    long_key = "a1b2c3d4e5f6a7b8c9d0" * 4  # 80 characters, one 'label': no DNS name
    with pytest.raises(ValueError) as error:
        HostedGraphiteReporter(MetricsRegistry(), KEY, host=long_key)
    assert long_key[:8] not in str(error.value) and long_key[-8:] not in str(error.value)


def test_tls_peer_closing_idle_connections_gets_every_report_once(tls_files: tuple[Path, Path]) -> None:
    """Over TLS too, a peer that closes after reading (an idle timeout) costs a reconnect, no re-send:
    its close_notify is no failure, and nothing it acknowledged goes again."""
    import select

    cert, key = tls_files
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []
    closed: list[int] = []

    def serve() -> None:
        for _ in range(3):
            raw, _ = listener.accept()
            connection = server_context.wrap_socket(raw, server_side=True)
            while select.select([connection], [], [], 0.3)[0] or connection.pending():
                data = connection.recv(65536)
                if not data:
                    break
                received.append(data)
            connection.setblocking(False)
            try:
                connection.unwrap()  # sends close_notify; does not wait for the reporter's
            except (ssl.SSLWantReadError, OSError):
                pass
            connection.close()  # then FIN: an idle timeout
            closed.append(1)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    registry = MetricsRegistry()
    registry.counter("c").inc()
    reporter = HostedGraphiteReporter(registry, KEY, "tls", host="localhost", port=listener.getsockname()[1],
                                      ssl_context=ssl.create_default_context(cafile=str(cert)))
    try:
        for index, timestamp in enumerate((T0, T0 + 10, T0 + 20)):
            reporter.collect(timestamp)
            assert reporter.flush(timeout=5) is True
            deadline = time.monotonic() + 5
            while len(closed) <= index and time.monotonic() < deadline:
                time.sleep(0.02)
        lines = b"".join(received).decode().splitlines()
        assert [lines.count(f"{KEY}.c.count 1 {ts}") for ts in (T0, T0 + 10, T0 + 20)] == [1, 1, 1]
        assert registry.counter("graphmetrics.hostedgraphite.points_resent").get_count() == 0
        assert registry.counter("graphmetrics.hostedgraphite.send_failures").get_count() == 0
    finally:
        reporter.close()
        listener.close()
        server.join(5)
