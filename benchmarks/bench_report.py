"""Benchmark the reporters: serialise + send 50,000 metrics to a real local carbon-cache.

Measures, per protocol (plaintext vs pickle over TCP): the time to collect a report (snapshot,
flatten, encode) and to send it (until the kernel took the last byte), and the bytes per report.
Then runs a real Twisted reactor with a 1 ms heartbeat while a TwistedRunner reports the same
registry every second, and records the longest gap between heartbeats: how long the reactor was
held. The table goes between the ``bench-report`` markers of docs/benchmarks.md.

Carbon runs with ``MAX_CREATES_PER_MINUTE = 0``: it receives and parses every point, but does not
create 50,000 Whisper files on this machine's disk while the numbers are taken.

    .venv/bin/python benchmarks/bench_report.py [--quick] [--metrics N] [--no-write]
"""

from __future__ import annotations

import argparse
import gc
import os
import json
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "services" / "metrics" / "tests"))

from carbon_fixture import Carbon  # noqa: E402

from graphmetrics.registry import MetricsRegistry  # noqa: E402
from graphmetrics.reporters.carbon import CarbonReporter  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench-report:start -->", "<!-- bench-report:end -->"
PREFIX = "helloworld.inst1"
HOLD_RUNS = {
    "a busy Python thread (control, no reporting)": "control",
    "a TwistedRunner reporting": "runner",
    "a TwistedRunner reporting, after `gc.freeze()`": "freeze",
}


def build_registry(metrics: int) -> MetricsRegistry:
    """A service-like mix: 60% counters, 20% gauges, 10% meters, 10% timers (20 samples each)."""
    registry = MetricsRegistry()
    rnd = random.Random(42)
    counters, gauges, meters = int(metrics * 0.6), int(metrics * 0.2), int(metrics * 0.1)
    timers = metrics - counters - gauges - meters
    for i in range(counters):
        registry.counter(f"app.counter_{i}").inc(i)
    for i in range(gauges):
        registry.gauge(f"app.gauge_{i}", i + 0.25)
    for i in range(meters):
        registry.meter(f"app.meter_{i}").mark(3)
    for i in range(timers):
        timer = registry.timer(f"app.timer_{i}")
        for _ in range(20):
            timer.update(rnd.random())
    return registry


def bench_protocol(carbon: Carbon, registry: MetricsRegistry, protocol: str, reps: int) -> dict[str, float]:
    port = carbon.pickle_port if protocol == "pickle" else carbon.line_port
    reporter = CarbonReporter(registry, "127.0.0.1", port, protocol, PREFIX, name=f"bench_{protocol}")
    collect, send, sizes, points = [], [], [], 0
    timestamp = int(time.time()) // 10 * 10 - 600
    for rep in range(reps + 1):  # the first round warms the path caches and the connection
        t0 = time.perf_counter()
        batch = reporter.collect(timestamp + 10 * rep)
        t1 = time.perf_counter()
        if not reporter.flush():
            raise RuntimeError(f"carbon did not take the {protocol} report")
        t2 = time.perf_counter()
        if rep:
            collect.append(t1 - t0)
            send.append(t2 - t1)
            sizes.append(batch.nbytes)
            points = batch.points
    reporter.close()
    return {
        "points": points,
        "collect_ms": statistics.median(collect) * 1000,
        "send_ms": statistics.median(send) * 1000,
        "bytes": statistics.median(sizes),
    }


def busy_thread() -> Callable[[], None]:
    """The control: a thread running plain Python as fast as it can. Returns its stop function."""
    running = [True]

    def burn() -> None:
        total = 0
        while running[0]:
            for i in range(1000):
                total += i

    threading.Thread(target=burn, daemon=True).start()
    return lambda: running.__setitem__(0, False)


def reactor_hold(port: int, metrics: int, seconds: float, interval: int, mode: str) -> dict[str, float]:
    """Heartbeat gaps of a real reactor, alone for 2 s, then for ``seconds`` with ``mode`` running:
    ``runner`` (a TwistedRunner), ``freeze`` (the same after ``gc.freeze()``) or ``control``.

    Runs in a process of its own (a reactor runs once per process).
    """
    from twisted.internet import reactor, task

    from graphmetrics.runners.twisted import TwistedRunner

    registry = build_registry(metrics)
    if mode == "freeze":
        gc.freeze()  # what docs/reporting.md recommends for big registries: the heap built at start-up
    gaps: dict[str, list[float]] = {"baseline": [], "runner": []}
    phase = {"name": "baseline", "last": time.perf_counter()}

    def beat() -> None:
        now = time.perf_counter()
        gaps[phase["name"]].append(now - phase["last"])
        phase["last"] = now

    reporter = CarbonReporter(registry, "127.0.0.1", port, "pickle", PREFIX, name="bench_reactor")
    runner = TwistedRunner([reporter], interval=interval, reactor=reactor)
    heartbeat = task.LoopingCall(beat)

    def start_runner() -> None:
        phase["name"] = "runner"
        if mode == "control":
            stop_burning = busy_thread()
            reactor.callLater(seconds, lambda: (stop_burning(), reactor.stop()))
            return
        runner.start()
        reactor.callLater(seconds, lambda: runner.stop(deadline=30).addCallback(lambda _: reactor.stop()))

    heartbeat.start(0.001)
    reactor.callLater(2.0, start_runner)
    reactor.run()
    result = {"points_sent": float(registry.counter("graphmetrics.bench_reactor.points_sent").get_count())}
    for name, values in gaps.items():
        ordered = sorted(values[5:])
        result[f"{name}_max_ms"] = ordered[-1] * 1000
        result[f"{name}_p99_ms"] = ordered[int(len(ordered) * 0.99)] * 1000
    return result


