"""bench_carbon.py's results: one summary per step, the verdict "sustained", the measured table and the
capacity table derived from it, written between the bench-carbon markers of docs/capacity.md."""

from __future__ import annotations

import math
import os
import platform
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "capacity.md"
START, END = "<!-- bench-carbon:start -->", "<!-- bench-carbon:end -->"
SERIES = 1000  # points per simulated instance per report
STAT_INTERVAL = 2  # seconds per carbon.agents.* / carbon.relays.* reading in the bench
WARM = 6  # seconds at the start of a step left out of carbon's readings (the change of load)
PAGE = 4096
TARGET_UTIL = 0.7  # of one core per cache process when sizing
POINTS_PER_MIN, STEP_S = 50_000, 10  # the reference instance, reported at the stack's 10 s step


@dataclass
class Target:
    """Where the fleet sends and where carbon's metrics are read."""

    name: str
    key: str
    port: int
    graphite_url: str
    caches: list[str]
    relay: bool = False


@dataclass
class Step:
    target: str
    label: str
    instances: int
    drained_s: float = 0.0
    start: float = 0.0
    end: float = 0.0
    fleet: dict[str, Any] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)
    io: dict[str, dict[str, float]] = field(default_factory=dict)
    machine_busy: float = 0.0
    latency: dict[str, Any] = field(default_factory=dict)
    agents: dict[str, dict[str, list[tuple[int, float]]]] = field(default_factory=dict)
    relay: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def offered(self) -> float:
        return self.fleet["points"] / self.fleet["wall_s"]

    def readings(self, points: list[tuple[int, float]], warm: float = WARM) -> list[tuple[int, float]]:
        """The readings whose interval lies inside the step, after its first `warm` seconds. A reading
        stored in slot T was taken at T..T+1 and covers the STAT_INTERVAL before that."""
        return [(t, v) for t, v in points if t - STAT_INTERVAL >= self.start + warm and t + 1 <= self.end]


def slope(points: list[tuple[int, float]]) -> float | None:
    """Least-squares growth per second."""
    if len(points) < 3:
        return None
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    return sum((t - mt) * (v - mv) for t, v in points) / var if var else None


def summarise(step: Step) -> None:
    caches = {}
    for cache, stats in step.agents.items():
        def rate(stat: str, warm: float = WARM) -> float | None:
            found = step.readings(stats.get(stat, []), warm)
            return sum(v for _, v in found) / (len(found) * STAT_INTERVAL) if found else None

        def avg(stat: str) -> float | None:
            found = [v for _, v in step.readings(stats.get(stat, []))]
            return sum(found) / len(found) if found else None

        sizes = step.readings(stats.get("cache.size", []))
        creating = [(t, v) for t, v in step.readings(stats.get("creates", []), 0) if v > 0]
        caches[cache] = {
            "received": rate("metricsReceived"), "committed": rate("committedPoints"),
            "updates": rate("updateOperations"), "ppu": avg("pointsPerUpdate"), "cpu_pct": avg("cpuUsage"),
            "size_max": max((v for _, v in sizes), default=None), "growth": slope(sizes),
            "mem_max": max((v for _, v in step.readings(stats.get("memUsage", []))), default=None),
            "creates": sum(v for _, v in creating),
            "creates_per_s": sum(v for _, v in creating) / (len(creating) * STAT_INTERVAL) if creating else None,
            "dropped_creates": sum(v for _, v in step.readings(stats.get("droppedCreates", []), 0)),
        }
    s: dict[str, Any] = {"caches": caches}
    for key in ("received", "committed", "growth", "size_max", "creates_per_s"):
        found = [c[key] for c in caches.values() if c[key] is not None]
        s[key] = sum(found) if found else None
    s["cache_cpu_s"] = sum(step.cpu_s.get(cache, 0.0) for cache in caches)
    s["relay_cpu_s"] = step.cpu_s.get("relay")
    s["pages"] = sum(io.get("write_bytes", 0) for io in step.io.values()) / PAGE
    s["write_calls"] = sum(io.get("syscw", 0) for io in step.io.values())
    s["relay_dropped"] = sum(v for t, v in step.relay.get("metricsDropped", []) if step.start <= t <= step.end + 5)
    s["sustained"], s["verdict"] = verdict(step, s)
    step.summary = s


