"""What bench_carbon.py reads while a load step runs: CPU of each container (its cgroup), what carbon-cache
made the kernel write (/proc/<pid>/io inside the container), the whole machine's CPU (/proc/stat), carbon's
and carbon-c-relay's own metrics (render API), and report-to-queryable latency (a probe instance).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from graphmetrics.registry import MetricsRegistry
from graphmetrics.reporters.carbon import CarbonReporter


# -- counters sampled before and after a step ------------------------------------------------------------
def container_cpu_seconds(container_id: str) -> float | None:
    """CPU time of every process of a container so far, from its cgroup (v1 or v2), None if unreadable."""
    candidates = [
        (Path(f"/sys/fs/cgroup/cpuacct/docker/{container_id}/cpuacct.usage"), 1e-9),
        (Path(f"/sys/fs/cgroup/cpu,cpuacct/docker/{container_id}/cpuacct.usage"), 1e-9),
        (Path(f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/cpu.stat"), 1e-6),
    ]
    for path, unit in candidates:
        try:
            text = path.read_text()
        except OSError:
            continue
        if path.name == "cpu.stat":
            fields = dict(line.split() for line in text.splitlines())
            return int(fields["usage_usec"]) * unit
        return int(text) * unit
    return None


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine: shows when the box itself is the limit."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]  # guest is in user
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def disk_writes() -> tuple[int, int]:
    """(write requests completed, bytes written) of the machine's whole disks since boot (/proc/diskstats):
    what reached the devices after the page cache and the I/O scheduler merged writes, from every process."""
    requests = sectors = 0
    for line in Path("/proc/diskstats").read_text().splitlines():
        fields = line.split()
        name = fields[2]
        if re.fullmatch(r"(sd|vd|xvd|hd)[a-z]+|nvme\d+n\d+|mmcblk\d+", name):
            requests += int(fields[7])
            sectors += int(fields[9])
    return requests, sectors * 512


def kernel_threads() -> dict[int, int]:
    """CPU ticks each kernel thread (writeback, ext4 extent conversion, ...) has used so far, by pid."""
    ticks = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == "2":  # a child of kthreadd
            ticks[int(stat.parent.name)] = int(fields[11]) + int(fields[12])
    return ticks


def kernel_thread_seconds(before: dict[int, int], after: dict[int, int]) -> float:
    """CPU seconds kernel threads used between two snapshots: threads that exited meanwhile are missed
    (an undercount), threads that started meanwhile count whole."""
    return sum(used - before.get(pid, 0) for pid, used in after.items()) / os.sysconf("SC_CLK_TCK")


def parse_proc_io(text: str) -> dict[str, int]:
    """``/proc/<pid>/io``: write_bytes counts pages the process dirtied (what writeback will write)."""
    return {key: int(value) for key, value in (line.split(": ") for line in text.splitlines() if ": " in line)}


def delta(after: dict[str, Any], before: dict[str, Any]) -> dict[str, float]:
    return {key: after[key] - before[key] for key in after if key in before and after[key] is not None
            and before[key] is not None}


# -- carbon's and the relay's own metrics ----------------------------------------------------------------
def render(base_url: str, target: str, since: str = "-15min", attempts: int = 1) -> list[dict[str, Any]]:
    """The render API's JSON. graphite-web answers 500 when a busy cache does not answer carbonlink in
    time: with ``attempts`` > 1 such a failure is retried (2 s apart) before it is raised."""
    query = urllib.parse.urlencode({"target": target, "from": since, "format": "json"})
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(f"{base_url}/render?{query}", timeout=30) as reply:
                return json.loads(reply.read())
        except OSError:
            if attempt == attempts - 1:
                raise
            time.sleep(2)
    raise AssertionError("unreachable")


def series_points(base_url: str, target: str, since: str = "-15min",
                  attempts: int = 1) -> dict[str, list[tuple[int, float]]]:
    """name -> [(timestamp, value)] of the non-null points of every series `target` matches."""
    return {s["target"]: [(int(t), v) for v, t in s["datapoints"] if v is not None]
            for s in render(base_url, target, since, attempts)}


# -- report-to-queryable latency ---------------------------------------------------------------------------
class LatencyProbe(threading.Thread):
    """One more instance, reporting a gauge with a new value every `period` s through the same path as the
    fleet, then asking graphite-web until that value is there: seconds from the report's send to the answer.
    """

    def __init__(self, host: str, port: int, graphite_url: str, path: str, period: float = 3.0) -> None:
        """``path``: the probe gauge's series, ``<prefix>.<name>.value``."""
        super().__init__(daemon=True)
        prefix, name, _ = path.rsplit(".", 2)
        self.registry = MetricsRegistry()
        self.reporter = CarbonReporter(self.registry, host, port, protocol="plaintext", prefix=prefix)
        self.gauge = self.registry.gauge(name, 0)
        self.path = path
        self.graphite_url, self.period = graphite_url, period
        self.latencies: list[float] = []
        self.timeouts = 0
        self.halt = threading.Event()

    def run(self) -> None:
        marker = 0
        while not self.halt.is_set():
            marker += 1
            self.gauge.set_value(marker)
            tick = int(time.time())
            self.reporter.collect(tick)
            self.reporter.flush()
            sent = time.monotonic()
            while not self.halt.is_set():
                if self._visible(tick, marker):
                    self.latencies.append(time.monotonic() - sent)
                    break
                if time.monotonic() - sent > 30:
                    self.timeouts += 1
                    break
                time.sleep(0.2)  # latency resolution; each ask costs graphite-web a render
            self.halt.wait(max(0.0, self.period - (time.monotonic() - sent)))
        self.reporter.close()

    def _visible(self, tick: int, marker: int) -> bool:
        try:
            found = render(self.graphite_url, self.path, "-2min")
        except OSError:
            return False
        return any(int(t) == tick and v == marker for s in found for v, t in s["datapoints"])

    def stop(self) -> dict[str, float | int | None]:
        self.halt.set()
        self.join(timeout=35)
        values = sorted(self.latencies)
        if not values:
            return {"probes": 0, "timeouts": self.timeouts, "p50_s": None, "p95_s": None, "max_s": None}
        p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
        return {"probes": len(values), "timeouts": self.timeouts, "p50_s": statistics.median(values),
                "p95_s": p95, "max_s": values[-1]}
