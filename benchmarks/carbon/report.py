"""bench_carbon.py's report: the measured table and the derived capacity, written between the
bench-carbon markers of docs/capacity.md (the rest of that page is left as it is)."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

from docsection import replace_section  # benchmarks/, on sys.path as bench_carbon.py's own folder
from sizing import sizing
from steps import SERIES, STAT_INTERVAL, WARM, Step, fmt, per_million

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "capacity.md"
START, END = "<!-- bench-carbon:start -->", "<!-- bench-carbon:end -->"


def step_rows(steps: list[Step]) -> list[str]:
    rows = ["| target | step | offered pts/s | received /s | committed /s | cache max | cache growth /s | pts/update "
            "| cache CPU (carbon's cpuUsage) | cache CPU-s / M pts | relay CPU-s / M pts | pages dirtied / M pts "
            "| disk writes/s (machine) | latency p50 / p95 / max s | machine busy | cores: kernel threads / other "
            "work | sustained |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: "
            "| --- |"]
    for step in steps:
        s, lat = step.summary, step.latency
        caches = s["caches"].values()
        rows.append(
            f"| {step.target} | {step.label} | {step.offered:,.0f} | {fmt(s['received'])} | {fmt(s['committed'])} "
            f"| {fmt(s['size_max'])} | {fmt(s['growth'])} | {' / '.join(fmt(c['ppu'], 1) for c in caches)} "
            f"| {' + '.join(fmt(c['cpu_pct']) + '%' for c in caches)} | {fmt(per_million(s['cache_cpu_s'], step), 1)} "
            f"| {fmt(per_million(s['relay_cpu_s'], step), 1)} | {fmt(per_million(s['pages'], step))} "
            f"| {fmt(step.disk['requests'] / (step.end - step.start))} "
            f"| {fmt(lat['p50_s'], 2)} / {fmt(lat['p95_s'], 2)} / {fmt(lat['max_s'], 2)} | {step.machine_busy:.0%} "
            f"| {step.kernel_cpu_s / (step.end - step.start):.2f} / {others(step):.2f} | {s['verdict']} |")
    return rows


def others(step: Step) -> float:
    """Cores the machine spent on anything but this benchmark's containers and fleet and kernel threads
    (other sessions' work on a shared box, dockerd, short-lived processes)."""
    seconds = step.end - step.start
    ours = (sum(step.cpu_s.values()) + step.fleet["cpu_s"] + step.kernel_cpu_s) / seconds
    return max(0.0, step.machine_busy * (os.cpu_count() or 1) - ours)


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def section(steps: list[Step], args: Any) -> str:
    pre = ", ".join(f"{k} {v['created']:,} files in {v['seconds']:.0f} s" for k, v in sorted(args.precreated.items()))
    creates = [s for s in steps if s.label == "creates"]
    created = ""
    if creates:
        c = creates[0].summary["caches"]["carbon-a"]
        created = (f" The creates step sent {creates[0].instances * SERIES:,} series carbon-a had never seen: "
                   f"it created {fmt(c['creates'])} files at **{fmt(c['creates_per_s'])} per second** "
                   f"(droppedCreates {fmt(c['dropped_creates'])}).")
    dirty = Path("/proc/sys/vm/dirty_expire_centisecs").read_text().strip()
    timings = ", ".join(f"{k} {v:.0f} s" for k, v in args.timings.items())
    return "\n".join([
        START,
        "## Measured (`make bench-carbon`)",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores ({cpu_model()}), "
        f"{round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB; Debian bookworm images "
        "(graphite-carbon 1.1.7, whisper 1.1.4, carbon-c-relay 3.7.3); fleet on the host's Python "
        f"{platform.python_version()}. Steps of {args.seconds:g} s, {SERIES:,} series per simulated instance, "
        f"one report per second (plaintext); carbon's readings every {STAT_INTERVAL} s. Whole run "
        f"{args.elapsed:.0f} s ({timings}){' (--quick: indicative only)' if args.quick else ''}. "
        f"Pre-created: {pre}. vm.dirty_expire_centisecs = {dirty}. Reproduce: `make bench-carbon`.",
        "",
        *step_rows([s for s in steps if s.label != "creates"]),
        "",
        "*received, committed, cache, pts/update, cpuUsage* are carbon's own carbon.agents.* readings that lie "
        f"inside the step after its first {WARM} s; *CPU-s / M pts* is the container's cgroup CPU over the whole "
        "step per million points offered; *pages dirtied* is carbon-cache's /proc/1/io write_bytes / 4096; "
        "*disk writes/s* are the write requests the machine's disks completed (/proc/diskstats: everyone's, after "
        "merging); *latency* runs from a probe instance's report leaving its reporter until graphite-web (the "
        "node's for one cache, the front for the cluster) returns the value; *machine busy* is the whole box, of "
        "which *kernel threads* (writeback, ext4) and *other work*: neither these containers, nor the fleet, nor "
        f"kernel threads (other sessions' jobs on a shared machine, dockerd, short-lived processes).{created}",
        "",
        "### Capacity for the reference workload, derived from this run",
        "",
        *sizing(steps),
        END,
    ])


def write_report(steps: list[Step], args: Any) -> str:
    """The section as text; unless ``args.no_write``, also put in place of the old one in docs/capacity.md."""
    text = section(steps, args)
    if not args.no_write:
        replace_section(DOC, START, END, text, title="# Capacity")
    return text
