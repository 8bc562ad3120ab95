"""Benchmark the reporters: serialise + send 50,000 metrics to a real local carbon-cache.

Measures, per protocol (plaintext vs pickle over TCP): the time to collect a report (read,
flatten, encode, slice by slice), its longest slice, the time to send it (until the kernel took the
last byte), and the bytes per report. Then runs a real Twisted reactor with a 1 ms heartbeat while
the same registry is reported (by a TwistedRunner collecting in slices on the reactor, or by a
ThreadRunner collecting on its own thread, as the TwistedRunner used to) and records the gaps
between heartbeats: how long the reactor was held, and the full garbage collections meanwhile.
Variants run interleaved over rounds, each in a process of its own; the table shows the median and
the best round. It goes between the ``bench-report`` markers of docs/benchmarks.md.

Carbon runs with ``MAX_CREATES_PER_MINUTE = 0``: it receives and parses every point, but does not
create 50,000 Whisper files on this machine's disk while the numbers are taken.

    .venv/bin/python benchmarks/bench_report.py [--quick] [--metrics N] [--rounds N] [--no-write]
"""

from __future__ import annotations

import argparse
import gc
import os
import json
import math
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
from docsection import replace_section  # noqa: E402

from graphmetrics.registry import MetricsRegistry  # noqa: E402
from graphmetrics.reporters.batching import BatchReporter  # noqa: E402
from graphmetrics.reporters.carbon import CarbonReporter  # noqa: E402
from graphmetrics.readout import COUNTER_SLICE, SLICE, flatten  # noqa: E402
from graphmetrics.reporters.transport import MemoryTransport  # noqa: E402
from graphmetrics.reporters.wire import pickle_frames  # noqa: E402
from graphmetrics.runners.twisted import SLICE_BUDGET  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench-report:start -->", "<!-- bench-report:end -->"
PREFIX = "helloworld.inst1"
HOLD_RUNS = {
    "a busy Python thread (control, no reporting)": "control",
    "a ThreadRunner collecting on its thread (the TwistedRunner's former way)": "thread",
    "a TwistedRunner collecting in slices on the reactor": "runner",
    "the same, after `gc.freeze()`": "freeze",
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
    collect, longest, longest_cpu, slices, send, sizes, points = [], [], [], [], [], [], 0
    timestamp = int(time.time()) // 10 * 10 - 600
    for rep in range(reps + 1):  # the first round warms the path caches and the connection
        steps = reporter.collect_slices(timestamp + 10 * rep)
        step_times, step_cpu = [], []
        t0 = time.perf_counter()
        while True:  # as the TwistedRunner drives it, one slice at a time
            s0, c0 = time.perf_counter(), time.thread_time()
            try:
                next(steps)
            except StopIteration as done:
                batch = done.value
                break
            step_times.append(time.perf_counter() - s0)
            step_cpu.append(time.thread_time() - c0)  # without the time another process had the CPU
        t1 = time.perf_counter()
        reporter.flush()  # True only once carbon's TCP acknowledged it all: what is timed here is the writing
        if reporter.pending:
            raise RuntimeError(f"carbon did not take the {protocol} report")
        t2 = time.perf_counter()
        if rep:
            collect.append(t1 - t0)
            longest.append(max(step_times))
            longest_cpu.append(max(step_cpu))
            slices.append(len(step_times))
            send.append(t2 - t1)
            sizes.append(batch.nbytes)
            points = batch.points
    reporter.close()
    return {
        "points": points,
        "collect_ms": statistics.median(collect) * 1000,
        "longest_slice_ms": statistics.median(longest) * 1000,
        "longest_slice_cpu_ms": statistics.median(longest_cpu) * 1000,
        "slices": statistics.median(slices),
        "send_ms": statistics.median(send) * 1000,
        "bytes": statistics.median(sizes),
    }


def full_collections(registry: MetricsRegistry, reports: int) -> dict[str, list[float]]:
    """Durations (ms) of the full garbage collections during ``reports`` pickle reports, collected in
    slices (the reporters' way) and from one whole ``snapshot()`` (the former way), alternately."""
    reporter = BatchReporter(registry, MemoryTransport(), pickle_frames, name="bench_gc", prefix=PREFIX,
                             max_buffer_bytes=1 << 40)
    found: dict[str, list[float]] = {"sliced": [], "one snapshot": []}
    current, started = ["sliced"], [0.0]

    def on_gc(event: str, info: dict[str, int]) -> None:
        if info["generation"] == 2:
            if event == "start":
                started[0] = time.perf_counter()
            else:
                found[current[0]].append((time.perf_counter() - started[0]) * 1000)

    gc.collect()
    gc.callbacks.append(on_gc)
    try:
        for rep in range(reports):
            current[0] = "sliced"
            reporter.collect(rep)
            reporter._buffer.clear()
            current[0] = "one snapshot"
            flat = flatten(registry.snapshot(), PREFIX, None)
            pickle_frames(rep, flat.points)
            del flat
    finally:
        gc.callbacks.remove(on_gc)
    return found


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
    """Heartbeat gaps of a real reactor, alone for 2 s, then for ``seconds`` with ``mode`` running
    (see HOLD_RUNS), and the full (generation 2) garbage collections during those ``seconds``.

    Runs in a process of its own (a reactor runs once per process). The final report of ``stop()``
    comes after the measured window.
    """
    from twisted.internet import reactor, task
    from twisted.internet.defer import maybeDeferred

    from graphmetrics.runners.thread import ThreadRunner
    from graphmetrics.runners.twisted import TwistedRunner

    turns: list[tuple[float, float]] = []

    class TimedRunner(TwistedRunner):
        """Records each collecting turn's CPU time (this thread's: immune to other processes) and wall time."""

        def _next_turn(self, work: Callable[[], None]) -> object:
            def timed() -> None:
                cpu, wall = time.thread_time(), time.perf_counter()
                work()
                turns.append((time.thread_time() - cpu, time.perf_counter() - wall))

            return super()._next_turn(timed)

    registry = build_registry(metrics)
    gc.collect()  # every mode starts without a collection owed by start-up
    if mode == "freeze":
        gc.freeze()  # what helloworld does after start-up: the start-up heap leaves every collection
    gaps: dict[str, list[float]] = {"baseline": [], "runner": [], "stopping": []}
    phase = {"name": "baseline", "last": time.perf_counter()}
    full_gcs: list[float] = []
    gc_started = [0.0]

    def on_gc(event: str, info: dict[str, int]) -> None:
        if info["generation"] == 2 and phase["name"] == "runner":
            if event == "start":
                gc_started[0] = time.perf_counter()
            else:
                full_gcs.append(time.perf_counter() - gc_started[0])

    def beat() -> None:
        now = time.perf_counter()
        gaps[phase["name"]].append(now - phase["last"])
        phase["last"] = now

    reporter = CarbonReporter(registry, "127.0.0.1", port, "pickle", PREFIX, name="bench_reactor")
    heartbeat = task.LoopingCall(beat)
    stoppers: list[Callable[[], object]] = []

    def start_runner() -> None:
        phase["name"] = "runner"
        if mode == "control":
            stoppers.append(busy_thread())
        elif mode == "thread":
            thread_runner = ThreadRunner([reporter], interval=interval)
            thread_runner.start()
            stoppers.append(lambda: thread_runner.stop(deadline=30))  # blocks the reactor: after the window
        else:
            twisted_runner = TimedRunner([reporter], interval=interval, reactor=reactor)
            twisted_runner.start()
            stoppers.append(lambda: twisted_runner.stop(deadline=30))
        reactor.callLater(seconds, finish)

    def finish() -> None:
        phase["name"] = "stopping"
        maybeDeferred(stoppers[0]).addBoth(lambda _: reactor.stop())

    gc.callbacks.append(on_gc)
    heartbeat.start(0.001)
    reactor.callLater(2.0, start_runner)
    reactor.run()
    result = {
        "points_sent": float(registry.counter("graphmetrics.bench_reactor.points_written").get_count()),
        "full_gcs": float(len(full_gcs)),
        "full_gc_max_ms": max(full_gcs, default=0.0) * 1000,
        "turns": float(len(turns)),
        "turn_cpu_max_ms": max((cpu for cpu, _ in turns), default=math.nan) * 1000,
        "turn_wall_max_ms": max((wall for _, wall in turns), default=math.nan) * 1000,
    }
    for name in ("baseline", "runner"):
        ordered = sorted(gaps[name][5:])
        result[f"{name}_max_ms"] = ordered[-1] * 1000
        result[f"{name}_p999_ms"] = ordered[int(len(ordered) * 0.999)] * 1000
        result[f"{name}_p99_ms"] = ordered[int(len(ordered) * 0.99)] * 1000
        result[f"{name}_over_10ms_per_s"] = sum(gap >= 0.010 for gap in ordered) / sum(ordered)
    return result


def run_reactor_hold(port: int, metrics: int, seconds: float, interval: int, mode: str) -> dict[str, float]:
    command = [sys.executable, __file__, "--reactor-hold", str(port), "--metrics", str(metrics),
               "--seconds", str(seconds), "--interval", str(interval), "--mode", mode]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def median_best(runs: list[dict[str, float]], field: str) -> str:
    values = [run[field] for run in runs]
    return f"{statistics.median(values):.1f} ({min(values):.1f})"


def gc_text(durations: list[float]) -> str:
    return f" (longest {max(durations):.0f} ms)" if durations else ""


def table(
    metrics: int, interval: int, seconds: float, protocols: dict[str, dict[str, float]],
    gc_reports: int, collections: dict[str, list[float]], holds: dict[str, list[dict[str, float]]], load: tuple[float, float],
) -> str:
    rounds = len(next(iter(holds.values())))
    rows = [
        f"{metrics:,} metrics (60% counters, 20% gauges, 10% meters, 10% timers: "
        f"{protocols['plaintext']['points']:,.0f} points per report) sent to a local carbon-cache 1.1.10 over "
        f"TCP; medians of the measured reports. Python {platform.python_version()} on {os.cpu_count()} CPUs "
        f"shared with carbon and with whatever else ran: the 1-minute load average was {load[0]:.1f} at the "
        f"start and {load[1]:.1f} at the end (above {os.cpu_count()}, every number here includes waiting for a "
        "CPU).",
        "",
        "| protocol | collect (read + flatten + encode, all slices) | slices | longest slice: CPU (wall) "
        "| send (to the kernel) | bytes per report |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in protocols.items():
        rows.append(
            f"| {name} | {row['collect_ms']:.0f} ms | {row['slices']:,.0f} | {row['longest_slice_cpu_ms']:.2f} ms "
            f"({row['longest_slice_ms']:.2f} ms) "
            f"| {row['send_ms']:.0f} ms | {row['bytes'] / 1e6:.2f} MB |"
        )
    sliced, whole = collections["sliced"], collections["one snapshot"]
    rows += [
        "",
        f"Full garbage collections (generation 2, `gc.callbacks`) in the same process over {gc_reports} "
        f"pickle reports each, alternating, after a `gc.collect()`: collected in slices "
        f"**{len(sliced)}**{gc_text(sliced)}; from one whole `registry.snapshot()` (the former way) "
        f"**{len(whole)}**{gc_text(whole)}.",
        "",
        f"Reactor held: gaps between the calls of a 1 ms `LoopingCall` on a real reactor, alone for 2 s, then "
        f"for {seconds:g} s while something else ran; the runners reported every {interval} s with pickle "
        f"(about {seconds / interval:.0f} reports per run, the final one of `stop()` not counted). Each run in "
        f"a process of its own holding the same registry; {rounds} interleaved round(s); median (best) of "
        "the rounds. 'Full GCs' are the generation-2 collections during the window (`gc.callbacks`).",
        "",
        "| while | reactor alone: longest / p99.9 / p99 ms | then: longest ms | p99.9 ms | p99 ms "
        "| gaps ≥ 10 ms per s | full GCs (longest ms) | points sent |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, runs in holds.items():
        gcs = statistics.median(run["full_gcs"] for run in runs)
        gc_max = statistics.median(run["full_gc_max_ms"] for run in runs)
        rows.append(
            f"| {name} | {statistics.median(r['baseline_max_ms'] for r in runs):.1f} / "
            f"{statistics.median(r['baseline_p999_ms'] for r in runs):.1f} / "
            f"{statistics.median(r['baseline_p99_ms'] for r in runs):.1f} "
            f"| {median_best(runs, 'runner_max_ms')} | {median_best(runs, 'runner_p999_ms')} "
            f"| {median_best(runs, 'runner_p99_ms')} | {median_best(runs, 'runner_over_10ms_per_s')} "
            f"| {gcs:.0f} ({gc_max:.0f}) | {statistics.median(r['points_sent'] for r in runs):,.0f} |"
        )
    sliced_runs = [run for name, runs in holds.items() if HOLD_RUNS[name] in ("runner", "freeze") for run in runs]
    rows += [
        "",
        f"The TwistedRunner's collecting turns, over the {len(sliced_runs)} sliced runs: "
        f"{statistics.median(run['turns'] for run in sliced_runs):,.0f} per run (median); the longest took "
        f"**{statistics.median(run['turn_cpu_max_ms'] for run in sliced_runs):.1f} ms of CPU** (median of the "
        f"runs; {max(run['turn_cpu_max_ms'] for run in sliced_runs):.1f} at worst), "
        f"{statistics.median(run['turn_wall_max_ms'] for run in sliced_runs):.1f} ms of wall time "
        f"({max(run['turn_wall_max_ms'] for run in sliced_runs):.1f} at worst; wall time includes waiting for a CPU "
        "and the garbage collector). That is what collecting holds the reactor for; the heartbeat gaps add "
        "what the machine does besides.",
        "",
        f"The TwistedRunner collects on the reactor thread, a slice at a time ({SLICE} metrics, or {COUNTER_SLICE} "
        "plain counters through the reporter's layout memo), at most "
        f"`slice_budget` ({SLICE_BUDGET * 1000:g} ms) of slices per reactor turn, so the reactor serves its other work between "
        "slices; a slice builds nothing bigger than itself, so a report leaves little to the garbage "
        "collector. Collecting on another thread instead (the ThreadRunner row) holds the GIL for the whole "
        "collect, handing it to the reactor only every 5 ms (`sys.getswitchinterval()`), and its allocations "
        "set off full collections, which stop every thread. On this shared machine the heartbeat gaps are "
        "dominated by CPU contention: the control row shows what any busy thread, and the baseline what "
        "nothing at all, costs on it; compare rows by p99 and gaps per second rather than by the longest gap.",
    ]
    return "\n".join(rows)


def write_section(text: str) -> None:
    section = f"{START}\n## Reporting (`benchmarks/bench_report.py`)\n\n{text}\n{END}"
    replace_section(DOC, START, END, section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 metrics, fewer rounds (for CI)")
    parser.add_argument("--metrics", type=int, default=None, help="number of metrics (default 50,000)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds of the reactor runs (3)")
    parser.add_argument("--no-write", action="store_true", help=f"print only, leave {DOC.name} alone")
    parser.add_argument("--reactor-hold", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--interval", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=sorted(set(HOLD_RUNS.values())), default="runner", help=argparse.SUPPRESS)
    args = parser.parse_args()
    metrics = args.metrics or (10_000 if args.quick else 50_000)
    # three or four reports per reactor run (--quick: 2 s, to finish fast)
    reps, seconds, interval, rounds = (2, 5.0, 2, 1) if args.quick else (5, 16.0, 5, 3)
    seconds = args.seconds or seconds
    interval = args.interval or interval
    rounds = args.rounds or rounds
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
            gc_reports = reps * 2
            collections = full_collections(registry, gc_reports)
            del registry
            holds: dict[str, list[dict[str, float]]] = {name: [] for name in HOLD_RUNS}
            for round_number in range(rounds):
                for name, mode in HOLD_RUNS.items():
                    hold = run_reactor_hold(carbon.pickle_port, metrics, seconds, interval, mode)
                    holds[name].append(hold)
                    print(f"round {round_number + 1} {mode:8s} longest {hold['runner_max_ms']:7.1f} ms  p99.9 "
                          f"{hold['runner_p999_ms']:5.1f} ms  p99 {hold['runner_p99_ms']:5.1f} ms  >=10 ms "
                          f"{hold['runner_over_10ms_per_s']:.2f}/s  full GCs {hold['full_gcs']:.0f} "
                          f"(longest {hold['full_gc_max_ms']:.0f} ms)  turns {hold['turns']:.0f} longest "
                          f"{hold['turn_cpu_max_ms']:.2f} ms CPU, {hold['turn_wall_max_ms']:.2f} ms wall", flush=True)
        finally:
            carbon.stop()
    text = table(metrics, interval, seconds, protocols, gc_reports, collections, holds, (load_start, os.getloadavg()[0]))
    print(text)
    if not args.no_write:
        write_section(text)
        print(f"\nwritten to {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
