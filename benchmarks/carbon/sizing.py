"""From a run's steps to the capacity for the reference workload: the costs a cache's CPU goes to (fitted
over carbon's own readings), then caches, memory, disk, IOPS and create time for 100 and 500 instances."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

from steps import SERIES, STAT_INTERVAL, Step, fmt

ROOT = Path(__file__).resolve().parents[2]
TARGET_UTIL = 0.7  # of one core per cache process when sizing
POINTS_PER_MIN, STEP_S = 50_000, 10  # the reference instance, reported at the stack's 10 s step


def whisper_file_bytes() -> tuple[str, int]:
    """Size of one Whisper file with the stack's default schema (carbon/storage-schemas.conf), by creating one."""
    import whisper

    section = (ROOT / "carbon" / "storage-schemas.conf").read_text().split("[default]", 1)[1]
    retentions = next(line.split("=", 1)[1].strip() for line in section.splitlines() if line.startswith("retentions"))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "probe.wsp")
        whisper.create(path, [whisper.parseRetentionDef(r) for r in retentions.split(",")], 0.0, "average", True)
        return retentions, os.path.getsize(path)


def least_squares(rows: list[tuple[float, ...]], ys: list[float]) -> list[float]:
    """Coefficients minimising the squared error of ys ~ rows (normal equations, Gauss-Jordan)."""
    n = len(rows[0])
    a = [[sum(r[i] * r[j] for r in rows) for j in range(n)] + [sum(r[i] * y for r, y in zip(rows, ys))]
         for i in range(n)]
    for i in range(n):
        pivot = max(range(i, n), key=lambda k: abs(a[k][i]))
        a[i], a[pivot] = a[pivot], a[i]
        for k in range(n):
            if k != i and a[i][i]:
                factor = a[k][i] / a[i][i]
                a[k] = [x - factor * y for x, y in zip(a[k], a[i])]
    return [a[i][n] / a[i][i] if a[i][i] else 0.0 for i in range(n)]


def cost_model(steps: list[Step]) -> dict[str, float] | None:
    """What a cache's CPU goes to, fitted over every 2 s reading of every cache in every load step:
    CPU-s = receive x points received + write x points committed + update x Whisper updates + base.
    The three costs do not depend on how busy the machine was, only on carbon and the disk, which is why
    they (and not the rates reached on a shared 2-core box) are what the capacity is derived from."""
    rows, ys, memory = [], [], []
    for step in steps:
        for stats in step.agents.values():
            cpu = dict(step.readings(stats.get("cpuUsage", []), warm=2))
            for t, used in cpu.items():
                values = [dict(stats.get(k, [])).get(t) for k in ("metricsReceived", "committedPoints",
                                                                   "updateOperations", "cache.size", "memUsage")]
                if None in values[:3]:
                    continue
                rows.append((values[0], values[1], values[2], 1.0))
                ys.append(used / 100 * STAT_INTERVAL)
                if values[3] is not None and values[4] is not None:
                    memory.append((values[3], values[4]))
    if len(rows) < 8:
        return None
    receive, write, update, base = least_squares(rows, ys)
    mean = sum(ys) / len(ys)
    fitted = [sum(c * x for c, x in zip((receive, write, update, base), row)) for row in rows]
    r2 = 1 - sum((y - f) ** 2 for y, f in zip(ys, fitted)) / max(1e-12, sum((y - mean) ** 2 for y in ys))
    per_point = least_squares([(size, 1.0) for size, _ in memory], [mem for _, mem in memory])[0] if memory else 0
    return {"receive": receive, "write": write, "update": update, "base": base / STAT_INTERVAL, "r2": r2,
            "readings": len(rows), "bytes_per_cached_point": per_point}