def verdict(step: Step, s: dict[str, Any]) -> tuple[bool, str]:
    """Sustained = what was offered was sent on time, received, committed, and the cache did not grow."""
    if s["received"] is None or s["committed"] is None:
        return False, "no carbon readings in the step"
    reasons = []
    if step.fleet["late_ticks"] > step.fleet["ticks"] // 10 or step.fleet["skipped_ticks"]:
        reasons.append("the fleet could not send on time")
    if s["received"] < 0.95 * step.offered:
        reasons.append(f"received {s['received'] / step.offered:.0%} of offered")
    if s["committed"] < 0.95 * step.offered:
        reasons.append(f"committed {s['committed'] / step.offered:.0%} of offered")
    if s["growth"] is not None and s["growth"] > 0.05 * step.offered:
        reasons.append(f"cache +{s['growth']:,.0f} points/s")
    if s["relay_dropped"]:
        reasons.append(f"relay dropped {s['relay_dropped']:,.0f}")
    return not reasons, "; ".join(reasons) or "yes"


def fmt(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def per_million(value: float | None, step: Step) -> float | None:
    return None if value is None else value / step.fleet["points"] * 1e6


def step_rows(steps: list[Step]) -> list[str]:
    rows = ["| target | step | offered pts/s | received /s | committed /s | cache max | cache growth /s | pts/update "
            "| cache CPU (carbon's cpuUsage) | cache CPU-s / M pts | relay CPU-s / M pts | pages dirtied / M pts "
            "| latency p50 / p95 / max s | machine busy | sustained |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |"]
    for step in steps:
        s, lat = step.summary, step.latency
        caches = s["caches"].values()
        rows.append(
            f"| {step.target} | {step.label} | {step.offered:,.0f} | {fmt(s['received'])} | {fmt(s['committed'])} "
            f"| {fmt(s['size_max'])} | {fmt(s['growth'])} | {' / '.join(fmt(c['ppu'], 1) for c in caches)} "
            f"| {' + '.join(fmt(c['cpu_pct']) + '%' for c in caches)} | {fmt(per_million(s['cache_cpu_s'], step), 1)} "
            f"| {fmt(per_million(s['relay_cpu_s'], step), 1)} | {fmt(per_million(s['pages'], step))} "
            f"| {fmt(lat['p50_s'], 2)} / {fmt(lat['p95_s'], 2)} / {fmt(lat['max_s'], 2)} | {step.machine_busy:.0%} "
            f"| {s['verdict']} |")
    return rows


def whisper_file_bytes() -> tuple[str, int]:
    """Size of one Whisper file with the stack's default schema (carbon/storage-schemas.conf), by creating one."""
    import whisper

    section = (ROOT / "carbon" / "storage-schemas.conf").read_text().split("[default]", 1)[1]
    retentions = next(line.split("=", 1)[1].strip() for line in section.splitlines() if line.startswith("retentions"))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "probe.wsp")
        whisper.create(path, [whisper.parseRetentionDef(r) for r in retentions.split(",")], 0.0, "average", True)
        return retentions, os.path.getsize(path)


