"""Capacity benchmark of carbon: a synthetic fleet against one carbon-cache, then against the cluster.

Brings up a private copy of the cluster (compose.yaml + compose.cluster.yaml + benchmarks/carbon/
compose.bench.yaml, project ``mattt-bench-<pid>``, torn down at the end whatever happens), then:

1. pre-creates the Whisper files of the fleet's series (carbon's own schema rules, fallocate), so that
   the load steps measure updates;
2. **creates**: new instances whose series carbon-a has never seen: files created per second;
3. **one cache**: the fleet (benchmarks/carbon/fleet.py: N simulated instances x 1,000 series, each a
   graphmetrics registry + CarbonReporter, plaintext, one report per second) sends straight to carbon-a,
   in steps of increasing N;
4. **cluster**: steps through carbon-c-relay (carbon_ch) to carbon-a and carbon-b.

Per step: points/s offered (fleet), received and committed to Whisper and the cache size (carbon's own
carbon.agents.* metrics, every 2 s here), CPU of each container (cgroup), of kernel threads and of the
machine, pages carbon-cache dirtied (/proc/<pid>/io write_bytes: what writeback writes to disk), and
report-to-queryable latency (a probe instance's report until graphite-web returns it). The fleet reports
every second into a 1 s schema, so that tens of thousands of series make a load one cache cannot keep
up with. The capacity for the reference workload is derived from the costs fitted over carbon's readings
(benchmarks/carbon/report.py), which a busy shared machine changes far less than the rates reached.

Usage: ``python benchmarks/bench_carbon.py [--quick] [--no-write]`` (``make bench-carbon`` builds the
images first). Bounded: 4.5-6 minutes here, 3.5 with --quick. Results replace the bench-carbon section of
docs/capacity.md; raw readings go to .run/bench-carbon/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent / "carbon"
sys.path[:0] = [str(ROOT / "tests" / "integration"), str(HERE)]
from measure import (  # noqa: E402
    LatencyProbe, container_cpu_seconds, delta, disk_writes, kernel_thread_seconds, kernel_threads, machine_cpu, parse_proc_io,
    series_points,
)
from report import write_report  # noqa: E402
from steps import SERIES, STAT_INTERVAL, Step, Target, fmt, summarise  # noqa: E402
from stack import Stack, wait_until  # noqa: E402 - the integration tests' compose helper, reused as it is

RUN = ROOT / ".run" / "bench-carbon"
OVERLAYS = ("compose.cluster.yaml", "benchmarks/carbon/compose.bench.yaml")
SERVICES = ["relay", "carbon-a", "carbon-b", "graphite-a", "graphite-b", "graphite"]
CACHES = {"carbon-a": "a", "carbon-b": "b"}
PREFIX = "bench.fleet"
DRAINED = 20_000  # cache size (points) below which a cache counts as caught up between steps
CREATES_FIRST, CREATES_INSTANCES = 1000, 5  # the creates step: instances numbered past every load step's


class BenchStack(Stack):
    """The integration tests' Stack, pointed at the cluster and bench overlays under a project of its own."""

    @classmethod
    def for_bench(cls) -> "BenchStack":
        base = Stack.create()
        project = f"mattt-bench-{os.getpid()}"
        return cls(project=project, env={**base.env, "COMPOSE_PROJECT_NAME": project, "RELAY_PORT": ""})

    def run(self, *args: str, check: bool = True, timeout: float = 300):  # type: ignore[override]
        overlay = [arg for path in OVERLAYS for arg in ("-f", str(ROOT / path))]
        return super().run(*overlay, "--profile", "cluster", *args, check=check, timeout=timeout)

    def up(self) -> None:
        self.run("up", "-d", "--wait", *SERVICES, timeout=600)
        self.graphite_url = f"http://127.0.0.1:{self.port('graphite', 8080)}"

    def down(self) -> None:
        """Without the 30 s grace a cache gets to write its backlog: the benchmark's data is thrown away."""
        self.run("--profile", "*", "down", "--volumes", "--remove-orphans", "--timeout", "2", check=False,
                 timeout=300)

    def reset_caches(self) -> None:
        """Kill the caches (dropping what a saturating step left in memory) and start them again."""
        self.run("kill", *CACHES)
        self.run("up", "-d", "--wait", *CACHES, timeout=120)

    def container(self, service: str) -> str:
        return self.container_ids(service)[0]

    def python_in(self, service: str, script: Path, stdin: str) -> str:
        proc = subprocess.run(["docker", "exec", "-i", self.container(service), "python3", "-c", script.read_text()],
                              input=stdin, capture_output=True, text=True, timeout=300, check=True)
        return proc.stdout


