"""Wiring and lifecycle: reporters from config, start/stop in memory, and the real process end to end."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from twisted.internet.error import CannotListenError
from twisted.internet.testing import MemoryReactorClock

from graphmetrics.registry import MetricsRegistry
from graphmetrics.reporters.carbon import CarbonReporter
from graphmetrics.reporters.hostedgraphite import HostedGraphiteReporter
from helloworld.config import Config, load_config
from helloworld.edge import FD_RESERVE, REQUEST_TIMEOUT
from helloworld.runtime import LAG_METRIC
from helloworld.service import EXPORT_BUCKETS, HelloWorldService, build_reporters, main

KEY = "0123abcd-4567-89ef-0123-456789abcdef"


def config(**env: str) -> Config:
    return load_config({"INSTANCE": "web-1", **env})


def test_no_reporter_when_carbon_is_disabled_and_no_key() -> None:
    assert build_reporters(config(CARBON_HOST=""), MetricsRegistry()) == []


def test_carbon_reporter_follows_the_config() -> None:
    [reporter] = build_reporters(config(CARBON_HOST="carbon", CARBON_PROTOCOL="plaintext"), MetricsRegistry())
    assert isinstance(reporter, CarbonReporter)
    assert (reporter.protocol, reporter.prefix) == ("plaintext", "helloworld.web-1")
    assert "carbon" in repr(reporter) and "2003" in repr(reporter)


def test_a_key_adds_hosted_graphite_with_the_same_prefix() -> None:
    registry = MetricsRegistry()
    carbon, hosted = build_reporters(
        config(HOSTEDGRAPHITE_API_KEY=KEY, HOSTEDGRAPHITE_TRANSPORT="tls", HOSTEDGRAPHITE_HOST="127.0.0.1",
               HOSTEDGRAPHITE_PORT="20031"),
        registry,
    )
    assert isinstance(carbon, CarbonReporter) and isinstance(hosted, HostedGraphiteReporter)
    assert (hosted.transport, hosted.prefix) == ("tls", "helloworld.web-1")
    assert KEY not in repr(hosted) and "20031" in repr(hosted)
    assert {"graphmetrics.carbon.points_written", "graphmetrics.hostedgraphite.points_written"} <= set(registry.snapshot())


def test_every_reporter_exports_buckets_as_the_one_switch_says() -> None:
    # Fleet percentiles (histogramPercentile in graphite-web) need every replica's bucket series
    reporters = build_reporters(config(HOSTEDGRAPHITE_API_KEY=KEY), MetricsRegistry())
    assert EXPORT_BUCKETS and len(reporters) == 2
    assert all(reporter.export_buckets is EXPORT_BUCKETS for reporter in reporters)


def test_start_listens_and_probes_stop_undoes_both() -> None:
    reactor = MemoryReactorClock()
    service = HelloWorldService(config(LISTEN_PORT="8123"), reactor, reporters=[])
    service.start()
    [(port, site, _backlog, interface)] = reactor.tcpServers
    assert (port, site, interface) == (8123, service.site, "0.0.0.0")
    reactor.advance(0.5)
    assert service.registry.snapshot()[LAG_METRIC]["count"] == 1
    assert "runtime.rss_bytes" in service.registry.snapshot()
    stopped = service.stop()
    assert stopped.called and reactor.getDelayedCalls() == []


def test_bad_configuration_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main({"CARBON_PORT": "carbon"}) == 2
    err = capsys.readouterr().err
    assert err == "helloworld: configuration error: CARBON_PORT='carbon' is invalid: expected a port number\n"


class RefusingReactor(MemoryReactorClock):
    """A reactor whose ``listenTCP`` raises ``error``."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def listenTCP(self, *args: object, **kwargs: object) -> object:  # noqa: N802 - Twisted's name
        raise self.error


