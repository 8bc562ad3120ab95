"""End-to-end benchmark: plain vs instrumented HelloWorld under ``wrk``, and p99 while a big report flushes.

Every server runs for the whole benchmark, pinned to one core (``taskset``); ``wrk`` and the carbon sink
run on the other, all on 127.0.0.1. Only the server being measured runs: the others are stopped
(SIGSTOP) meanwhile, so no server's background work (reports, probes) lands in another's numbers, and
no run pays for a server's start. Runs go in rounds, each round through every variant, forwards in even
rounds and backwards in odd ones, so that the machine's drift hits each variant alike; variants that are
compared with each other are compared round by round (paired), and the table shows the median over
rounds. Each round also runs plain and instrumented side by side, both at once on the server core, for
the throughput ratio with the drift taken out. Variants:

- ``plain``: the uninstrumented twisted.web HelloWorld (benchmarks/e2e/plain_server.py);
- ``instrumented``: ``python3 -m helloworld`` reporting every second by pickle to a local discard sink;
- ``instrumented, /?world_size=N``: the histogram path (an update and a JSON snapshot per request);
- ``50k metrics``: the instrumented service with 50,000 extra counters in its registry
  (benchmarks/e2e/flush_server.py), reporting them every second, every 10 s (the stack's interval), or
  never during the run (the control: the same process without a report);
- ``paced``: the same servers under a steady load well below saturation (benchmarks/e2e/paced.lua:
  every connection waits 0-2x ``PACE_MS`` after each answer), so that p99 is the service's own latency
  rather than the queue's, which is where a report being collected would show.

Usage: ``python benchmarks/bench_e2e.py [--quick] [--rounds N] [--no-write]``; results go to
docs/benchmarks.md between the bench-e2e markers (nothing else in that file is touched). Bounded: about
10 minutes with the default 8 rounds, 1.5 minutes with --quick.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from docsection import replace_section

ROOT = Path(__file__).resolve().parent.parent
E2E = Path(__file__).resolve().parent / "e2e"
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench-e2e:start -->", "<!-- bench-e2e:end -->"
SERVER_CPU, LOAD_CPU = "1", "0"
FILLER_METRICS = 50_000
PACED_CONNECTIONS, PACE_MS = 16, 10  # about 1,500 requests/s: a fifth of what one core serves
PACED_SECONDS = 6
STACK_INTERVAL = 10  # the run of the variant reporting at the stack's interval: exactly one report falls in it
SATURATED_SECONDS, WARMUP_SECONDS = 4, 1
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


@dataclass(frozen=True)
class Server:
    """How to start one of the benchmark's servers."""

    command: list[str]
    env: dict[str, str]


@dataclass(frozen=True)
class Variant:
    name: str
    server: str
    """The key of its server in :func:`servers`."""
    script: str | None = None
    paced: bool = False
    seconds: int | None = None
    """Measured seconds, if not the default of its kind (saturated or paced)."""


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    sink_bytes: int
    cpu_us: float
    """Server CPU time (user + system) per request served: robust to other load on a shared machine."""


