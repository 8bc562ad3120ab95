"""Session fixture: one private stack for the whole suite, torn down also on failure."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from stack import ROOT, Stack, docker_available  # noqa: E402

CHECKED: list[str] = []


@pytest.fixture(scope="session")
def stack():
    reason = docker_available()
    if reason:
        pytest.fail(f"integration tests need a Docker engine with `docker compose` ({reason}); "
                    "run `make test` (it installs and starts one as root) or start Docker", pytrace=False)
    s = Stack.create()
    try:
        s.up()
        yield s
    finally:
        logs = s.run("--profile", "*", "logs", "--no-color", "--tail", "200", check=False)
        log_file = ROOT / ".run" / "integration-stack.log"
        log_file.parent.mkdir(exist_ok=True)
        log_file.write_text(logs.stdout + logs.stderr)
        s.down()


@pytest.fixture
def checked():
    """Tests append one line each describing what they proved; printed at the end of the run."""
    return CHECKED.append


def pytest_terminal_summary(terminalreporter):
    if CHECKED:
        terminalreporter.section("what the integration suite checked on the real stack")
        for line in CHECKED:
            terminalreporter.write_line(f"- {line}")