def run_reactor_hold(port: int, metrics: int, seconds: float, interval: int, mode: str) -> dict[str, float]:
    command = [sys.executable, __file__, "--reactor-hold", str(port), "--metrics", str(metrics),
               "--seconds", str(seconds), "--interval", str(interval), "--mode", mode]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def table(
    metrics: int, interval: int, protocols: dict[str, dict[str, float]], holds: dict[str, dict[str, float]],
    load: tuple[float, float],
) -> str:
    rows = [
        f"{metrics:,} metrics (60% counters, 20% gauges, 10% meters, 10% timers: "
        f"{protocols['plaintext']['points']:,.0f} points per report) sent to a local carbon-cache 1.1.10 over "
        f"TCP; medians of the measured reports. Python {platform.python_version()} on {os.cpu_count()} CPUs "
        f"shared with carbon and with whatever else ran: the 1-minute load average was {load[0]:.1f} at the "
        f"start and {load[1]:.1f} at the end (above {os.cpu_count()}, every number here includes waiting for a "
        "CPU).",
        "",
        "| protocol | collect (snapshot + flatten + encode) | send (to the kernel) | bytes per report |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, row in protocols.items():
        rows.append(
            f"| {name} | {row['collect_ms']:.0f} ms | {row['send_ms']:.0f} ms | {row['bytes'] / 1e6:.2f} MB |"
        )
    rows += [
        "",
        f"Reactor held: gaps between the calls of a 1 ms `LoopingCall` on a real reactor (each run in a "
        f"process of its own holding the same registry), alone for 2 s, then while something else ran; the "
        f"runner reported every {interval} s with pickle.",
        "",
        "| while | reactor alone first: longest / p99 | then: longest / p99 | points sent |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, hold in holds.items():
        rows.append(
            f"| {name} | {hold['baseline_max_ms']:.1f} / {hold['baseline_p99_ms']:.1f} ms "
            f"| {hold['runner_max_ms']:.1f} / {hold['runner_p99_ms']:.1f} ms | {hold['points_sent']:,.0f} |"
        )
    rows += [
        "",
        f"Collecting on the reactor thread would hold it for the whole collect "
        f"({protocols['pickle']['collect_ms']:.0f} ms). The runner collects on a worker thread, so the reactor "
        "only waits for the GIL as it would for any busy thread (the control row), plus the garbage "
        "collector's full collections, which stop every thread and grow with the heap (`gc.freeze()` after "
        "start-up takes the start-up heap out of them), plus CPU contention on this shared machine.",
    ]
    return "\n".join(rows)


def write_section(text: str) -> None:
    section = f"{START}\n## Reporting (`benchmarks/bench_report.py`)\n\n{text}\n{END}"
    current = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if START in current and END in current:
        head, rest = current.split(START, 1)
        _, tail = rest.split(END, 1)
        DOC.write_text(head + section + tail)
    else:
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(current.rstrip("\n") + "\n\n" + section + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 metrics, fewer rounds (for CI)")
    parser.add_argument("--metrics", type=int, default=None, help="number of metrics (default 50,000)")
    parser.add_argument("--no-write", action="store_true", help=f"print only, leave {DOC.name} alone")
    parser.add_argument("--reactor-hold", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--interval", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=sorted(set(HOLD_RUNS.values())), default="runner", help=argparse.SUPPRESS)
    args = parser.parse_args()
    metrics = args.metrics or (10_000 if args.quick else 50_000)
    # the stack's 10 s interval, over three reports (--quick: 2 s, to finish fast)
    reps, seconds, interval = (2, 5.0, 2) if args.quick else (5, 25.0, 10)
    seconds = args.seconds or seconds
    interval = args.interval or interval
    if args.reactor_hold:
        print(json.dumps(reactor_hold(args.reactor_hold, metrics, seconds, interval, args.mode)))
        return

    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        carbon = Carbon(Path(tmp), max_creates_per_minute="0")
        carbon.start()
        try:
            registry = build_registry(metrics)
            protocols = {p: bench_protocol(carbon, registry, p, reps) for p in ("plaintext", "pickle")}
            del registry
            holds = {
                name: run_reactor_hold(carbon.pickle_port, metrics, seconds, interval, mode)
                for name, mode in HOLD_RUNS.items()
            }
        finally:
            carbon.stop()
    text = table(metrics, interval, protocols, holds, (load_start, os.getloadavg()[0]))
    print(text)
    if not args.no_write:
        write_section(text)
        print(f"\nwritten to {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
