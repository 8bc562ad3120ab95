"""A synthetic fleet: many simulated instances in one process, each a real graphmetrics registry with its
own CarbonReporter (own TCP connection, plaintext), all reporting on the same aligned ticks as a fleet of
real services would. Nothing here writes a line by hand: every point is produced by the library.

Run as a script by bench_carbon.py (a process of its own, so its CPU is measured apart), e.g.
``fleet.py --port 2003 --prefix bench.s --first 0 --instances 20 --seconds 40``; prints one JSON summary.
``--names`` prints the series paths the same arguments would send, one per line, and sends nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass

from graphmetrics.registry import MetricsRegistry
from graphmetrics.reporters.carbon import CarbonReporter
from graphmetrics.readout import flatten
from graphmetrics.runners.schedule import Schedule

TIMER_FIELDS = 16  # count, sum, avg, min, max, std_dev, 6 percentiles, mean/1m/5m/15m rates
METER_FIELDS = 5  # count, mean/1m/5m/15m rates
OWN_POINTS = 7  # the reporter's own graphmetrics.carbon.* series


@dataclass
class Instance:
    """One simulated service: a registry with a mix like a real service's, and its reporter."""

    registry: MetricsRegistry
    reporter: CarbonReporter
    counters: list
    meters: list
    gauges: list
    timers: list
    ticks: int = 0

    def work(self) -> None:
        """What happened since the last report: counters move, latencies are recorded, gauges change."""
        self.ticks += 1
        for counter in self.counters:
            counter.inc()
        for number, meter in enumerate(self.meters):
            meter.mark(1 + (self.ticks + number) % 3)
        for number, timer in enumerate(self.timers):
            timer.update(0.5 + (self.ticks * 7 + number) % 50)
            timer.update(2.0 + (self.ticks * 3 + number) % 200)
        for number, gauge in enumerate(self.gauges):
            gauge.set_value((self.ticks + number) % 1000)


def mix(series: int) -> tuple[int, int, int, int]:
    """Counters, meters, gauges and timers giving ``series`` points per report, like a service timing its
    endpoints and calls: about 60% of the points from timers, 20% meters, 15% counters, the rest gauges and
    the reporter's own. (Each metric is a directory of one file per field: many fields per metric also
    make the benchmark's own setup and teardown of the Whisper files faster.)"""
    timers = max(1, int(series * 0.6) // TIMER_FIELDS)
    meters = max(1, int(series * 0.2) // METER_FIELDS)
    counters = max(1, int(series * 0.15))
    gauges = max(1, series - OWN_POINTS - timers * TIMER_FIELDS - meters * METER_FIELDS - counters)
    return counters, meters, gauges, timers


def build(host: str, port: int, prefix: str, first: int, instances: int, series: int) -> list[Instance]:
    counters, meters, gauges, timers = mix(series)
    fleet = []
    for number in range(first, first + instances):
        registry = MetricsRegistry()
        reporter = CarbonReporter(registry, host, port, protocol="plaintext", prefix=f"{prefix}.i{number:04d}",
                                  connect_timeout=5.0, send_timeout=10.0)
        instance = Instance(
            registry, reporter,
            [registry.counter(f"requests.r{n}") for n in range(counters)],
            [registry.meter(f"events.e{n}") for n in range(meters)],
            [registry.gauge(f"pool.p{n}.size", 0) for n in range(gauges)],
            [registry.timer(f"latency.t{n}") for n in range(timers)],
        )
        instance.work()  # a running service: every metric has a value from the first report on
        fleet.append(instance)
    return fleet


def series_names(fleet: list[Instance]) -> list[str]:
    return [path for inst in fleet for path, _ in flatten(inst.registry.snapshot(), inst.reporter.prefix).points]


def run(fleet: list[Instance], interval: float, seconds: float) -> dict[str, float]:
    """Report every ``interval`` s for ``seconds``; every instance reports each tick, one after the other."""
    started, cpu_started = time.monotonic(), time.process_time()
    schedule = Schedule(interval, time.time())
    points = ticks = late = 0
    worst = 0.0
    while time.monotonic() - started < seconds:
        time.sleep(schedule.delay(time.time()))
        tick = schedule.due(time.time())
        if tick is None:
            continue
        for inst in fleet:
            inst.work()
            points += inst.reporter.collect(tick).points
            inst.reporter.flush()
        took = time.time() - tick
        worst = max(worst, took)
        late += took > interval
        ticks += 1
    wall = time.monotonic() - started
    deadline = time.monotonic() + 5.0  # what is still queued gets 5 s in all, not 5 s per instance
    for inst in fleet:
        inst.reporter.flush(timeout=max(0.01, deadline - time.monotonic()))
        inst.reporter.close()
    failures = sum(inst.registry.counter("graphmetrics.carbon.send_failures").get_count() for inst in fleet)
    unsent = sum(inst.reporter.pending for inst in fleet)
    return {"points": points, "ticks": ticks, "late_ticks": late, "worst_tick_s": round(worst, 3),
            "skipped_ticks": schedule.skipped, "send_failures": failures, "unsent_reports": unsent,
            "cpu_s": time.process_time() - cpu_started, "wall_s": wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2003)
    parser.add_argument("--prefix", default="bench.fleet")
    parser.add_argument("--first", type=int, default=0, help="number of the first instance (names i0000...)")
    parser.add_argument("--instances", type=int, default=10)
    parser.add_argument("--series", type=int, default=1000, help="points per instance per report")
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--names", action="store_true", help="print the series paths and exit")
    args = parser.parse_args()
    fleet = build(args.host, args.port, args.prefix, args.first, args.instances, args.series)
    if args.names:
        sys.stdout.write("".join(f"{name}\n" for name in series_names(fleet)))
        return 0
    print(json.dumps(run(fleet, args.interval, args.seconds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