def test_only_a_listen_error_is_called_one(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("helloworld.service.configure_logging", lambda level: None)  # no global logging here
    taken = CannotListenError("0.0.0.0", 8123, OSError(98, "Address already in use"))
    assert main({"CARBON_HOST": "", "LISTEN_PORT": "8123"}, reactor=RefusingReactor(taken)) == 1
    assert capsys.readouterr().err == "helloworld: cannot listen on port 8123: [Errno 98] Address already in use\n"
    with pytest.raises(RuntimeError, match="a bug"):  # anything else is a bug: its traceback, not a false reason
        main({"CARBON_HOST": "", "LISTEN_PORT": "8123"}, reactor=RefusingReactor(RuntimeError("a bug")))
    assert "cannot listen" not in capsys.readouterr().err


class LineSink:
    """A plaintext carbon on 127.0.0.1 that keeps every line it receives."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        connection, _ = self.server.accept()
        with connection, connection.makefile("r", encoding="ascii") as stream:
            self.lines.extend(line.rstrip("\n") for line in stream)

    def values(self) -> dict[str, float]:
        return {path: float(value) for path, value, _timestamp in (line.split(" ") for line in self.lines)}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(port: int, target: str, timeout: float = 5) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{target}", timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.fixture
def sink() -> Iterator[LineSink]:
    sink = LineSink()
    yield sink
    sink.server.close()


def test_the_process_serves_then_on_sigterm_sends_a_final_report_and_exits_0(sink: LineSink) -> None:
    port = free_port()
    env = {**os.environ, "CARBON_HOST": "127.0.0.1", "CARBON_PORT": str(sink.port), "CARBON_PROTOCOL": "plaintext",
           "REPORT_INTERVAL": "3600", "INSTANCE": "e2e", "LISTEN_PORT": str(port)}
    process = subprocess.Popen([sys.executable, "-m", "helloworld"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(200):  # wait until it serves (at most ~10 s); the process start is what we wait for
            try:
                assert get(port, "/healthz") == 200
                break
            except OSError:
                time.sleep(0.05)
        statuses = [get(port, target) for target in ("/", "/?world_size=7", "/?world_size=x", "/nope", "/metrics")]
        assert statuses == [200, 200, 400, 404, 200]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
    sink.thread.join(timeout=5)
    stderr = process.stderr.read() if process.stderr else ""
    assert "Traceback" not in stderr
    values = sink.values()
    root = "helloworld.e2e."
    assert values[root + "hello_called.count"] == 4  # healthz and metrics are not counted
    assert values[root + "requests.count"] == 4
    assert (values[root + "responses.200.count"], values[root + "responses.400.count"]) == (2, 1)
    assert (values[root + "bad_requests.count"], values[root + "not_found.count"]) == (1, 1)
    assert values[root + "world_size.max"] == pytest.approx(7, rel=0.01)
    for runtime in ("rss_bytes", "cpu_seconds", "open_fds", "gc_collections", "threads"):
        assert values[f"{root}runtime.{runtime}.value"] > 0
    assert root + "runtime.reactor_lag.count" in values
    assert root + "graphmetrics.carbon.send_failures.count" in values


def test_a_taken_port_exits_1_without_a_traceback() -> None:
    with socket.create_server(("0.0.0.0", 0)) as taken:
        env = {**os.environ, "CARBON_HOST": "", "LISTEN_PORT": str(taken.getsockname()[1])}
        result = subprocess.run([sys.executable, "-m", "helloworld"], env=env, capture_output=True, text=True,
                                timeout=30)
    assert result.returncode == 1
    assert "cannot listen on port" in result.stderr and "Traceback" not in result.stderr


def test_the_module_runs_from_any_directory(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "helloworld"], env={**os.environ, "LISTEN_PORT": "x"},
                            cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and result.stderr.count("\n") == 1


def normal_client(port: int) -> int:
    """GET / as a well-behaved client: a 503 (at the connection limit) is retried after its Retry-After."""
    for _ in range(5):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=REQUEST_TIMEOUT + 10) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            assert error.code == 503 and "too many connections" in json.load(error)["error"], error
            time.sleep(float(error.headers["retry-after"]))
    raise AssertionError("still refused after 5 tries")


def wait_serving(port: int) -> None:
    for _ in range(200):  # the process start is what we wait for (at most ~10 s)
        try:
            assert get(port, "/healthz") == 200
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the service did not start")


def test_under_a_128_descriptor_limit_held_connections_cannot_starve_the_process() -> None:
    """The reported attack, as reported: more half-sent requests than descriptors. Each is answered 408 at
    its deadline, the process keeps descriptors in reserve, and a normal client waits in the listen queue
    for at most a deadline instead of being reset."""
    port = free_port()
    env = {**os.environ, "CARBON_HOST": "", "LISTEN_PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "helloworld"], env=env, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128)),
    )
    attackers: list[socket.socket] = []
    try:
        wait_serving(port)
        for _ in range(100):  # 128 - FD_RESERVE accepted, the rest wait in the listen queue (50)
            attacker = socket.create_connection(("127.0.0.1", port), timeout=5)
            attacker.sendall(b"GET / HTTP/1.1\r\nHo")
            attackers.append(attacker)
        assert normal_client(port) == 200
        accepted_first = attackers[: 128 - FD_RESERVE]  # the listen queue is first in, first out
        assert {attacker.recv(100).split(b" ")[1] for attacker in accepted_first} == {b"408"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            metrics = json.load(response)["metrics"]
        assert metrics["connections.limit_reached"]["count"] >= 1
        assert metrics["connections.timed_out"]["count"] >= 128 - FD_RESERVE
        assert metrics["runtime.open_fds"]["value"] < 128
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        for attacker in attackers:
            attacker.close()
        if process.poll() is None:
            process.kill()
    stderr = process.stderr.read() if process.stderr else ""
    assert "Traceback" not in stderr and "Timing out client" not in stderr and "Could not accept" not in stderr
    assert len([line for line in stderr.splitlines() if "HTTP connections:" in line]) <= 2