def sizing(steps: list[Step]) -> list[str]:
    """Caches, disk, IOPS and create time for 100 and 500 instances x 50,000 points/min, from the steps."""
    single = [s for s in steps if s.target == "one cache" and s.label != "creates" and s.summary["sustained"]]
    if not single:
        return ["No one-cache step was sustained in this run, so no capacity can be derived from it."]
    best = max(single, key=lambda s: s.offered)
    cpu_per_point = max(s.summary["cache_cpu_s"] / s.fleet["points"] for s in single)
    relays = [s.summary["relay_cpu_s"] / s.fleet["points"] for s in steps if s.summary["relay_cpu_s"]]
    seconds, series_then = best.end - best.start, best.instances * SERIES
    pages_per_series_s = best.summary["pages"] / seconds / series_then
    creates = [s for s in steps if s.label == "creates"]
    create_rate = creates[0].summary["creates_per_s"] if creates else None
    retentions, file_bytes = whisper_file_bytes()
    series_per_instance = POINTS_PER_MIN * STEP_S // 60
    lines = [
        "Inputs, all from the run above:",
        f"- one cache sustained **{best.offered:,.0f} points/s** (its highest sustained step); the costliest "
        f"sustained one-cache step took **{cpu_per_point * 1e6:.1f} CPU-s per million points** (cache container);",
        f"- the relay took at most **{fmt(max(relays) * 1e6 if relays else None, 1)} CPU-s per million points** "
        "(C, one thread per core);",
        f"- at {best.label} carbon-cache dirtied **{pages_per_series_s:.3f} pages of 4 KiB per series per second** "
        f"({best.summary['pages']:,.0f} pages / {seconds:.0f} s / {series_then:,} series): the kernel writes a dirty "
        "page once per writeback period however many points it took meanwhile, so this scales with series, "
        "not points;",
        f"- creates: **{fmt(create_rate)} new files/s** by one cache while it also took the creating fleet's points;",
        f"- a Whisper file with the stack's schema ({retentions}) is **{file_bytes:,} bytes**, fallocated in full.",
        "",
        f"Workload: {POINTS_PER_MIN:,} points/min per instance at the stack's {STEP_S} s step = "
        f"{series_per_instance:,} series per instance. A cache process uses one core at most (Python's GIL): "
        f"sized at {TARGET_UTIL:.0%} of a core, the rest is headroom for bursts, creates and catching up after a "
        "restart. Caches = the larger of the CPU and the rate estimate.",
        "",
        "| instances | points/s | series | caches by CPU | caches by rate | Whisper disk (replication 1) "
        "| page writes/s (IOPS) | creating every file |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    arithmetic = []
    for instances in (100, 500):
        rate = instances * POINTS_PER_MIN / 60
        series = instances * series_per_instance
        by_cpu = math.ceil(rate * cpu_per_point / TARGET_UTIL)
        by_rate = math.ceil(rate / (best.offered * TARGET_UTIL))
        caches = max(by_cpu, by_rate)
        disk, iops = series * file_bytes, series * pages_per_series_s
        minutes = series / (create_rate * caches) / 60 if create_rate else None
        lines.append(
            f"| {instances} | {rate:,.0f} | {series:,} | {by_cpu} | {by_rate} | {disk / 1e12:.2f} TB, "
            f"{disk / caches / 1e9:,.0f} GB per cache | {iops:,.0f}, {iops / caches:,.0f} per cache "
            f"| {fmt(minutes, 0)} min with {caches} caches |")
        arithmetic.append(
            f"- **{instances} instances**: {instances} x {POINTS_PER_MIN:,} / 60 = {rate:,.0f} points/s; "
            f"{instances} x {series_per_instance:,} = {series:,} series. "
            f"CPU: {rate:,.0f} x {cpu_per_point * 1e6:.1f} / 1e6 = {rate * cpu_per_point:.2f} cores, "
            f"/ {TARGET_UTIL} = {by_cpu} caches. Rate: {rate:,.0f} / ({best.offered:,.0f} x {TARGET_UTIL}) "
            f"= {rate / best.offered / TARGET_UTIL:.2f}, so {by_rate}. "
            f"Disk: {series:,} x {file_bytes:,} B = {disk / 1e12:.2f} TB (twice that with replication 2). "
            f"IOPS: {series:,} x {pages_per_series_s:.3f} = {iops:,.0f} page writes/s. "
            f"Creates: {series:,} / ({fmt(create_rate)} x {caches}) = {fmt(minutes, 0)} min.")
    return lines + ["", "Arithmetic:", "", *arithmetic]


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
        "*latency* runs from a probe instance's report leaving its reporter until graphite-web (the node's for one "
        "cache, the front for the cluster) returns the value; *machine busy* is the whole box (fleet, relay, "
        f"caches, graphite-webs and anything else running).{created}",
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
        doc = DOC.read_text() if DOC.exists() else "# Capacity\n"
        if START in doc and END in doc:
            head, rest = doc.split(START, 1)
            doc = head + text + rest.split(END, 1)[1]
        else:
            doc = doc.rstrip("\n") + "\n\n" + text + "\n"
        DOC.write_text(doc)
    return text