class DiscardSink:
    """A TCP server on 127.0.0.1 that reads and drops everything (a carbon that costs nothing)."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self.bytes = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._drain, args=(connection,), daemon=True).start()

    def _drain(self, connection: socket.socket) -> None:
        with connection:
            while chunk := connection.recv(1 << 16):
                with self._lock:
                    self.bytes += len(chunk)

    def settle(self, quiet: float = 1.0) -> None:
        """Wait until nothing has arrived for ``quiet`` seconds."""
        while True:
            before = self.bytes
            time.sleep(quiet)
            if self.bytes == before:
                return

    def close(self) -> None:
        self._server.close()


class Running:
    """A server process for the whole benchmark, stopped (SIGSTOP) whenever another one is measured."""

    def __init__(self, name: str, server: Server, sink: DiscardSink) -> None:
        self.name = name
        self.port = free_port()
        env = {**os.environ, **server.env, "LISTEN_PORT": str(self.port), "CARBON_PORT": str(sink.port)}
        command = ["taskset", "-c", SERVER_CPU, sys.executable, *server.command]
        if server.command[0].endswith(".py"):
            command.append(str(self.port))
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until_serving(self.port, self.process)
        self.pause()

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        self.resume()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        stderr = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
        if self.process.returncode not in (0, -signal.SIGTERM):
            print(f"  ! {self.name} exited with {self.process.returncode}:\n{stderr[-2000:]}", file=sys.stderr)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_serving(port: int, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before serving")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/")
            if connection.getresponse().status == 200:
                connection.close()
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} not serving after {timeout:g} s")


def to_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)([a-z]+)", text).groups()  # type: ignore[union-attr]
    return float(number) * UNITS[unit]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parse_wrk(output: str) -> tuple[float, float, float, int, int]:
    """Requests/s, p50 and p99 in ms, errors (socket errors and non-2xx answers) and requests, from wrk."""
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", output).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    p50 = to_ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = to_ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return rps, p50, p99, errors + (int(non_2xx.group(1)) if non_2xx else 0), requests


def wrk(port: int, seconds: int, connections: int, script: str | None) -> str:
    command = ["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        command += ["-s", str(E2E / script)]
    command.append(f"http://127.0.0.1:{port}/")
    env = {**os.environ, "PACE_MS": str(PACE_MS)}
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=seconds + 30, env=env).stdout


def measure(variant: Variant, server: Running, sink: DiscardSink, args: argparse.Namespace) -> Result:
    connections = PACED_CONNECTIONS if variant.paced else args.connections
    seconds = variant.seconds or (PACED_SECONDS if variant.paced else args.seconds)
    server.resume()
    try:
        wrk(server.port, WARMUP_SECONDS, connections, variant.script)
        before, cpu_before = sink.bytes, cpu_seconds(server.process.pid)
        rps, p50, p99, errors, requests = parse_wrk(wrk(server.port, seconds, connections, variant.script))
        cpu_us = (cpu_seconds(server.process.pid) - cpu_before) / max(requests, 1) * 1e6
        return Result(rps, p50, p99, errors, sink.bytes - before, cpu_us)
    finally:
        server.pause()


@dataclass
class HeadToHead:
    """Plain and instrumented served at once, both pinned to the same core, each saturated by its own wrk."""

    rps_ratio: float
    """Instrumented requests/s over plain's, in the same seconds."""
    cpu_ratio: float
    """Plain's CPU per request over instrumented's (each server's own CPU time / its requests)."""


