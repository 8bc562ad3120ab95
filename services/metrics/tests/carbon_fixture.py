"""A real carbon-cache for tests (PyPI carbon from this venv, free localhost ports, Whisper in tmp),
and :class:`Sink`, a plain localhost TCP/UDP receiver for tests of what goes on the wire.

No mocks of carbon: reporters talk to the real line and pickle receivers, and tests read what
carbon wrote back from the ``.wsp`` files with the ``whisper`` module. Carbon's writer wakes about
once a second, so reading back polls (with a deadline) until the points are there.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

CARBON_CACHE = Path(sys.executable).parent / "carbon-cache.py"
STEP = 10
"""Seconds per Whisper point of the test schema (``10s:1d``): one report interval."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _shut(sock: socket.socket) -> None:
    """Close a socket another thread is blocked on: ``shutdown`` wakes it (``close`` alone does not)."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class Sink:
    """Accepts TCP connections (and UDP datagrams) on localhost and keeps every byte received."""

    def __init__(self) -> None:
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.tcp.getsockname()[1])
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp_port = int(self.udp.getsockname()[1])
        self.received: list[bytes] = []
        self.datagrams: list[bytes] = []
        self.connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._accept, daemon=True),
                         threading.Thread(target=self._receive_datagrams, daemon=True)]
        for thread in self._threads:
            thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.tcp.accept()
            except OSError:
                return
            self.connections.append(connection)
            threading.Thread(target=self._read, args=(connection,), daemon=True).start()

    def _read(self, connection: socket.socket) -> None:
        while True:
            try:
                data = connection.recv(65536)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self.received.append(data)

    def _receive_datagrams(self) -> None:
        while True:
            try:
                datagram = self.udp.recv(65536)
            except OSError:
                return
            if not datagram:  # shut down
                return
            self.datagrams.append(datagram)

    def data(self, size: int, timeout: float = 10.0) -> bytes:
        """Wait until at least ``size`` bytes arrived (over all connections); return them all."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                data = b"".join(self.received)
            if len(data) >= size or time.monotonic() > deadline:
                return data
            time.sleep(0.01)

    def close_connections(self) -> None:
        for connection in self.connections:
            _shut(connection)

    def close(self) -> None:
        self.close_connections()
        _shut(self.tcp)
        _shut(self.udp)


@pytest.fixture(name="sink")
def sink_fixture() -> Iterator[Sink]:
    server = Sink()
    try:
        yield server
    finally:
        server.close()


