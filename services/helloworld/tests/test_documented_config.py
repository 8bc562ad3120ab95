"""The README's configuration table, held to its promise, by the real process (`python3 -m helloworld`):
every documented variable's bad values stop the start with exit code 2 and one message naming the variable;
every documented good value starts it, and it serves on 127.0.0.1 and stops cleanly on SIGTERM.

Peers stay on this machine: carbon and Hosted Graphite point at a sink on 127.0.0.1 (which reads and drops
what it gets, so the final report on SIGTERM is delivered at once).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[3] / "README.md"
KEY = "0123abcd-4567-89ef-0123-456789abcdef"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def read_all(connection: socket.socket) -> None:
    with connection:
        while connection.recv(65536):
            pass


def accept_all(server: socket.socket) -> None:
    while True:
        try:
            connection, _ = server.accept()
        except OSError:  # closed: the test module is done
            return
        threading.Thread(target=read_all, args=(connection,), daemon=True).start()


@pytest.fixture(scope="module")
def sink() -> Iterator[int]:
    """The port of a TCP peer on 127.0.0.1 that reads everything and keeps nothing."""
    server = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=accept_all, args=(server,), daemon=True).start()
    yield int(server.getsockname()[1])
    server.close()


@dataclass
class Variable:
    good: list[str]
    bad: list[str]
    companions: dict[str, str] = field(default_factory=dict)
    """Other variables set with this one (a key, so the Hosted Graphite variables are used at all)."""


HOSTED = {"HOSTEDGRAPHITE_API_KEY": KEY, "HOSTEDGRAPHITE_HOST": "127.0.0.1", "HOSTEDGRAPHITE_PORT": "{sink}"}

VARIABLES = {
    "CARBON_HOST": Variable(["127.0.0.1", "localhost", "::1", ""], ["carbon host", "a..b", "-carbon",
                                                                    "x" * 64 + ".example", "carbon:2003"]),
    "CARBON_PORT": Variable(["{sink}", "2004"], ["0", "65536", "http", "-1", "²"]),
    "CARBON_PROTOCOL": Variable(["pickle", "plaintext", "udp"], ["http", "tcp"]),
    "REPORT_INTERVAL": Variable(["10", "1", "3600"], ["2.5", "0.5", "0", "-10", "nan", "inf", "soon", "3601"]),
    "METRICS_PREFIX": Variable(["helloworld", "apps.helloworld"], ["hello world", "a..b", ".", "a/b", "x" * 252]),
    "INSTANCE": Variable(["web-1", "replica_3"], ["a.b", "web 1", "x" * 252, "café"]),
    "LISTEN_PORT": Variable(["0", "{free}"], ["-1", "65536", "http", "80 80"]),
    "HOSTEDGRAPHITE_API_KEY": Variable([KEY], ["bad key!", "key;with;semicolons", "-leading-dash"],
                                       {k: v for k, v in HOSTED.items() if k != "HOSTEDGRAPHITE_API_KEY"}),
    "HOSTEDGRAPHITE_API_KEY_FILE": Variable(["{key_file}"], ["{missing_file}", "{bad_key_file}"],
                                            {k: v for k, v in HOSTED.items() if k != "HOSTEDGRAPHITE_API_KEY"}),
    "HOSTEDGRAPHITE_HOST": Variable(["127.0.0.1", "localhost"], ["a..b", "host name"], HOSTED),
    "HOSTEDGRAPHITE_PORT": Variable(["{sink}"], ["0", "70000", "tls"], HOSTED),
    "HOSTEDGRAPHITE_TRANSPORT": Variable(["tcp", "tls", "udp"], ["carrier-pigeon", "https"], HOSTED),
    "LOG_LEVEL": Variable(["debug", "WARNING"], ["loud", "5"]),
}
"""Each documented variable: good values (each starts the process), bad ones (each stops it), companions.
``{sink}``: the sink's port; the TLS case and CARBON_PORT=2004 find nobody there and give up after the stop
deadline. ``{free}``: a free port."""


def documented_variables() -> set[str]:
    """Every variable named in the first column of the README's "Configuration (helloworld)" table."""
    section = README.read_text(encoding="utf-8").split("## Configuration (helloworld)", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", row.split("|")[1])}


def test_the_table_here_is_the_readmes_table() -> None:
    assert documented_variables() == set(VARIABLES)


def cases(kind: str) -> list[tuple[str, str]]:
    return [(name, value) for name, variable in VARIABLES.items() for value in getattr(variable, kind)]


def environment(name: str, value: str, tmp_path: Path, sink: int) -> dict[str, str]:
    """The process environment: ours without any of the service's variables, then this case's."""
    key_file, bad_key_file = tmp_path / "key", tmp_path / "bad-key"
    key_file.write_text(KEY + "\n")
    bad_key_file.write_text("not a key\n")
    listen = free_port()
    fill = {"{sink}": str(sink), "{free}": str(listen), "{key_file}": str(key_file),
            "{bad_key_file}": str(bad_key_file), "{missing_file}": str(tmp_path / "missing")}
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    env.update({"CARBON_HOST": "127.0.0.1", "CARBON_PORT": str(sink), "INSTANCE": "config-test",
                "LISTEN_PORT": str(listen)})
    env.update(VARIABLES[name].companions)
    env[name] = value
    return {k: fill.get(v, v) for k, v in env.items()}


def start(env: dict[str, str]) -> subprocess.CompletedProcess[str] | None:
    """``python3 -m helloworld`` with ``env``, to its exit; None if it was still running after 30 s."""
    try:
        return subprocess.run([sys.executable, "-m", "helloworld"], env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return None


@pytest.fixture(scope="module")
def refused(tmp_path_factory: pytest.TempPathFactory, sink: int) -> dict[tuple[str, str], Any]:
    """Every bad case run as a real process, four at a time (each is an interpreter start, and they add up)."""
    tmp = tmp_path_factory.mktemp("refused")
    envs = {case: environment(*case, tmp, sink) for case in cases("bad")}
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(envs, pool.map(start, envs.values())))


@pytest.mark.parametrize(("name", "value"), cases("bad"))
def test_a_bad_value_stops_the_start_with_exit_2_and_one_message_naming_it(
    name: str, value: str, refused: dict[tuple[str, str], subprocess.CompletedProcess[str] | None]
) -> None:
    result = refused[name, value]
    assert result is not None, "it started (and ran until killed)"
    assert (result.returncode, result.stdout) == (2, "")
    err = result.stderr
    assert err.startswith("helloworld: configuration error: ") and err.count("\n") == 1, err
    assert name in err
    if "API_KEY" in name:
        assert value not in err  # a secret, or a mistyped one, is never echoed


def test_the_issues_fractional_interval_is_refused_by_the_process_before_it_listens() -> None:
    """REPORT_INTERVAL=2.5 used to pass the config, open the port, then exit 1 as "cannot listen"."""
    env = {**os.environ, "CARBON_HOST": "", "REPORT_INTERVAL": "2.5", "LISTEN_PORT": str(free_port())}
    result = subprocess.run([sys.executable, "-m", "helloworld"], env=env, capture_output=True, text=True, timeout=30)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("helloworld: configuration error: REPORT_INTERVAL='2.5' is invalid: ")
    assert "whole number of seconds" in result.stderr and result.stderr.count("\n") == 1


def serving_port(process: subprocess.Popen[bytes], listen_port: str, log: Path, timeout: float = 30) -> int:
    """The port the process serves /healthz on, once it does (LISTEN_PORT=0: read from its start line)."""
    port = int(listen_port) or None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if port is None and (match := re.search(r"listening on 0\.0\.0\.0:(\d+)", log.read_text())):
            port = int(match[1])
        if port is not None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as reply:
                    assert reply.status == 200
                    return port
            except OSError:
                pass
        time.sleep(0.05)
    raise AssertionError(f"not serving after {timeout:g}s (exit {process.poll()}):\n{log.read_text()}")


@pytest.mark.parametrize(("name", "value"), cases("good"))
def test_a_good_value_starts_the_process_which_serves_then_stops_on_sigterm(
    name: str, value: str, tmp_path: Path, sink: int
) -> None:
    env = environment(name, value, tmp_path, sink)
    log = tmp_path / "stderr.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "helloworld"], env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        port = serving_port(process, env["LISTEN_PORT"], log)
        assert env["LISTEN_PORT"] in ("0", str(port))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "Traceback" not in log.read_text() and "configuration error" not in log.read_text()
