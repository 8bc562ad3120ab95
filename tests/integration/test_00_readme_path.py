"""The README's path, taken as a newcomer takes it: a fresh clone of the committed tree, no .env, `make up`.

Runs in a clone of HEAD (not in this working tree), under a compose project of its own and on free host ports
given through the README's variables (LB_PORT, GRAPHITE_PORT, GRAFANA_PORT); IMAGE_TAG passes through, so the
images this suite builds are the ones the clone's `make up` builds (one build context, one build cache).
It checks what the README promises: the stack answers through the load balancer, graphite-web lists every
replica's series, `make up` works again when up, after `make down` (the data kept) and after `make clean`
(everything gone), the everyday targets work, and `make scale` refuses more replicas than the load balancer
has slots for. A cheaper test first checks, without Docker, that every target running compose writes .env
before it.
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from stack import ROOT, docker_available, wait_until

NOT_A_NEWCOMERS = ("GRAPHITE_SECRET_KEY", "GRAFANA_ADMIN_PASSWORD", "REPORT_INTERVAL", "LOAD_RATE",
                   "LOAD_MAX_REQUESTS", "LOG_LEVEL", "N", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")
"""Variables of this process that a newcomer's shell does not have: the clone must make its own secrets,
and the outer `make test` must not leak its flags or level into the clone's make. (COMPOSE_* go too.)"""


def newcomers_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in NOT_A_NEWCOMERS and not k.startswith("COMPOSE_")}


def lb_slots() -> int:
    """The server slots of lb's server-template (a count, or a range such as 1-20)."""
    config = (ROOT / "lb" / "haproxy.cfg").read_text()
    match = re.search(r"^\s*server-template\s+\S+\s+(\d+)(?:-(\d+))?\s", config, re.MULTILINE)
    assert match, "no server-template in lb/haproxy.cfg"
    return int(match[2]) - int(match[1]) + 1 if match[2] else int(match[1])


def free_ports(count: int) -> list[int]:
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def project_objects(project: str) -> dict[str, list[str]]:
    """Every container (in any state), volume and network docker has for the compose project."""
    label = f"label=com.docker.compose.project={project}"
    listings = {"containers": ["ps", "-a", "-q", "--filter", label],
                "volumes": ["volume", "ls", "-q", "--filter", label],
                "networks": ["network", "ls", "-q", "--filter", label]}
    return {kind: subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout.split()
            for kind, args in listings.items()}


def remove_project(project: str) -> None:
    """Whatever a failed run left, removed by label (not through the clone's Makefile, which may be the bug)."""
    objects = project_objects(project)
    for kind, command in (("containers", ["rm", "-f", "-v"]), ("networks", ["network", "rm"]),
                          ("volumes", ["volume", "rm", "-f"])):
        if objects[kind]:
            subprocess.run(["docker", *command, *objects[kind]], capture_output=True, check=False)


