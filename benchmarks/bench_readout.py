"""Benchmark reading a registry out (graphmetrics.readout): the costs the read-out's design rests on.

No network and no encoding: a report's points only, slice by slice, as a reporter's collect reads
them. Measures the key copy that starts a report, the general way (fields dict, then ``flatten``)
per counter, meter and timer, the layout memo's counter fast path, the longest slice of each, and
joining a whole plaintext report into one ``bytes`` (why plaintext is cut into messages). Best of
``--repeats`` interleaved repeats. Runs against an older checkout too (its own venv's python with
this file), to compare the read-out before and after a change.

    .venv/bin/python benchmarks/bench_readout.py [--repeats N] [--quick] [--write]
"""

from __future__ import annotations

import argparse
import gc
import platform
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from docsection import replace_section  # noqa: E402

from graphmetrics.registry import MetricsRegistry  # noqa: E402

try:
    from graphmetrics.readout import Layout, flatten  # noqa: E402
except ImportError:  # a checkout from before issue 11
    from graphmetrics.reporters.layout import Layout  # type: ignore[no-redef]  # noqa: E402
    from graphmetrics.reporters.points import flatten  # type: ignore[no-redef]  # noqa: E402
from graphmetrics.reporters.wire import plaintext_lines  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench-readout:start -->", "<!-- bench-readout:end -->"
PREFIX = "helloworld.inst1"
SIZES = {"counters": 50_000, "meters": 5_000, "timers": 5_000}


def build(kind: str, count: int) -> MetricsRegistry:
    registry = MetricsRegistry()
    rnd = random.Random(42)
    for i in range(count):
        if kind == "counters":
            registry.counter(f"app.counter_{i}").inc(i)
        elif kind == "meters":
            registry.meter(f"app.meter_{i}").mark(3)
        else:
            timer = registry.timer(f"app.timer_{i}")
            for _ in range(20):
                timer.update(rnd.random())
    return registry


def keys_of(registry: MetricsRegistry) -> list[str]:
    keys = getattr(registry, "keys", None) or registry._keys  # type: ignore[attr-defined]
    return keys()  # type: ignore[no-any-return]


def timed_report(layout: Any, registry: MetricsRegistry) -> tuple[float, float, int]:
    """(whole report s, longest slice s, points), the garbage collector off as in a measured loop."""
    longest = 0.0
    points = 0
    slices = layout.report(registry)
    gc.disable()
    try:
        start = last = time.perf_counter()
        for flat in slices:
            now = time.perf_counter()
            longest = max(longest, now - last)
            points += len(flat.points)
            last = time.perf_counter()
        total = time.perf_counter() - start
    finally:
        gc.enable()
    return total, longest, points


def best(samples: list[float]) -> float:
    return min(samples)


def measure(repeats: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, list[float]]] = {}
    registries = {kind: build(kind, count) for kind, count in SIZES.items()}
    for _ in range(repeats):
        for kind, registry in registries.items():
            row = results.setdefault(kind, {})
            count = SIZES[kind]
            start = time.perf_counter()
            keys_of(registry)
            row.setdefault("keys_ms", []).append((time.perf_counter() - start) * 1e3)
            layout = Layout(PREFIX)
            total, longest, _ = timed_report(layout, registry)  # the first report: learns the layout
            row.setdefault("learn_us", []).append(total / count * 1e6)
            row.setdefault("learn_slice_ms", []).append(longest * 1e3)
            total, longest, points = timed_report(layout, registry)  # the memo's report
            row.setdefault("memo_us", []).append(total / count * 1e6)
            row.setdefault("memo_slice_ms", []).append(longest * 1e3)
            row.setdefault("points", []).append(points)
            if kind == "counters":
                flat = flatten(registry.snapshot(), PREFIX)
                lines = plaintext_lines(1_700_000_000, flat.points)
                start = time.perf_counter()
                b"".join(lines)
                row.setdefault("join_ms", []).append((time.perf_counter() - start) * 1e3)
    return {kind: {name: best(values) for name, values in row.items()} for kind, row in results.items()}


def table(results: dict[str, dict[str, float]], repeats: int) -> str:
    fmt: Callable[[float], str] = lambda value: f"{value:,.3f}"  # noqa: E731
    lines = [
        START,
        "## Read-out (`benchmarks/bench_readout.py`)",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on Python {platform.python_version()}, best of {repeats} "
        "interleaved repeats, the garbage collector off during a report. A report's points only (no "
        "encoding, no network), read a slice at a time as a reporter's collect reads them: the first "
        "report of a layout goes the general way (fields dict, then `flatten`) and learns where the plain "
        "counters are; later ones read those through the layout memo's fast path.",
        "",
        "| registry | `keys()` copy | first report, per metric | longest slice | later reports, per metric | longest slice |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind, row in results.items():
        lines.append(
            f"| {SIZES[kind]:,} {kind} | {fmt(row['keys_ms'])} ms | {fmt(row['learn_us'])} µs | "
            f"{fmt(row['learn_slice_ms'])} ms | {fmt(row['memo_us'])} µs | {fmt(row['memo_slice_ms'])} ms |"
        )
    lines += [
        "",
        f"Joining the plaintext lines of the {SIZES['counters']:,}-counter report into one `bytes`: "
        f"{fmt(results['counters']['join_ms'])} ms in one C call that holds the GIL; plaintext over TCP is "
        "cut into messages of `STREAM_MESSAGE_BYTES` instead.",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write", action="store_true", help=f"write the section into {DOC.name}")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1/50 of the metrics, noisy numbers")
    args = parser.parse_args()
    if args.quick:
        for kind in SIZES:
            SIZES[kind] //= 50
    section = table(measure(args.repeats), args.repeats)
    print(section)
    if args.write:
        replace_section(DOC, START, END, section)


if __name__ == "__main__":
    main()