def bench_carbon_conf() -> None:
    """carbon-cluster.conf as shipped, but carbon's own metrics every STAT_INTERVAL s (mounted by the overlay)."""
    shipped = (ROOT / "carbon" / "cluster" / "carbon-cluster.conf").read_text()
    conf, replaced = re.subn(r"(?m)^CARBON_METRIC_INTERVAL = \d+$", f"CARBON_METRIC_INTERVAL = {STAT_INTERVAL}",
                             shipped)
    if replaced != 1:
        raise RuntimeError("carbon/cluster/carbon-cluster.conf has no single CARBON_METRIC_INTERVAL line")
    RUN.mkdir(parents=True, exist_ok=True)
    (RUN / "carbon-cluster.conf").write_text(conf)


# -- the fleet ---------------------------------------------------------------------------------------------
def probe_path(key: str) -> str:
    return f"bench.probe.{key}.marker.value"


def fleet_command(port: int, first: int, instances: int, seconds: float, names: bool = False) -> list[str]:
    command = [sys.executable, str(HERE / "fleet.py"), "--port", str(port), "--prefix", PREFIX, "--first", str(first),
               "--instances", str(instances), "--series", str(SERIES), "--seconds", str(seconds)]
    return command + (["--names"] if names else [])


def precreate(stack: BenchStack, instances: int) -> dict[str, Any]:
    """Every step's series on carbon-a (the one-cache steps) and, on carbon-b, those carbon_ch gives it."""
    from carbon.hashing import ConsistentHashRing

    out = subprocess.run(fleet_command(0, 0, instances, 0, names=True), check=True, capture_output=True, text=True,
                         timeout=120).stdout
    names = out.split() + [probe_path(key) for key in ("one", "cluster")]
    ring = ConsistentHashRing(list(CACHES.items()))
    on_b = [name for name in names if ring.get_node(name)[0] == "carbon-b"]
    results: dict[str, Any] = {}

    def create(service: str, subset: list[str]) -> None:
        results[service] = json.loads(stack.python_in(service, HERE / "precreate.py", "\n".join(subset)))

    threads = [threading.Thread(target=create, args=args) for args in (("carbon-a", names), ("carbon-b", on_b))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if len(results) != 2:
        raise RuntimeError(f"pre-creating the Whisper files failed: {results}")
    return results


# -- one step ------------------------------------------------------------------------------------------------
def counters(stack: BenchStack, services: list[str], caches: list[str]) -> dict[str, Any]:
    ids = {service: stack.container(service) for service in services}
    return {
        "cpu": {service: container_cpu_seconds(cid) for service, cid in ids.items()},
        "io": {cache: parse_proc_io(stack.exec_in(ids[cache], "cat", "/proc/1/io")) for cache in caches},
        "machine": machine_cpu(),
        "disk": disk_writes(),
        "kernel": kernel_threads(),
    }


def drain(target: Target, timeout: float = 12.0) -> float:
    """Wait (bounded) until every cache of the target has caught up, so a step does not inherit a backlog."""
    started = time.monotonic()

    def caught_up() -> bool:
        try:
            sizes = series_points(target.graphite_url, "carbon.agents.*.cache.size", "-20s")
        except OSError:  # graphite-web times out on a cache too busy to answer carbonlink
            return False
        latest = [points[-1][1] for name, points in sizes.items() if points and any(
            f".carbon-{CACHES[cache]}." in name for cache in target.caches)]
        return len(latest) == len(target.caches) and max(latest) < DRAINED

    try:
        wait_until(caught_up, timeout=timeout, interval=STAT_INTERVAL, what="caches to catch up")
    except AssertionError:
        print(f"  (caches still busy after {timeout:.0f} s: the next step starts with a backlog)", flush=True)
    return time.monotonic() - started


def run_step(stack: BenchStack, target: Target, label: str, first: int, instances: int, seconds: float) -> Step:
    step = Step(target.name, label, instances)
    step.drained_s = drain(target)
    watched = [*target.caches, *(["relay"] if target.relay else []), "graphite-a", "graphite-b", "graphite"]
    before = counters(stack, watched, target.caches)
    probe = LatencyProbe("127.0.0.1", target.port, target.graphite_url, probe_path(target.key))
    step.start = time.time()
    probe.start()
    proc = subprocess.run(fleet_command(target.port, first, instances, seconds), capture_output=True, text=True,
                          timeout=seconds + 120)
    step.latency = probe.stop()
    step.end = time.time()
    after = counters(stack, watched, target.caches)
    if proc.returncode != 0:
        raise RuntimeError(f"fleet failed ({proc.returncode}): {proc.stderr[-2000:]}")
    step.fleet = json.loads(proc.stdout)
    step.cpu_s = delta(after["cpu"], before["cpu"])
    step.io = {cache: delta(after["io"][cache], before["io"][cache]) for cache in target.caches}
    (busy0, total0), (busy1, total1) = before["machine"], after["machine"]
    step.machine_busy = (busy1 - busy0) / max(1, total1 - total0)
    step.disk = {"requests": after["disk"][0] - before["disk"][0], "bytes": after["disk"][1] - before["disk"][1]}
    step.kernel_cpu_s = kernel_thread_seconds(before["kernel"], after["kernel"])
    time.sleep(STAT_INTERVAL + 1)  # carbon's reading of the step's last interval
    try:
        attach_carbon_stats(target, step)
    except OSError as error:  # reported as "no carbon readings in the step"
        print(f"  (carbon's metrics could not be read: {error})", flush=True)
    summarise(step)
    print(f"  {target.name:9s} {label:10s} offered {step.offered:7,.0f} pts/s  committed "
          f"{fmt(step.summary['committed']):>7}/s  cache growth {fmt(step.summary['growth']):>7}/s  "
          f"latency p50 {fmt(step.latency['p50_s'], 2)} s  machine {step.machine_busy:.0%}  "
          f"sustained: {step.summary['verdict']}", flush=True)
    return step


def attach_carbon_stats(target: Target, step: Step) -> None:
    """carbon.agents.<cache>.* (and carbon.relays.relay.*) recorded during the step, as (t, value) lists."""
    since = f"-{int(time.time() - step.start) + 10}s"
    found = {**series_points(target.graphite_url, "carbon.agents.*.*", since, attempts=15),
             **series_points(target.graphite_url, "carbon.agents.*.cache.*", since, attempts=15)}
    step.agents = {cache: {name.split(f"carbon.agents.carbon-{CACHES[cache]}.", 1)[1]: points
                           for name, points in found.items() if f"carbon.agents.carbon-{CACHES[cache]}." in name}
                   for cache in target.caches}
    if target.relay:
        relay = series_points(target.graphite_url, "carbon.relays.relay.*", since, attempts=15)
        step.relay = {name.rsplit(".", 1)[1]: points for name, points in relay.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter steps (about 3.5 minutes)")
    parser.add_argument("--no-write", action="store_true", help="print the section, do not edit docs/")
    parser.add_argument("--one", default="", help="instances per one-cache step, e.g. 20,40,60 (1,000 series each)")
    parser.add_argument("--cluster", default="", help="instances per cluster step, e.g. 20,40")
    parser.add_argument("--seconds", type=float, default=0, help="seconds per step")
    args = parser.parse_args()
    args.one = [int(n) for n in args.one.split(",")] if args.one else ([20, 60] if args.quick else [20, 40, 60])
    args.cluster = [int(n) for n in args.cluster.split(",")] if args.cluster else ([20] if args.quick else [20, 40])
    args.seconds = args.seconds or (20.0 if args.quick else 22.0)
    started = time.monotonic()
    bench_carbon_conf()
    stack = BenchStack.for_bench()
    steps: list[Step] = []
    timings: dict[str, float] = {}
    try:
        print(f"bench-carbon: starting {stack.project} ...", flush=True)
        stack.up()
        timings["up"] = time.monotonic() - started
        one = Target("one cache", "one", stack.port("carbon-a", 2003),
                     f"http://127.0.0.1:{stack.port('graphite-a', 8080)}", ["carbon-a"])
        cluster = Target("cluster", "cluster", stack.port("relay", 2003), stack.graphite_url, list(CACHES), relay=True)
        mark = time.monotonic()
        args.precreated = precreate(stack, max(args.one + args.cluster))
        timings["precreate"] = time.monotonic() - mark
        print(f"bench-carbon: pre-created {args.precreated}", flush=True)
        mark = time.monotonic()
        steps.append(run_step(stack, one, "creates", CREATES_FIRST, CREATES_INSTANCES, 15.0))
        timings["creates"] = time.monotonic() - mark
        for target, counts in ((one, args.one), (cluster, args.cluster)):
            mark = time.monotonic()
            if target is cluster:
                stack.reset_caches()  # the last one-cache step saturates: start the cluster without its backlog
            steps += [run_step(stack, target, f"{n}k series", 0, n, args.seconds) for n in counts]
            timings[target.key] = time.monotonic() - mark
    finally:
        mark = time.monotonic()
        logs = stack.run("logs", "--no-color", "--tail", "100", check=False)
        RUN.mkdir(parents=True, exist_ok=True)
        (RUN / "stack.log").write_text(logs.stdout + logs.stderr)
        stack.down()
        timings["down"] = time.monotonic() - mark
    args.timings = timings
    args.elapsed = time.monotonic() - started
    (RUN / "results.json").write_text(json.dumps([asdict(s) for s in steps], indent=1, default=str))
    section = write_report(steps, args)
    print("\n" + section)
    print(f"\nbench-carbon: {args.elapsed:.0f} s in all ({', '.join(f'{k} {v:.0f} s' for k, v in timings.items())})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