def sizing(steps: list[Step]) -> list[str]:
    """Caches, memory, disk, IOPS and create time for 100 and 500 instances x 50,000 points/min."""
    load = [s for s in steps if s.label != "creates"]
    model = cost_model(load)
    one = [s for s in load if s.target == "one cache"]
    if model is None or not one:
        return ["Too few carbon readings in this run to derive a capacity from."]
    k = sorted(c["ppu"] for s in one for c in s.summary["caches"].values() if c["ppu"])[len(one) // 2]
    per_point = model["receive"] + model["write"] + model["update"] / k
    worst = model["receive"] + model["write"] + model["update"]
    reference = min(one, key=lambda s: s.offered)  # the lightest one-cache step: least backlog, closest to steady
    seconds, series_then = reference.end - reference.start, reference.instances * SERIES
    pages_per_series_s = reference.summary["pages"] / seconds / series_then
    creates = [s for s in steps if s.label == "creates"]
    create_rate = creates[0].summary["creates_per_s"] if creates else None
    relayed = [s for s in load if s.summary["relay_cpu_s"]]
    retentions, file_bytes = whisper_file_bytes()
    series_per_instance = POINTS_PER_MIN * STEP_S // 60
    relay_line = "- the relay: not measured in this run;"
    if relayed:
        busiest = max(relayed, key=lambda s: s.offered)
        cores = busiest.summary["relay_cpu_s"] / (busiest.end - busiest.start)
        relay_line = (f"- the relay (C, one thread per core) used **{cores:.2f} cores at {busiest.offered:,.0f} "
                      "points/s** offered, about as much at every load step: not where the limit is;")
    lines = [
        "Inputs, all from the run above:",
        f"- a cache's CPU, fitted over {model['readings']} readings of 2 s (R² {model['r2']:.2f}): "
        f"**{model['receive'] * 1e6:.1f} µs per point received + {model['write'] * 1e6:.1f} µs per point written "
        f"+ {model['update'] * 1e6:.0f} µs per Whisper update** (+ {model['base']:.2f} core of its own). With "
        f"the median {k:.1f} points per update of the one-cache steps that is **{per_point * 1e6:.1f} µs per "
        f"point**; {worst * 1e6:.0f} µs if every point were an update of its own;",
        f"- the cache holds about **{model['bytes_per_cached_point']:.0f} bytes per point** waiting in memory "
        "(memUsage against cache.size);",
        relay_line,
        f"- at {reference.label} carbon-cache dirtied **{pages_per_series_s:.3f} pages of 4 KiB per series per "
        f"second** ({reference.summary['pages']:,.0f} pages / {seconds:.0f} s / {series_then:,} series): page "
        "writes follow the number of series, not of points, since the kernel writes a dirty page once per "
        "writeback period however many points it took;",
        f"- creates: **{fmt(create_rate)} new files per second** by one cache while it also took the new "
        "instances' points;",
        f"- a Whisper file with the stack's schema ({retentions}) is **{file_bytes:,} bytes**, fallocated in full.",
        "",
        f"Workload: {POINTS_PER_MIN:,} points/min per instance at the stack's {STEP_S} s step = "
        f"{series_per_instance:,} series per instance. A cache process uses one core at most (Python's GIL); "
        f"each is planned at {TARGET_UTIL:.0%} of a core, the rest is headroom for bursts, creates and catching "
        f"up after a restart. Memory: {k:.0f} points per series waiting, the measured points per update.",
        "",
        "| instances | points/s | series | caches | memory per cache | Whisper disk (replication 1) "
        "| page writes/s (IOPS) | creating every file |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    arithmetic = []
    for instances in (100, 500):
        rate = instances * POINTS_PER_MIN / 60
        series = instances * series_per_instance
        caches = math.ceil(rate * per_point / TARGET_UTIL)
        memory = series / caches * k * model["bytes_per_cached_point"]
        disk, iops = series * file_bytes, series * pages_per_series_s
        minutes = series / (create_rate * caches) / 60 if create_rate else None
        lines.append(
            f"| {instances} | {rate:,.0f} | {series:,} | {caches} | {memory / 1e9:.1f} GB | {disk / 1e12:.2f} TB, "
            f"{disk / caches / 1e9:,.0f} GB per cache | {iops:,.0f} in all, {iops / caches:,.0f} per cache "
            f"| {fmt(minutes, 0)} min |")
        arithmetic.append(
            f"- **{instances} instances**: {instances} x {POINTS_PER_MIN:,} / 60 = {rate:,.0f} points/s; "
            f"{instances} x {series_per_instance:,} = {series:,} series. "
            f"CPU: {rate:,.0f} x {per_point * 1e6:.1f} µs = {rate * per_point:.2f} cores, / {TARGET_UTIL} = "
            f"{caches} caches ({math.ceil(rate * worst / TARGET_UTIL)} if every point were its own update). "
            f"Memory: {series:,} / {caches} x {k:.0f} x {model['bytes_per_cached_point']:.0f} B = "
            f"{memory / 1e9:.1f} GB per cache. "
            f"Disk: {series:,} x {file_bytes:,} B = {disk / 1e12:.2f} TB (twice that with replication 2). "
            f"IOPS: {series:,} x {pages_per_series_s:.3f} = {iops:,.0f} page writes/s. "
            f"Creates: {series:,} / ({fmt(create_rate)} x {caches}) = {fmt(minutes, 0)} min.")
    return lines + ["", "Arithmetic:", "", *arithmetic]