class Clone:
    """A clone of this repository's HEAD, and `make` run in it the way the README says."""

    def __init__(self, path: Path, log: Path) -> None:
        self.path = path
        self.log = log
        self.project = f"mattt-readme-{os.getpid()}"
        self.lb_port, self.graphite_port, self.grafana_port = free_ports(3)
        self.env = {**newcomers_environment(), "COMPOSE_PROJECT_NAME": self.project, "LB_PORT": str(self.lb_port),
                    "GRAPHITE_PORT": str(self.graphite_port), "GRAFANA_PORT": str(self.grafana_port)}

    def make(self, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["make", *args], cwd=self.path, env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        with self.log.open("a") as log:
            log.write(f"$ make {' '.join(args)}  -> exit {proc.returncode}\n{proc.stdout}{proc.stderr}\n")
        return proc

    def up(self) -> str:
        proc = self.make("up")
        assert proc.returncode == 0, f"make up failed (exit {proc.returncode}); see {self.log}:\n{proc.stderr[-3000:]}"
        return proc.stdout

    def get(self, port: int, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as reply:
                return reply.status, reply.read()
        except OSError as error:
            return getattr(error, "code", 0), b""

    def replicas(self) -> set[str]:
        """The running helloworld replicas' instance names (their hostnames: the short container ids)."""
        out = subprocess.run(
            ["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={self.project}",
             "--filter", "label=com.docker.compose.service=helloworld"], check=True, capture_output=True, text=True)
        ids = out.stdout.split()
        if not ids:
            return set()
        inspect = subprocess.run(["docker", "inspect", *ids], check=True, capture_output=True, text=True)
        return {container["Config"]["Hostname"] for container in json.loads(inspect.stdout)}

    def listed_instances(self) -> set[str]:
        """The instances graphite-web lists with a helloworld.<instance>.hello_called.count series."""
        query = urllib.parse.urlencode({"query": "helloworld.*.hello_called.count", "leavesOnly": "1"})
        status, body = self.get(self.graphite_port, f"/metrics/expand?{query}")
        if status != 200:
            return set()
        return {path.split(".")[1] for path in json.loads(body)["results"]}


def clone_head(path: Path) -> Path:
    """A clone of this repository's committed HEAD (what CI and a newcomer get), not of the working tree."""
    git = ["git", "-c", "safe.directory=*"]
    head = subprocess.run([*git, "-C", str(ROOT), "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()
    subprocess.run([*git, "clone", "--quiet", "--no-checkout", str(ROOT), str(path)], check=True)
    subprocess.run([*git, "-C", str(path), "checkout", "--quiet", "--detach", head], check=True)
    assert not (path / ".env").exists()
    return path


def test_every_target_that_runs_compose_writes_env_first(tmp_path: Path, checked) -> None:
    """compose refuses to run without the secrets of .env: on a fresh clone each such target (every one
    `make help` lists, so a new one is covered too) must write .env before its first compose command."""
    clone = clone_head(tmp_path / "clone")
    env = newcomers_environment()
    listed = subprocess.run(["make", "help"], cwd=clone, env=env, check=True, capture_output=True, text=True)
    targets = re.findall(r"^\s*make (\S+)", listed.stdout, re.MULTILINE)
    composing = []
    for target in targets:
        plan = subprocess.run(["make", "-n", target], cwd=clone, env=env, capture_output=True, text=True).stdout
        lines = plan.splitlines()
        first_compose = next((i for i, line in enumerate(lines) if "docker compose" in line), None)
        if first_compose is None:
            continue
        composing.append(target)
        writes_env = next((i for i, line in enumerate(lines) if "wrote .env" in line), None)
        assert writes_env is not None and writes_env < first_compose, f"make {target} runs compose before .env:\n{plan}"
    assert {"up", "images", "down", "clean", "ps", "logs", "scale", "load", "noload", "up-cluster",
            "down-cluster", "bench-carbon"} <= set(composing)
    checked(f"on a fresh clone, each of the {len(composing)} make targets that run compose writes .env first")


def test_make_up_on_a_fresh_clone_then_again_after_down_and_clean(tmp_path: Path, checked) -> None:
    reason = docker_available()
    if reason:
        pytest.fail(f"the README path needs a Docker engine ({reason}); run `make test`", pytrace=False)
    log = ROOT / ".run" / "readme-path.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text("")
    clone = Clone(clone_head(tmp_path / "clone"), log)
    try:
        # 1. The newcomer's command, exactly.
        out = clone.up()
        assert f"http://127.0.0.1:{clone.lb_port}/" in out and f"http://127.0.0.1:{clone.graphite_port}/" in out
        env_file = clone.path / ".env"
        assert {line.split("=", 1)[0] for line in env_file.read_text().splitlines()} == {
            "GRAFANA_ADMIN_PASSWORD", "GRAPHITE_SECRET_KEY"}
        assert env_file.stat().st_mode & 0o077 == 0, "the secrets file is readable by others"
        assert clone.get(clone.lb_port, "/") == (200, b"HelloWorld")
        assert not (clone.path / ".venv").exists(), "make up built the test venv: it needs none, and it is slow"
        replicas = clone.replicas()
        assert len(replicas) == 3, replicas  # compose.yaml's replicas
        wait_until(lambda: clone.listed_instances() >= replicas, timeout=120, interval=3,
                   what=f"graphite-web to list the series of every replica {sorted(replicas)}")

        # 2. Again, while up: nothing to do, nothing recreated; and the other everyday targets.
        containers = project_objects(clone.project)["containers"]
        clone.up()
        assert sorted(project_objects(clone.project)["containers"]) == sorted(containers)
        for target in (["ps"], ["noload"], ["load"], ["scale", f"N={len(replicas)}"]):
            proc = clone.make(*target)
            assert proc.returncode == 0, f"make {' '.join(target)} failed; see {log}:\n{proc.stderr[-2000:]}"
        assert sorted(project_objects(clone.project)["containers"]) == sorted(containers)

        # 3. More replicas than haproxy has slots for are refused, with the reason; nothing changes.
        too_many = lb_slots() + 1
        proc = clone.make("scale", f"N={too_many}")
        assert proc.returncode != 0 and "server-template" in proc.stderr and f"N={too_many}" in proc.stderr
        assert clone.replicas() == replicas

        # 4. make down stops everything and keeps the data; make up brings the same series back.
        assert clone.make("down").returncode == 0
        objects = project_objects(clone.project)
        assert objects["containers"] == [] and len(objects["volumes"]) >= 1
        clone.up()
        assert clone.get(clone.lb_port, "/") == (200, b"HelloWorld")
        assert clone.listed_instances() >= replicas, "make down lost the Whisper data"

        # 5. make clean leaves nothing: no container, no volume, no network of the project.
        assert clone.make("clean").returncode == 0
        assert project_objects(clone.project) == {"containers": [], "volumes": [], "networks": []}

        # 6. And make up starts from nothing again.
        clone.up()
        assert clone.get(clone.lb_port, "/") == (200, b"HelloWorld")
        assert clone.make("clean").returncode == 0
        assert project_objects(clone.project) == {"containers": [], "volumes": [], "networks": []}
    finally:
        remove_project(clone.project)
    checked("a fresh clone of HEAD with no .env: `make up` wrote .env, served HelloWorld through the lb on the "
            f"LB_PORT given, graphite-web listed all {len(replicas)} replicas' series; `make up` again, after "
            "`make down` (data kept) and after `make clean` (nothing left) worked, so did ps, noload, load and scale; "
            "`make scale` beyond lb's slots was refused")
