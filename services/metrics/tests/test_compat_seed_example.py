"""The seed's program (examples/seed_helloworld.py), run as a process against a real carbon-cache
standing in for Hosted Graphite's TCP endpoint: its metrics arrive in Whisper under the API key."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from carbon_fixture import Carbon, carbon_fixture  # noqa: F401 - the `carbon` fixture

pytestmark = pytest.mark.carbon

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "seed_helloworld.py"
KEY = "seedtest-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(name="seed")
def seed_fixture(carbon: Carbon, tmp_path: Path) -> Iterator[str]:
    """The example listening on a free port, reporting to ``carbon``; its base URL."""
    port = free_port()
    env = dict(
        os.environ,
        HOSTEDGRAPHITE_API_KEY=KEY,
        HOSTEDGRAPHITE_HOST="127.0.0.1",
        HOSTEDGRAPHITE_PORT=str(carbon.line_port),
        HOSTEDGRAPHITE_TRANSPORT="tcp",  # a local carbon speaks plaintext, whatever the reporter's default
        PORT=str(port),
    )
    log = tmp_path / "seed.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, str(EXAMPLE)], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the example did not listen:\n{log.read_text()}") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def get(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_the_seed_reports_hello_called_and_world_size_to_carbon(seed: str, carbon: Carbon) -> None:
    get(f"{seed}/?world_size=5")
    answer = get(f"{seed}/?world_size=7")
    assert answer["count"] == 2 and answer["max"] == 7 and answer["min"] == 5
    assert answer["99_percentile"] == 7 and answer["avg"] == 6
    count, size_max = f"{KEY}.hello_called.count", f"{KEY}.world_size.max"
    deadline = time.monotonic() + 40  # a report every 10 s, then carbon's writer
    while time.monotonic() < deadline:
        found = {path: set(carbon.points(path).values()) for path in (count, size_max)}
        if 2.0 in found[count] and 7.0 in found[size_max]:
            break
        time.sleep(0.5)
    assert 2.0 in found[count] and 7.0 in found[size_max], found
