"""Benchmark graphmetrics next to pyformance, prometheus_client and the OpenTelemetry SDK.

One run: nanoseconds per operation for counter increments (pre-fetched and looked up by name),
meter marks, histogram adds for each reservoir, the timer context, four threads hammering one
counter, and the read-out time of a 50,000-metric registry, all in one process next to the floor
of a bare ``self.n += 1`` method call; the memory of that registry is measured per library in a
fresh interpreter (``--memory-worker``). Every time is the best of several interleaved repeats (the
libraries take turns, so background load hits them alike); ratios against the targets of issue 2
are computed from the same run, which takes about a minute (three at most on a busy machine).

    .venv/bin/python benchmarks/bench_lib.py [--quick] [--no-write]

The markdown table is printed and written to docs/benchmarks.md between the ``bench-lib`` markers
(``--quick`` is a smoke run with small counts: its numbers are noisy, do not publish them).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import platform
import random
import subprocess
import sys
import threading
import time
import timeit
import warnings
from collections.abc import Callable, Iterator
from itertools import repeat
from pathlib import Path
from typing import Any

import prometheus_client
import pyformance
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from docsection import replace_section

import graphmetrics.counters as counters_module
import graphmetrics.reservoirs.pending as pending_module
import graphmetrics.timers as timers_module
from graphmetrics import (
    ExpDecayingReservoir,
    MetricsRegistry,
    SlidingTimeWindowReservoir,
)

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench-lib:start -->", "<!-- bench-lib:end -->"
LIBS = ("graphmetrics", "pyformance", "prometheus_client", "OpenTelemetry SDK")
PURE = "graphmetrics, pure Python"
"""The column for graphmetrics without its C speedups (GRAPHMETRICS_PURE_PYTHON), where they apply."""
COLUMNS = ("graphmetrics", PURE, *LIBS[1:])


@contextlib.contextmanager
def pure_python() -> Iterator[None]:
    """Metrics created inside use the pure-Python hot paths, as with GRAPHMETRICS_PURE_PYTHON=1 (each
    sketch and timer picks its implementation when it is created)."""
    saved = pending_module.speedups, timers_module.speedups
    pending_module.speedups = timers_module.speedups = None
    try:
        yield
    finally:
        pending_module.speedups, timers_module.speedups = saved


class Floor:
    """The floor: the cheapest possible counter, a method doing ``self.n += 1`` (not thread-safe)."""

    def __init__(self) -> None:
        self.n = 0

    def inc(self) -> None:
        self.n += 1


def _otel_meter() -> Any:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    return provider.get_meter("bench"), reader


def _latencies(count: int, seed: int = 1) -> list[float]:
    """Request-latency-like values in milliseconds (log-normal around 50 ms)."""
    rng = random.Random(seed)
    return [rng.lognormvariate(math.log(50.0), 1.0) for _ in range(count)]


# -- per-operation timings -----------------------------------------------------------------------


def _per_call(stmt: str, namespace: dict[str, Any], number: int) -> Callable[[], float]:
    timer = timeit.Timer(stmt, globals=namespace)
    return lambda: timer.timeit(number) / number


def _per_value(add: Callable[[float], Any], values: list[float], reset: Callable[[], Any] | None = None
               ) -> Callable[[], float]:
    timer = timeit.Timer("for v in values: add(v)", globals={"values": values, "add": add})

    def run() -> float:
        seconds = timer.timeit(1) / len(values)
        if reset is not None:
            reset()  # a 60 s window at benchmark speed would otherwise hold every value of every round
        return seconds

    return run


def operation_cases(number: int) -> dict[str, dict[str, Callable[[], float]]]:
    """``{operation: {library: run() -> seconds per operation}}``."""
    values = _latencies(number)
    floor = Floor()

    ours = MetricsRegistry()
    counter, meter, histogram, timer = ours.counter("c"), ours.meter("m"), ours.histogram("h"), ours.timer("t")
    decaying = ours.histogram("hd", reservoir=ExpDecayingReservoir())
    window = ours.histogram("hw", reservoir=SlidingTimeWindowReservoir(60.0))
    ours.counter("by.name")
    with pure_python():
        pure_histogram, pure_timer = ours.histogram("pure.h"), ours.timer("pure.t")
    pure_counter = counters_module._PyCount()  # a Counter's base, as without the speedups

    pyf = pyformance.MetricsRegistry()
    pyf_counter, pyf_meter, pyf_hist, pyf_timer = pyf.counter("c"), pyf.meter("m"), pyf.histogram("h"), pyf.timer("t")
    pyf.counter("by.name")

    prom = prometheus_client.CollectorRegistry()
    prom_counter = prometheus_client.Counter("c", "c", registry=prom)
    prom_family = prometheus_client.Counter("by_name", "by name", ["name"], registry=prom)
    prom_hist = prometheus_client.Histogram("h", "h", registry=prom)

    otel, _ = _otel_meter()
    otel_counter, otel_hist = otel.create_counter("c"), otel.create_histogram("h")

    ns = {
        "floor": floor,
        "counter": counter,
        "meter": meter,
        "timer": timer,
        "pure_timer": pure_timer,
        "pure_counter": pure_counter,
        "registry": ours,
        "pyf": pyf,
        "pyf_counter": pyf_counter,
        "pyf_meter": pyf_meter,
        "pyf_timer": pyf_timer,
        "prom_counter": prom_counter,
        "prom_family": prom_family,
        "prom_hist": prom_hist,
        "otel_counter": otel_counter,
    }
    return {
        "floor: bare `self.n += 1` method call": {"graphmetrics": _per_call("floor.inc()", ns, number)},
        "counter inc (pre-fetched)": {
            "graphmetrics": _per_call("counter.inc()", ns, number),
            PURE: _per_call("pure_counter.inc()", ns, number),
            "pyformance": _per_call("pyf_counter.inc()", ns, number),
            "prometheus_client": _per_call("prom_counter.inc()", ns, number),
            "OpenTelemetry SDK": _per_call("otel_counter.add(1)", ns, number),
        },
        "counter inc, looked up by name": {
            "graphmetrics": _per_call("registry.counter('by.name').inc()", ns, number),
            "pyformance": _per_call("pyf.counter('by.name').inc()", ns, number),
            "prometheus_client": _per_call("prom_family.labels('x').inc()", ns, number),
        },
        "meter mark": {
            "graphmetrics": _per_call("meter.mark()", ns, number),
            "pyformance": _per_call("pyf_meter.mark()", ns, number),
        },
        "histogram add (default: log-bucket sketch)": {
            "graphmetrics": _per_value(histogram.update, values),
            PURE: _per_value(pure_histogram.update, values),
            "pyformance": _per_value(pyf_hist.add, values),
            "prometheus_client": _per_value(prom_hist.observe, values),
            "OpenTelemetry SDK": _per_value(otel_hist.record, values),
        },
        "histogram add (exp. decaying reservoir)": {"graphmetrics": _per_value(decaying.update, values)},
        "histogram add (sliding 60 s window)": {"graphmetrics": _per_value(window.update, values, window.clear)},
        "timer context (`with t.time():`)": {
            "graphmetrics": _per_call("with timer.time(): pass", ns, number),
            PURE: _per_call("with pure_timer.time(): pass", ns, number),
            "pyformance": _per_call("with pyf_timer.time(): pass", ns, number),
            "prometheus_client": _per_call("with prom_hist.time(): pass", ns, number),
        },
    }


def run_operations(number: int, repeats: int) -> dict[str, dict[str, float]]:
    cases = operation_cases(number)
    best: dict[str, dict[str, float]] = {op: {} for op in cases}
    for _ in range(repeats):  # interleaved: every library runs once per round
        for op, libs in cases.items():
            for lib, run in libs.items():
                seconds = run()
                best[op][lib] = min(best[op].get(lib, math.inf), seconds)
    return best


# -- contention ----------------------------------------------------------------------------------


def contended(inc: Callable[[], Any], read: Callable[[], float], threads: int, per_thread: int) -> tuple[float, float]:
    """(increments per second, final count) for ``threads`` threads incrementing one counter."""
    start = threading.Barrier(threads + 1)

    def work() -> None:
        start.wait()
        for _ in repeat(None, per_thread):
            inc()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    return threads * per_thread / elapsed, read()


def run_contention(per_thread: int) -> dict[str, tuple[float, float]]:
    floor = Floor()
    ours = MetricsRegistry().counter("c")
    pyf = pyformance.MetricsRegistry().counter("c")
    prom = prometheus_client.Counter("c", "c", registry=None)
    return {
        "graphmetrics": contended(ours.inc, ours.get_count, 4, per_thread),
        "pyformance": contended(pyf.inc, pyf.get_count, 4, per_thread),
        "prometheus_client": contended(prom.inc, lambda: prom._value.get(), 4, per_thread),
        "floor (`self.n += 1`)": contended(floor.inc, lambda: floor.n, 4, per_thread),
    }


# -- the 50,000-metric mix -----------------------------------------------------------------------


def mix_counts(total: int) -> tuple[int, int, int, int]:
    counters, histograms, meters = total * 6 // 10, total * 2 // 10, total // 10
    return counters, histograms, meters, total - counters - histograms - meters


def recorder(metric: Any, ours: str, pyformances: str) -> Callable[[float], Any]:
    """The method that records a value: graphmetrics' spelling if the metric has it, else pyformance's."""
    method = getattr(metric, ours, None)
    return getattr(metric, pyformances) if method is None else method


def build_registry(registry: Any, total: int, samples: list[float]) -> None:
    """Fill a graphmetrics or a pyformance registry with the same metrics and values."""
    counters, histograms, meters, timers = mix_counts(total)
    for i in range(counters):
        registry.counter(f"app.group{i % 100}.counter{i}").inc(i % 7 + 1)
    for i in range(histograms):
        add = recorder(registry.histogram(f"app.group{i % 100}.histogram{i}"), "update", "add")
        for value in samples:
            add(value)
    for i in range(meters):
        registry.meter(f"app.group{i % 100}.meter{i}").mark()
    for i in range(timers):
        update = recorder(registry.timer(f"app.group{i % 100}.timer{i}"), "update", "_update")  # seconds in both
        for value in samples:
            update(value / 1000.0)


def build_ours(total: int, samples: list[float]) -> Callable[[], Any]:
    registry = MetricsRegistry()
    build_registry(registry, total, samples)
    return registry.snapshot


def build_pyformance(total: int, samples: list[float]) -> Callable[[], Any]:
    registry = pyformance.MetricsRegistry()
    build_registry(registry, total, samples)
    return registry.dump_metrics


def build_prometheus(total: int, samples: list[float]) -> Callable[[], Any]:
    """One family per type with a ``name`` label per series: registering 50,000 separate families
    is quadratic in prometheus_client (each registration copies every registered name)."""
    counters, histograms, meters, timers = mix_counts(total)
    registry = prometheus_client.CollectorRegistry()
    counter = prometheus_client.Counter("app_counter", "c", ["name"], registry=registry)
    histogram = prometheus_client.Histogram("app_histogram", "h", ["name"], registry=registry)
    meter = prometheus_client.Counter("app_meter", "m", ["name"], registry=registry)  # no meter type
    timer = prometheus_client.Histogram("app_timer_seconds", "t", ["name"], registry=registry)
    for i in range(counters):
        counter.labels(f"group{i % 100}.counter{i}").inc(i % 7 + 1)
    for i in range(histograms):
        observe = histogram.labels(f"group{i % 100}.histogram{i}").observe
        for value in samples:
            observe(value)
    for i in range(meters):
        meter.labels(f"group{i % 100}.meter{i}").inc()
    for i in range(timers):
        observe = timer.labels(f"group{i % 100}.timer{i}").observe
        for value in samples:
            observe(value / 1000.0)
    return lambda: prometheus_client.generate_latest(registry)


def build_otel(total: int, samples: list[float]) -> Callable[[], Any]:
    """One instrument per type with a ``name`` attribute per series, as OpenTelemetry intends."""
    counters, histograms, meters, timers = mix_counts(total)
    meter, reader = _otel_meter()
    counter, histogram = meter.create_counter("app.counter"), meter.create_histogram("app.histogram")
    marks, timer = meter.create_counter("app.meter"), meter.create_histogram("app.timer", unit="s")
    for i in range(counters):
        counter.add(i % 7 + 1, {"name": f"group{i % 100}.counter{i}"})
    for i in range(histograms):
        attributes = {"name": f"group{i % 100}.histogram{i}"}
        for value in samples:
            histogram.record(value, attributes)
    for i in range(meters):
        marks.add(1, {"name": f"group{i % 100}.meter{i}"})
    for i in range(timers):
        attributes = {"name": f"group{i % 100}.timer{i}"}
        for value in samples:
            timer.record(value / 1000.0, attributes)
    return reader.get_metrics_data


BUILDERS: dict[str, Callable[[int, list[float]], Callable[[], Any]]] = {
    "graphmetrics": build_ours,
    "pyformance": build_pyformance,
    "prometheus_client": build_prometheus,
    "OpenTelemetry SDK": build_otel,
}


def _rss() -> int:
    """This process's resident set size in bytes (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_worker(lib: str, total: int, samples: int) -> None:
    """In a fresh interpreter: print (JSON) how much the resident set grows while filling ``lib``'s mix."""
    values = _latencies(samples, seed=2)
    gc.collect()
    before = _rss()
    read_out = BUILDERS[lib](total, values)
    gc.collect()
    print(json.dumps({"memory_mb": (_rss() - before) / 1e6}))
    del read_out


