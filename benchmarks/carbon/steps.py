"""One load step of bench_carbon.py: what was measured, its summary and the verdict "sustained"."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SERIES = 1000  # points per simulated instance per report
STAT_INTERVAL = 2  # seconds per carbon.agents.* / carbon.relays.* reading in the bench
WARM = 6  # seconds at the start of a step left out of carbon's readings (the change of load)
PAGE = 4096


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
    disk: dict[str, int] = field(default_factory=dict)
    kernel_cpu_s: float = 0.0
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
    if step.fleet["send_failures"] or step.fleet["unsent_reports"]:
        reasons.append(f"{step.fleet['send_failures']} send failures")
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