def head_to_head(plain: Running, instrumented: Running, args: argparse.Namespace, swap: bool) -> HeadToHead:
    """Both servers at once on one core: the scheduler gives each about half of it, and whatever else the
    machine does in those seconds slows both alike, so the ratio is free of the drift between runs.
    ``swap`` starts the instrumented server's load first (alternate it: whichever starts first has a
    small edge)."""
    pair = (instrumented, plain) if swap else (plain, instrumented)
    outputs: dict[int, str] = {}

    def load(index: int, seconds: int) -> None:
        outputs[index] = wrk(pair[index].port, seconds, args.connections, None)

    def both(seconds: int) -> None:
        threads = [threading.Thread(target=load, args=(index, seconds)) for index in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    for server in pair:
        server.resume()
    try:
        both(WARMUP_SECONDS)
        cpu_before = [cpu_seconds(server.process.pid) for server in pair]
        both(args.seconds)
        cpu_after = [cpu_seconds(server.process.pid) for server in pair]
    finally:
        for server in pair:
            server.pause()
    rps, requests = [], []
    for index in range(2):
        parsed = parse_wrk(outputs[index])
        rps.append(parsed[0])
        requests.append(max(parsed[4], 1))
    cpu = [(cpu_after[i] - cpu_before[i]) / requests[i] for i in range(2)]
    if swap:
        rps.reverse()
        cpu.reverse()
    return HeadToHead(rps[1] / rps[0], cpu[0] / cpu[1] if cpu[1] else math.nan)


def servers() -> dict[str, Server]:
    service = {"CARBON_HOST": "127.0.0.1", "CARBON_PROTOCOL": "pickle", "REPORT_INTERVAL": "1",
               "INSTANCE": "bench", "LOG_LEVEL": "WARNING"}
    filler = [str(E2E / "flush_server.py")]
    flush = {**service, "FILLER_METRICS": str(FILLER_METRICS)}
    return {
        "plain": Server([str(E2E / "plain_server.py")], {}),
        "plain, second copy": Server([str(E2E / "plain_server.py")], {}),
        "instrumented": Server(["-m", "helloworld"], service),
        "flush 1 s": Server(filler, flush),
        "flush 10 s": Server(filler, {**flush, "REPORT_INTERVAL": "10"}),
        "no report": Server(filler, {**flush, "REPORT_INTERVAL": "3600"}),
    }


K = f"{FILLER_METRICS // 1000}k"
PLAIN, INSTRUMENTED, FLUSH, QUIET = "plain", "instrumented", f"{K} metrics, report every 1 s", f"{K} metrics, no report"
PACED = "paced: "
PACED_FLUSH_10 = f"{PACED}{K} metrics, report every 10 s (the stack's interval)"


def variants() -> list[Variant]:
    return [
        Variant(PLAIN, "plain"),
        Variant(INSTRUMENTED, "instrumented"),
        Variant("instrumented, GET /?world_size=N", "instrumented", script="world_size.lua"),
        Variant(FLUSH, "flush 1 s"),
        Variant(QUIET, "no report"),
        Variant(PACED + INSTRUMENTED, "instrumented", script="paced.lua", paced=True),
        Variant(PACED + FLUSH, "flush 1 s", script="paced.lua", paced=True),
        Variant(PACED_FLUSH_10, "flush 10 s", script="paced.lua", paced=True, seconds=STACK_INTERVAL),
        Variant(PACED + QUIET, "no report", script="paced.lua", paced=True),
    ]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def summarise(runs: list[Result]) -> tuple[Result, Result]:
    """Median and best (highest req/s, lowest latency and CPU) over rounds: interference only makes runs worse."""
    fields = ("rps", "p50_ms", "p99_ms", "errors", "sink_bytes", "cpu_us")
    median = Result(*(statistics.median(getattr(run, f) for run in runs) for f in fields))
    best = Result(max(r.rps for r in runs), *(min(getattr(r, f) for r in runs) for f in fields[1:]))
    return median, best


CONFIDENCE = 0.9


def median_interval(values: list[float], resamples: int = 4000) -> tuple[float, float, float]:
    """The median of ``values`` and a bootstrap ``CONFIDENCE`` interval for it (seeded: reruns agree)."""
    rng = random.Random(1)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples))
    tail = (1 - CONFIDENCE) / 2
    return statistics.median(values), medians[int(tail * resamples)], medians[int((1 - tail) * resamples) - 1]


def paired(results: dict[str, list[Result]], variant: str, control: str, read: Callable[[Result], float],
           combine: Callable[[float, float], float]) -> tuple[float, float, float]:
    """``combine(variant, control)`` round by round: median and its confidence interval."""
    return median_interval([combine(read(a), read(b)) for a, b in zip(results[variant], results[control])])


def p99_verdict(results: dict[str, list[Result]], variant: str, control: str) -> str:
    p99 = [r.p99_ms for r in results[variant]]
    base = [r.p99_ms for r in results[control]]
    diff, low, high = paired(results, variant, control, lambda r: r.p99_ms, lambda a, b: a - b)
    within = "**within noise**" if low <= 0 <= high else "**above noise**" if low > 0 else "below (noise)"
    return (f"p99 **{statistics.median(p99):.2f} ms** vs **{statistics.median(base):.2f} ms**; paired "
            f"difference {diff:+.2f} ms ({CONFIDENCE:.0%} interval {low:+.2f} to {high:+.2f}): {within}")