def run_mix(total: int, samples: int, libs: tuple[str, ...], rounds: int) -> dict[str, dict[str, float]]:
    """Per library: the memory its filled registry takes (resident set growth, each library in a
    fresh interpreter so none inherits another's freed memory), and its best read-out time of
    ``rounds`` interleaved rounds in this process (reading changes nothing stored, so every
    read-out does the same work)."""
    results: dict[str, dict[str, float]] = {}
    for lib in libs:
        print(f"        {lib}: memory", file=sys.stderr, flush=True)
        worker = subprocess.run(
            [sys.executable, __file__, "--memory-worker", lib, "--mix", str(total), "--samples", str(samples)],
            capture_output=True,
            text=True,
            check=True,
        )
        results[lib] = {**json.loads(worker.stdout.splitlines()[-1]), "read_s": math.inf}
    values = _latencies(samples, seed=2)
    read_outs = {lib: BUILDERS[lib](total, values) for lib in libs}
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            for lib, read_out in read_outs.items():
                began = time.perf_counter()
                read_out()
                results[lib]["read_s"] = min(results[lib]["read_s"], time.perf_counter() - began)
    finally:
        gc.enable()
    return results


# -- report --------------------------------------------------------------------------------------


def _ns(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    ns = seconds * 1e9
    return f"{ns:,.0f} ns" if ns < 10_000 else f"{ns / 1000:,.1f} µs"


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def render(ops: dict[str, dict[str, float]], contention: dict[str, tuple[float, float]],
           mix: dict[str, dict[str, float]], args: argparse.Namespace) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on Python {platform.python_version()} "
        f"({platform.python_implementation()}, {platform.machine()}, {platform.system()}, {os.cpu_count()} CPUs, "
        f"load average {args.load:.1f} at the start), "
        f"pyformance {pyformance.__version__ if hasattr(pyformance, '__version__') else '0.4'}, "
        f"prometheus_client {_version('prometheus_client')}, opentelemetry-sdk {_version('opentelemetry-sdk')}. "
        f"Command: `{' '.join(['.venv/bin/python', 'benchmarks/bench_lib.py', *sys.argv[1:]])}` "
        f"({args.number:,} operations per measurement, best of {args.repeats} interleaved rounds; "
        "timings include the loop, about 10 ns, for every library alike).",
        "",
        "| operation | " + " | ".join(COLUMNS) + " |",
        "|---|" + "---:|" * len(COLUMNS),
    ]
    for op, libs in ops.items():
        lines.append(f"| {op} | " + " | ".join(_ns(libs.get(lib)) for lib in COLUMNS) + " |")
    lines += ["", f"Four threads incrementing one shared counter, {args.per_thread:,} times each:", "",
              "| counter | increments/s | final count | exact |", "|---|---:|---:|---|"]
    expected = 4 * args.per_thread
    for lib, (rate, count) in contention.items():
        lines.append(f"| {lib} | {rate:,.0f} | {count:,.0f} of {expected:,} | {'yes' if count == expected else 'no'} |")
    c, h, m, t = mix_counts(args.mix)
    lines += ["", f"A {args.mix:,}-metric registry ({c:,} counters, {h:,} histograms and {t:,} timers with "
              f"{args.samples} values each, {m:,} meters). Memory is how much the resident set grows while "
              "filling it, each library in a fresh interpreter; the read-out, best of "
              f"{args.mix_rounds} interleaved rounds, is `snapshot()` (graphmetrics), `dump_metrics()` "
              "(pyformance), `generate_latest()` (prometheus_client, one family per type with a `name` "
              "label) and `get_metrics_data()` (OpenTelemetry, one instrument per type with a `name` "
              "attribute):", "",
              "| library | memory | read-out |",
              "|---|---:|---:|"]
    for lib, r in mix.items():
        lines.append(f"| {lib} | {r['memory_mb']:,.1f} MB | {r['read_s'] * 1000:,.0f} ms |")

    floor = ops["floor: bare `self.n += 1` method call"]["graphmetrics"]
    counter = ops["counter inc (pre-fetched)"]["graphmetrics"]
    hist = ops["histogram add (default: log-bucket sketch)"]
    timer = ops["timer context (`with t.time():`)"]
    ours_mix, pyf_mix = mix["graphmetrics"], mix["pyformance"]
    memory = ours_mix["memory_mb"] / pyf_mix["memory_mb"]
    ours_threads = contention["graphmetrics"]
    checks = [
        ("counter inc ≤ 1.5× the floor", f"{counter / floor:.2f}×", counter / floor <= 1.5),
        ("counter exact under 4 threads", f"{ours_threads[1]:,.0f} of {expected:,}", ours_threads[1] == expected),
        ("histogram add ≥ 5× faster than pyformance", f"{hist['pyformance'] / hist['graphmetrics']:.2f}×",
         hist["pyformance"] / hist["graphmetrics"] >= 5),
        ("histogram add faster than prometheus_client", f"{hist['prometheus_client'] / hist['graphmetrics']:.2f}×",
         hist["prometheus_client"] > hist["graphmetrics"]),
        ("timer context ≥ 5× faster than pyformance", f"{timer['pyformance'] / timer['graphmetrics']:.2f}×",
         timer["pyformance"] / timer["graphmetrics"] >= 5),
        ("mix memory ≤ ⅓ of pyformance's", f"{memory:.2f}", memory <= 1 / 3),
        ("mix read-out time ≤ pyformance's", f"{ours_mix['read_s'] / pyf_mix['read_s']:.2f}×",
         ours_mix["read_s"] <= pyf_mix["read_s"]),
    ]
    lines += ["", "Targets of issue 2, as ratios from this run:", "", "| target | measured | |", "|---|---:|---|"]
    lines += [f"| {name} | {value} | {_verdict(ok)} |" for name, value, ok in checks]
    lines += ["", f"Without the C speedups ({PURE}): histogram add "
              f"{hist['pyformance'] / hist[PURE]:.2f}× and timer context {timer['pyformance'] / timer[PURE]:.2f}× "
              "faster than pyformance."]
    lines += ["", "Where the time goes, and what was tried: [library.md](library.md#performance)."]
    return "\n".join(lines)


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def write_section(text: str) -> None:
    section = f"{START}\n## Library (`benchmarks/bench_lib.py`)\n\n{text}\n{END}"
    replace_section(DOC, START, END, section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small counts, noisy numbers")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave docs/benchmarks.md alone")
    parser.add_argument("--memory-worker", metavar="LIBRARY", choices=LIBS, help=argparse.SUPPRESS)
    parser.add_argument("--mix", type=int, default=50_000, help=argparse.SUPPRESS)
    parser.add_argument("--samples", type=int, default=100, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_worker:
        memory_worker(args.memory_worker, args.mix, args.samples)
        return
    args.number, args.repeats, args.per_thread, args.mix, args.samples, args.mix_rounds = (
        (20_000, 2, 50_000, 2_000, 100, 2) if args.quick else (100_000, 7, 1_000_000, 50_000, 100, 2)
    )
    args.load = os.getloadavg()[0]
    warnings.simplefilter("ignore")  # OpenTelemetry warns about nothing we measure
    began = time.perf_counter()

    def phase(name: str) -> None:
        print(f"[{time.perf_counter() - began:5.0f} s] {name}", file=sys.stderr, flush=True)

    phase("operations")
    ops = run_operations(args.number, args.repeats)
    phase("four threads on one counter")
    contention = run_contention(args.per_thread)
    phase(f"{args.mix:,}-metric registries")
    mix = run_mix(args.mix, args.samples, LIBS, args.mix_rounds)
    text = render(ops, contention, mix, args)
    print(text)
    print(f"\n(benchmark took {time.perf_counter() - began:.0f} s)")
    if not args.no_write and not args.quick:
        write_section(text)
        print(f"written to {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
