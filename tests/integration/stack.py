"""A private copy of the compose stack for the integration tests, and the ways the tests look into it.

The suite runs the very compose.yaml a user runs, under a project name of its own and with random host
ports, so it never clashes with a `make up` stack on the same machine. testcontainers brings it up and down;
scaling, stopping carbon and reading Whisper use the same `docker compose` CLI with the same project.
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from testcontainers.compose import DockerCompose

ROOT = Path(__file__).resolve().parents[2]
REPORT_INTERVAL = 10  # the stack's schema is 10 s per point; the reporters align to it


def docker_available() -> str | None:
    """None when `docker` and `docker compose` work, else the reason they don't."""
    for cmd in (["docker", "info"], ["docker", "compose", "version"]):
        try:
            subprocess.run(cmd, check=True, capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"`{' '.join(cmd)}` failed: {exc}"
    return None


@dataclass
class Stack:
    project: str
    env: dict[str, str] = field(default_factory=dict)
    compose: DockerCompose | None = None
    lb_url: str = ""
    graphite_url: str = ""

    # -- lifecycle -------------------------------------------------------------------------------
    @classmethod
    def create(cls) -> "Stack":
        project = f"mattt-it-{os.getpid()}"
        env = {
            "COMPOSE_PROJECT_NAME": project,
            "LB_PORT": "", "GRAPHITE_PORT": "", "GRAFANA_PORT": "",  # empty: a random free host port
            "GRAPHITE_SECRET_KEY": secrets.token_urlsafe(48),
            "GRAFANA_ADMIN_PASSWORD": secrets.token_urlsafe(18),
            "REPORT_INTERVAL": str(REPORT_INTERVAL),
            "DOCKER_BUILDKIT": "0", "COMPOSE_DOCKER_CLI_BUILD": "0",
        }
        return cls(project=project, env=env)

    def up(self) -> None:
        os.environ.update(self.env)  # testcontainers runs the compose CLI with this process's environment
        self.compose = DockerCompose(str(ROOT), compose_file_name="compose.yaml", build=True, wait=True,
                                     services=["carbon", "graphite", "helloworld", "lb"])
        self.compose.start()
        self.lb_url = f"http://127.0.0.1:{self.port('lb', 8001)}"
        self.graphite_url = f"http://127.0.0.1:{self.port('graphite', 8080)}"

    def down(self) -> None:
        self.run("--profile", "*", "down", "--volumes", "--remove-orphans", check=False, timeout=180)

    def run(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        cmd = ["docker", "compose", "-p", self.project, "-f", str(ROOT / "compose.yaml"), *args]
        proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **self.env}, capture_output=True, text=True,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def port(self, service: str, container_port: int) -> int:
        out = self.run("port", service, str(container_port)).stdout.strip().splitlines()[0]
        host, _, port = out.rpartition(":")
        assert host in ("127.0.0.1",), f"{service}:{container_port} is published on {host}, not 127.0.0.1"
        return int(port)

    # -- containers --------------------------------------------------------------------------------
    def container_ids(self, service: str, all_states: bool = False) -> list[str]:
        args = ["ps", "-q", *(["-a"] if all_states else []), service]
        return [line for line in self.run(*args).stdout.split() if line]

    def inspect(self, container_id: str) -> dict[str, Any]:
        out = subprocess.run(["docker", "inspect", container_id], check=True, capture_output=True, text=True)
        return json.loads(out.stdout)[0]

    def instances(self) -> list[str]:
        """Instance names of the running helloworld replicas (their hostnames: the short container id)."""
        return sorted(self.inspect(cid)["Config"]["Hostname"] for cid in self.container_ids("helloworld"))

    def exec(self, service: str, *cmd: str, index: int = 1, stdin: str | None = None) -> str:
        args = ["exec", "-T", "--index", str(index), service, *cmd]
        proc = subprocess.run(["docker", "compose", "-p", self.project, "-f", str(ROOT / "compose.yaml"), *args],
                              cwd=ROOT, env={**os.environ, **self.env}, input=stdin, capture_output=True,
                              text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"exec {service} {cmd} failed: {proc.stderr}")
        return proc.stdout

    def exec_in(self, container_id: str, *cmd: str) -> str:
        proc = subprocess.run(["docker", "exec", container_id, *cmd], capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"docker exec {container_id} {cmd} failed: {proc.stderr}")
        return proc.stdout

    # -- traffic ------------------------------------------------------------------------------------
    def get(self, path: str, base: str | None = None, timeout: float = 10) -> tuple[int, bytes]:
        req = urllib.request.Request((base or self.lb_url) + path)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as reply:
                return reply.status, reply.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    # -- graphite ------------------------------------------------------------------------------------
    def render(self, target: str, since: str = "-30min") -> list[dict[str, Any]]:
        query = urllib.parse.urlencode({"target": target, "from": since, "format": "json"})
        status, body = self.get(f"/render?{query}", base=self.graphite_url, timeout=30)
        assert status == 200, f"render {target!r} -> HTTP {status}: {body[:300]!r}"
        return json.loads(body)

    def latest(self, target: str, since: str = "-30min") -> dict[str, float]:
        """The newest non-null value of each series a target returns."""
        result = {}
        for series in self.render(target, since):
            points = [v for v, _ in series["datapoints"] if v is not None]
            if points:
                result[series["target"]] = points[-1]
        return result

    def whisper_fetch(self, path: str, since_seconds: int = 3600) -> list[tuple[int, float | None]]:
        """Read a series straight from its .wsp file inside the carbon container."""
        script = (
            "import json, sys, time, whisper\n"
            "f = '/var/lib/graphite/whisper/' + sys.argv[1].replace('.', '/') + '.wsp'\n"
            "(start, end, step), values = whisper.fetch(f, time.time() - int(sys.argv[2]))\n"
            "print(json.dumps([[start + i * step, v] for i, v in enumerate(values)]))\n"
        )
        out = self.exec("carbon", "python3", "-c", script, path, str(since_seconds))
        return [(int(t), v) for t, v in json.loads(out)]

    def wsp_files(self, prefix: str) -> set[str]:
        out = self.exec("carbon", "find", "/var/lib/graphite/whisper/" + prefix.replace(".", "/"), "-name", "*.wsp")
        base = "/var/lib/graphite/whisper/"
        return {p[len(base):-4].replace("/", ".") for p in out.split()}


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 2.0, what: str = "") -> Any:
    """Poll until predicate() is truthy; return its value or fail with the last value seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what or predicate}: last={last!r}")
        time.sleep(interval)


# -- what the tests measure ----------------------------------------------------------------------------
COUNT = "helloworld.*.hello_called.count"


def send(stack: Stack, n: int, path: str = "/") -> list[int]:
    """n sequential GETs through the load balancer; returns the status codes."""
    return [stack.get(path)[0] for _ in range(n)]


def per_instance(stack: Stack, metric_field: str, since: str = "-60min") -> dict[str, list[tuple[int, float]]]:
    """instance -> its non-null (timestamp, value) points of helloworld.<instance>.<metric_field>."""
    out = {}
    for series in stack.render(f"helloworld.*.{metric_field}", since):
        instance = series["target"].split(".")[1]
        out[instance] = [(int(t), v) for v, t in series["datapoints"] if v is not None]
    return out


def settled_total(stack: Stack, metric_field: str = "hello_called.count", quiet_reports: int = 2) -> float:
    """Sum over every instance (also removed ones) of its newest value, once no series has changed for
    `quiet_reports` report intervals: the cumulative total after everything sent so far was reported."""
    def newest() -> tuple[float, int] | None:
        series = per_instance(stack, metric_field)
        if not series or any(not pts for pts in series.values()):
            return None
        total = sum(pts[-1][1] for pts in series.values())
        last_change = 0
        for pts in series.values():
            for (_, prev), (ts, val) in zip(pts, pts[1:]):
                if val != prev:
                    last_change = max(last_change, ts)
        newest_ts = max(pts[-1][0] for pts in series.values())
        quiet = newest_ts - last_change >= quiet_reports * REPORT_INTERVAL
        return (total, newest_ts) if quiet else None

    return wait_until(newest, timeout=12 * REPORT_INTERVAL, interval=3, what=f"{metric_field} to settle")[0]