def report(results: dict[str, list[Result]], duels: list[HeadToHead], same: list[HeadToHead],
           handler_us: dict[str, float], args: argparse.Namespace, elapsed: float) -> str:
    import twisted

    summary = {name: summarise(runs) for name, runs in results.items()}
    rows = ["| variant | req/s median (best) | p50 ms | p99 ms median (best) | server CPU µs/req median (best) "
            "| errors | sent to sink per run |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, (m, b) in summary.items():
        rows.append(f"| {name} | {m.rps:,.0f} ({b.rps:,.0f}) | {m.p50_ms:.2f} | {m.p99_ms:.2f} ({b.p99_ms:.2f}) "
                    f"| {m.cpu_us:.0f} ({b.cpu_us:.0f}) | {m.errors:.0f} | {m.sink_bytes / 1e6:.2f} MB |")
    ratio = lambda a, b: a / b  # noqa: E731
    rps, rps_low, rps_high = paired(results, INSTRUMENTED, PLAIN, lambda r: r.rps, ratio)
    cpu, cpu_low, cpu_high = paired(results, PLAIN, INSTRUMENTED, lambda r: r.cpu_us, ratio)
    flush_rps = paired(results, FLUSH, QUIET, lambda r: r.rps, ratio)[0]
    duel_rps, duel_low, duel_high = median_interval([duel.rps_ratio for duel in duels])
    duel_cpu, duel_cpu_low, duel_cpu_high = median_interval([duel.cpu_ratio for duel in duels])
    same_rps, same_low, same_high = median_interval([duel.rps_ratio for duel in same])
    quiet = summary[QUIET][0]
    added_us = handler_us["instrumented"] - handler_us["plain"]
    plain_cpu = summary[PLAIN][1].cpu_us
    predicted = plain_cpu / (plain_cpu + max(added_us, 0.0))
    in_process = ["| handler, in memory | CPU µs/request (best batch) | vs plain |", "| --- | ---: | ---: |"]
    for name, micros in handler_us.items():
        in_process.append(f"| {name} | {micros:.1f} | {micros / handler_us['plain']:.2f}x |")
    lines = [
        START,
        "## End to end: plain vs instrumented HelloWorld (`make bench-e2e`)",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {cpu_model()} ({os.cpu_count()} cores, shared with other "
        f"work), Python {platform.python_version()}, Twisted {twisted.__version__}. wrk: 1 thread, on core "
        f"{LOAD_CPU}; every server pinned to core {SERVER_CPU}, running for the whole benchmark and stopped "
        f"(SIGSTOP) while another is measured. {args.rounds} round(s), variants forwards and backwards in turn; "
        f"saturated runs: {args.connections} connections, {args.seconds} s; paced runs: {PACED_CONNECTIONS} "
        f"connections each pausing 0-{2 * PACE_MS} ms after every answer, {PACED_SECONDS} s ({STACK_INTERVAL} s for "
        "the variant reporting every 10 s); each after "
        f"{WARMUP_SECONDS} s of warm-up{' (--quick: indicative only)' if args.quick else ''}. Whole run: "
        f"{elapsed:.0f} s; 1-minute load average {args.load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
        "(2.0 means both cores busy).",
        "",
        *rows,
        "",
        f"- **Instrumented vs plain throughput, side by side: {duel_rps:.1%}** ({CONFIDENCE:.0%} interval "
        f"{duel_low:.1%} to {duel_high:.1%}); by CPU per request {duel_cpu:.1%} ({duel_cpu_low:.1%} to "
        f"{duel_cpu_high:.1%}). Goal: at least 97%. Side by side: in each round both servers run at once on the "
        "same core, each saturated by its own wrk, so the scheduler gives each about half of it and whatever "
        "else the machine does in those seconds slows both alike; medians over the rounds, with a bootstrap "
        "interval; which server's load starts first alternates. The method's own resolution: the plain "
        f"server against a second copy of itself, the same way, gave {same_rps:.1%} ({same_low:.1%} to "
        f"{same_high:.1%}). Measured one after the other instead (the plain and instrumented rows above): "
        f"{rps:.1%} ({rps_low:.1%} to {rps_high:.1%}), by CPU per request {cpu:.1%} ({cpu_low:.1%} to "
        f"{cpu_high:.1%}), where the drift between runs is part of the comparison.",
        f"- **p99 while a {FILLER_METRICS:,}-metric report is flushed**, against the same process with no "
        "report during the run (the control), round by round:",
        f"  - at a steady load ({summary[PACED + QUIET][0].rps:,.0f} req/s), a report every 10 s as in the "
        f"stack (one falls in each run): {p99_verdict(results, PACED_FLUSH_10, PACED + QUIET)};",
        f"  - the same, a report every second: {p99_verdict(results, PACED + FLUSH, PACED + QUIET)};",
        f"  - at saturation, a report every second: {p99_verdict(results, FLUSH, QUIET)}; throughput "
        f"{flush_rps:.1%} of the control's. At saturation every CPU cycle a report takes is taken from "
        "requests, so closed-loop latency (connections / throughput) rises with its cost.",
        "  - Goal: p99 unchanged (within noise) while a 50,000-metric report is being flushed. 'Within noise': "
        f"the {CONFIDENCE:.0%} bootstrap interval of the median paired difference contains 0; its width is how "
        "big an effect this machine's noise could hide.",
        f"- The server with {FILLER_METRICS:,} metrics and no report serves {quiet.rps:,.0f} req/s at "
        f"{quiet.cpu_us:.0f} µs per request: holding the metrics costs the requests nothing; reporting them "
        "costs the CPU of the report, which shows in the flushing rows' CPU per request.",
        "- The instrumented variants report by pickle every 1 s (10x the stack's rate; the one marked 10 s at "
        "the stack's) to a local discard sink; 'sent to sink' shows the reports really went out during the "
        "measured window. They collect each report on the reactor thread, in turns of about 0.25 ms between "
        "requests (up to 1 ms when the reactor is saturated; docs/reporting.md).",
        "- Saturated latency under `wrk` is queueing over the connections; compare variants with each other, "
        "not with the stack's latency. On this shared machine wall-clock figures swing by tens of percent "
        "between rounds, which is why variants are compared round by round; CPU per request and the "
        "in-memory figures below are the steadier ones.",
        "",
        "The request handler alone, without sockets (benchmarks/e2e/inprocess.py: raw requests through Twisted's "
        "HTTP parser and the resource on a keep-alive in-memory connection, best of alternating batches):",
        "",
        *in_process,
        "",
        f"- Instrumentation adds **{added_us:.1f} µs** of CPU per request in memory; against the {plain_cpu:.0f} µs "
        f"a plain request costs with real sockets (best round above) that predicts **{predicted:.1%}** of plain "
        "throughput for a server-bound process.",
        END,
    ]
    return "\n".join(lines)


def write_section(section: str) -> None:
    """Replace the bench-e2e section of docs/benchmarks.md (append it if absent); leave the rest as is."""
    replace_section(DOC, START, END, section)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short round (about 1.5 minutes)")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--no-write", action="store_true", help="print the section, do not edit docs/")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    args.seconds = SATURATED_SECONDS
    if args.quick:
        args.rounds = 1
    args.batches = ("3", "1000") if args.quick else ("40", "2000")
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            print(f"bench-e2e: {tool} is not installed (apt-get install {'wrk' if tool == 'wrk' else 'util-linux'})",
                  file=sys.stderr)
            return 2
    if (os.cpu_count() or 1) < 2:
        print("bench-e2e: needs 2 cores (server and load generator on separate cores)", file=sys.stderr)
        return 2
    args.load_before = os.getloadavg()[0]
    os.sched_setaffinity(0, {int(LOAD_CPU)})  # the sink's threads stay off the servers' core
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # killed: still stop the (stopped) servers
    sink = DiscardSink()
    results: dict[str, list[Result]] = {variant.name: [] for variant in variants()}
    duels: list[HeadToHead] = []
    same: list[HeadToHead] = []
    started = time.monotonic()
    running: dict[str, Running] = {}
    try:
        for key, how in servers().items():
            running[key] = Running(key, how, sink)
        sink.settle()  # reports sent while the servers started are not counted in the first runs
        for round_number in range(args.rounds):
            swap = round_number % 2 == 1
            for pair, into in (("instrumented", duels), ("plain, second copy", same)):
                duel = head_to_head(running["plain"], running[pair], args, swap)
                into.append(duel)
                print(f"round {round_number + 1} side by side: {pair}/plain req/s {duel.rps_ratio:.1%}, "
                      f"CPU per request plain/{pair} {duel.cpu_ratio:.1%}", flush=True)
            order = variants() if round_number % 2 == 0 else variants()[::-1]
            for variant in order:
                result = measure(variant, running[variant.server], sink, args)
                results[variant.name].append(result)
                print(f"round {round_number + 1} {variant.name:52s} {result.rps:9,.0f} req/s  p50 {result.p50_ms:6.2f} "
                      f"ms  p99 {result.p99_ms:6.2f} ms  cpu {result.cpu_us:5.0f} us/req  errors {result.errors}  "
                      f"sink {result.sink_bytes / 1e6:.2f} MB", flush=True)
    finally:
        for process in running.values():
            process.stop()
        sink.close()
    handler_us = json.loads(subprocess.run(
        ["taskset", "-c", SERVER_CPU, sys.executable, str(E2E / "inprocess.py"), *args.batches],
        check=True, capture_output=True, text=True, timeout=300,
    ).stdout)
    section = report(results, duels, same, handler_us, args, time.monotonic() - started)
    print("\n" + section)
    if not args.no_write:
        write_section(section)
        print(f"\nwritten to {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