class Carbon:
    """One carbon-cache process; ``stop()``/``start()`` may be repeated (same ports, same data)."""

    def __init__(self, root: Path, max_creates_per_minute: str = "inf") -> None:
        """``max_creates_per_minute="0"`` makes carbon parse every point but create no Whisper file."""
        self.root = root
        self.line_port, self.pickle_port, self.udp_port, self.query_port = (_free_port() for _ in range(4))
        self.whisper_dir = root / "storage" / "whisper"
        self.log_file = root / "carbon-stdout.log"
        self._process: subprocess.Popen[bytes] | None = None
        conf = root / "conf"
        for directory in (conf, self.whisper_dir, root / "log", root / "run", root / "storage" / "lists"):
            directory.mkdir(parents=True, exist_ok=True)
        (conf / "storage-schemas.conf").write_text(f"[all]\npattern = .*\nretentions = {STEP}s:1d\n")
        (conf / "storage-aggregation.conf").write_text(
            "[all]\npattern = .*\nxFilesFactor = 0\naggregationMethod = last\n"
        )
        (conf / "carbon.conf").write_text(
            "[cache]\n"
            f"STORAGE_DIR = {root}/storage/\n"
            f"LOCAL_DATA_DIR = {self.whisper_dir}/\n"
            f"WHITELISTS_DIR = {root}/storage/lists/\n"
            f"CONF_DIR = {conf}/\n"
            f"LOG_DIR = {root}/log/\n"
            f"PID_DIR = {root}/run/\n"
            "USER =\n"
            "MAX_CACHE_SIZE = inf\n"
            "MAX_UPDATES_PER_SECOND = inf\n"
            f"MAX_CREATES_PER_MINUTE = {max_creates_per_minute}\n"
            "CACHE_WRITE_STRATEGY = sorted\n"
            "WHISPER_AUTOFLUSH = True\n"
            "LOG_UPDATES = False\nLOG_CREATES = False\nLOG_LISTENER_CONNECTIONS = False\n"
            "ENABLE_TAGS = False\n"
            "CARBON_METRIC_INTERVAL = 0\n"
            "LINE_RECEIVER_INTERFACE = 127.0.0.1\n"
            f"LINE_RECEIVER_PORT = {self.line_port}\n"
            "PICKLE_RECEIVER_INTERFACE = 127.0.0.1\n"
            f"PICKLE_RECEIVER_PORT = {self.pickle_port}\n"
            "ENABLE_UDP_LISTENER = True\n"
            "UDP_RECEIVER_INTERFACE = 127.0.0.1\n"
            f"UDP_RECEIVER_PORT = {self.udp_port}\n"
            "CACHE_QUERY_INTERFACE = 127.0.0.1\n"
            f"CACHE_QUERY_PORT = {self.query_port}\n"
        )

    program = CARBON_CACHE

    def start(self, timeout: float = 30.0) -> None:
        env = dict(os.environ, GRAPHITE_ROOT=str(self.root))
        with open(self.log_file, "ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, str(self.program), f"--config={self.root / 'conf' / 'carbon.conf'}",
                 "--nodaemon", "start"],
                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.root,
            )
        deadline = time.monotonic() + timeout
        for port in (self.line_port, self.pickle_port):
            while True:
                if self._process.poll() is not None:
                    raise RuntimeError(f"carbon-cache exited early:\n{self.log_file.read_text()[-3000:]}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"carbon-cache did not listen on {port}") from None
                    time.sleep(0.05)

    def stop(self, timeout: float = 20.0, graceful: bool = True) -> None:
        """SIGTERM (carbon closes its connections and exits) and wait; ``graceful=False``: SIGKILL."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM if graceful else signal.SIGKILL)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def whisper_file(self, path: str) -> Path:
        return self.whisper_dir.joinpath(*path.split(".")).with_suffix(".wsp")

    def points(self, path: str) -> dict[int, float]:
        """Every non-null point of ``path`` in Whisper, by timestamp (empty if no file yet)."""
        import whisper

        file = self.whisper_file(path)
        if not file.exists():
            return {}
        now = int(time.time())
        try:
            (start, _end, step), values = whisper.fetch(str(file), now - 86000, now + 3600)
        except whisper.CorruptWhisperFile:  # carbon has created the file but not yet written its header
            return {}
        return {start + i * step: v for i, v in enumerate(values) if v is not None}

    def wait_for(self, expected: dict[str, dict[int, float]], timeout: float = 60.0) -> dict[str, dict[int, float]]:
        """Poll Whisper until every expected point is there; return what was found either way."""
        deadline = time.monotonic() + timeout
        while True:
            found = {path: self.points(path) for path in expected}
            complete = all(found[path].get(ts) == value for path, want in expected.items() for ts, value in want.items())
            if complete or time.monotonic() > deadline:
                return found
            time.sleep(0.2)

    def wait_for_paths(self, paths: Iterable[str], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not all(self.whisper_file(p).exists() for p in paths) and time.monotonic() < deadline:
            time.sleep(0.2)


class Aggregator(Carbon):
    """A carbon-aggregator in front of ``cache`` (its pickle port), summing with ``rules``
    (carbon's ``aggregation-rules.conf`` lines). Points older than carbon's default five aggregation
    intervals are still aggregated, so tests may report recent past timestamps."""

    program = Path(sys.executable).parent / "carbon-aggregator.py"

    def __init__(self, root: Path, cache: Carbon, rules: str) -> None:
        super().__init__(root)
        conf = root / "conf"
        (conf / "aggregation-rules.conf").write_text(rules)
        text = (conf / "carbon.conf").read_text().replace("[cache]", "[aggregator]", 1)
        (conf / "carbon.conf").write_text(
            text + f"DESTINATIONS = 127.0.0.1:{cache.pickle_port}\nMAX_AGGREGATION_INTERVALS = 100000\n"
            "FORWARD_ALL = False\n"
        )


def report_interval(reporter: object, counter: object, clock: object, timestamp: int) -> None:
    """One interval of a reporter driven by hand: count, collect at ``timestamp``, flush, advance STEP."""
    counter.inc()  # type: ignore[attr-defined]
    reporter.collect(timestamp)  # type: ignore[attr-defined]
    reporter.flush()  # type: ignore[attr-defined]
    clock.advance(STEP)  # type: ignore[attr-defined]


@pytest.fixture(name="carbon")
def carbon_fixture(tmp_path: Path) -> Iterator[Carbon]:
    if not CARBON_CACHE.exists():
        pytest.skip(f"carbon is not installed ({CARBON_CACHE} missing)")
    server = Carbon(tmp_path / "carbon")
    server.start()
    try:
        yield server
    finally:
        server.stop(graceful=False)
