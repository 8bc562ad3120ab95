"""A report's bytes, pinned: every wire format over a registry holding every metric type.

The read side (registry -> points) and the encoders are refactored for speed; what leaves the process
must not change with them. ``golden/`` holds the bytes these reports produced when the test was
written (pickle, plaintext, UDP datagrams, Hosted Graphite lines, stream sends, the console text and
the JSON snapshot), each report taken three times: learning the layout, through the layout memo, and
after the registry grew. Only when the wire output is *meant* to change, regenerate them with
``python services/metrics/tests/test_report_golden.py --write`` and review the diff.

Every value is chosen so that the C and the pure-Python twins give the same bits (sums and squared
deviations exact in binary), so one set of golden bytes holds for both modes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from graphmetrics.clock import ManualClock
from graphmetrics.counters import Counter
from graphmetrics.registry import MetricsRegistry
from graphmetrics.reporters.batching import BatchReporter
from graphmetrics.reporters.carbon import CarbonReporter
from graphmetrics.reporters.console import format_report
from graphmetrics.reporters.hostedgraphite import HostedGraphiteReporter
from graphmetrics.reporters.jsonsnapshot import snapshot_json
from graphmetrics.readout import flatten
from graphmetrics.reporters.transport import MemoryTransport
from graphmetrics.reporters.wire import plaintext_lines, plaintext_messages
from graphmetrics.reservoirs import ExpDecayingReservoir, LogBucketSketch, SlidingTimeWindowReservoir

GOLDEN = Path(__file__).parent / "golden"
PREFIX = "app.golden"
KEY = "0123456789abcdef-golden"  # a Hosted Graphite API key made up for this test
START = 1_700_000_000.0
LONG = ".".join(["x" * 250] * 16 + ["y" * 75])  # a valid key whose path is too long to send


class Doubled(Counter):
    """A counter subclass that reads differently (never taken for a plain counter by the fast path)."""

    __slots__ = ()

    def fields(self) -> dict[str, int | float]:
        return {"count": 2 * self.get_count()}


def mixed_registry(clock: ManualClock) -> MetricsRegistry:
    """Every metric type, tagged and not, several reservoirs, bad values: 300 metrics or so."""
    registry = MetricsRegistry(clock=clock)
    for index in range(2 * 128 + 7):  # more than two fast-path slices of plain counters
        registry.counter(f"hits.c{index:03d}").inc(index)
    registry.counter("requests", tags={"zone": "eu west", "code": "200"}).inc(41)
    registry.counter("requests", tags={"zone": "eu west", "code": "500"}).inc(2)
    registry.counter("bad name!/with spaces").inc(5)
    registry.counter(LONG).inc()  # left out and counted as rejected in every report
    registry.counter("hits.huge").inc(2**1024)  # no float: refused on the counters' fast path, counted
    registry.add("doubled", Doubled())
    registry.gauge("queue", 7.5)
    registry.gauge("workers", 12)
    registry.gauge("unset")  # NaN: reported as nothing
    registry.gauge("load", lambda: 0.25, tags={"host": "a1"})
    registry.gauge("broken", lambda: 1 / 0)  # left out, counted in registry.gauge_errors
    registry.gauge("text", lambda: "three")  # a non-number: left out too
    registry.gauge("huge", -(2**1024))  # no float: refused where it becomes a point, counted; null in JSON
    registry.meter("logins").mark(3)
    registry.meter("logouts", tags={"zone": "eu"})
    sketch = registry.histogram("sizes")
    for value in [10.0] * 2044 + [11.0, 9.0, 17.0, 3.0]:  # 2048 values: one fold; mean 10, m2 100
        sketch.update(value)
    for value in (-4.0, 0.0, 12.5, 1e6):
        sketch.update(value)  # pending: negative, zero and far buckets
    small = registry.histogram("few", tags={"kind": "exact"})
    for value in (1.0, 2.0, 4.0):
        small.update(value)
    decaying = registry.histogram("decaying", ExpDecayingReservoir())
    window = registry.histogram("window", SlidingTimeWindowReservoir(60.0))
    for value in (3.0, 5.0, 8.0):
        decaying.update(value)
        window.update(value)
    timer = registry.timer("latency")
    for seconds in (0.0125, 0.25, 0.5, 0.0625):
        timer.update(seconds)
    registry.timer("slow", unit="s", tags={"path": "/x y"}).update(1.5)
    registry.timer("idle", LogBucketSketch())
    registry.timer("sampled", ExpDecayingReservoir(), unit="us").update(0.002)
    clock.advance(7.0)  # one meter tick due at the first read
    registry.meter("logins").mark(2)
    return registry


def evolve(registry: MetricsRegistry, clock: ManualClock, step: int) -> None:
    """What happens between two reports: values change (step 1), then the registry grows (step 2)."""
    clock.advance(60.0)
    registry.counter("hits.c001").inc(100)
    registry.counter("requests", tags={"zone": "eu west", "code": "500"}).inc()
    registry.meter("logins").mark(5)
    registry.histogram("sizes").update(20.0)
    registry.timer("latency").update(0.125)
    registry.gauge("queue", 1.0 + step)
    if step == 2:
        registry.counter("new.after.learning").inc(3)
        registry.histogram("new.histogram").update(2.0)


Collector = Callable[[MetricsRegistry, ManualClock], Iterator[list[bytes]]]


def three_reports(registry: MetricsRegistry, clock: ManualClock, take: Callable[[], list[bytes]]) -> Iterator[list[bytes]]:
    """``take()`` three times: learning the layout, through the layout memo, and after the registry grew."""
    for step in range(3):
        if step:
            evolve(registry, clock, step)
        yield take()


def collected(reporter: BatchReporter, clock: ManualClock) -> Callable[[], list[bytes]]:
    return lambda: list(reporter.collect(int(clock.time())).messages)


def carbon(protocol: str, buckets: bool) -> Collector:
    def collect(registry: MetricsRegistry, clock: ManualClock) -> Iterator[list[bytes]]:
        reporter = CarbonReporter(registry, "127.0.0.1", 9, protocol, PREFIX, export_buckets=buckets, clock=clock)
        yield from three_reports(registry, clock, collected(reporter, clock))
        reporter.close()

    return collect


def hosted(transport: str) -> Collector:
    def collect(registry: MetricsRegistry, clock: ManualClock) -> Iterator[list[bytes]]:
        reporter = HostedGraphiteReporter(registry, KEY, transport, PREFIX, port=9, export_buckets=True, clock=clock)
        yield from three_reports(registry, clock, collected(reporter, clock))
        reporter.close()

    return collect


def stream_sends(registry: MetricsRegistry, clock: ManualClock) -> Iterator[list[bytes]]:
    """What a stream transport is handed: the report's messages joined into sends, after a flush."""
    transport = MemoryTransport(stream=True)
    encode = functools.partial(plaintext_messages, max_bytes=4096)
    reporter = BatchReporter(registry, transport, encode, name="stream", prefix=PREFIX, clock=clock)

    def take() -> list[bytes]:
        reporter.collect(int(clock.time()))
        assert reporter.flush() is True
        sent, transport.sent = transport.sent, []
        return sent

    return three_reports(registry, clock, take)


def console(registry: MetricsRegistry, clock: ManualClock) -> Iterator[list[bytes]]:
    return three_reports(registry, clock, lambda: [format_report(int(clock.time()), registry.snapshot()).encode()])


def json_snapshot(registry: MetricsRegistry, clock: ManualClock) -> Iterator[list[bytes]]:
    return three_reports(registry, clock, lambda: [snapshot_json(registry), str(registry.gauge_errors).encode()])


CASES: dict[str, Collector] = {
    "pickle": carbon("pickle", False),
    "pickle-buckets": carbon("pickle", True),
    "plaintext": carbon("plaintext", False),
    "plaintext-buckets": carbon("plaintext", True),
    "udp-buckets": carbon("udp", True),
    "hostedgraphite-tcp": hosted("tcp"),
    "hostedgraphite-udp": hosted("udp"),
    "stream-sends": stream_sends,
    "console": console,
    "json": json_snapshot,
}


def run(case: str) -> list[list[bytes]]:
    clock = ManualClock(START)
    return list(CASES[case](mixed_registry(clock), clock))


def digest(reports: list[list[bytes]]) -> list[list[list[int | str]]]:
    return [[[len(message), hashlib.sha256(message).hexdigest()] for message in report] for report in reports]


def readable(case: str, reports: list[list[bytes]]) -> str | None:
    """The text of a text format (plaintext lines, console, JSON), to diff when the digests differ."""
    if case.startswith("pickle"):
        return None
    return "\n=== next report ===\n".join(b"".join(report).decode() for report in reports)


def write() -> None:
    GOLDEN.mkdir(exist_ok=True)
    digests = {}
    for case in CASES:
        reports = run(case)
        digests[case] = digest(reports)
        text = readable(case, reports)
        if text is not None:
            (GOLDEN / f"{case}.txt").write_text(text)
    (GOLDEN / "digests.json").write_text(json.dumps(digests, indent=1) + "\n")


@pytest.mark.parametrize("case", sorted(CASES))
def test_report_bytes_are_the_golden_ones(case: str) -> None:
    reports = run(case)
    assert len(reports) == 3 and all(reports)
    text = readable(case, reports)
    if text is not None:  # a readable diff first
        assert text == (GOLDEN / f"{case}.txt").read_text()
    assert digest(reports) == json.loads((GOLDEN / "digests.json").read_text())[case]


def test_the_golden_registry_covers_what_it_must() -> None:
    """Each kind of metric and of bad value is really in the reports the goldens pin."""
    text = (GOLDEN / "plaintext-buckets.txt").read_text()
    for needle in (
        "app.golden.hits.c262.count 262 ",
        "app.golden.requests.count;code=500;zone=eu_west 2 ",
        "app.golden.bad_name__with_spaces.count 5 ",
        "app.golden.doubled.count 0 ",
        "app.golden.queue.value 7.5 ",
        "app.golden.load.value;host=a1 0.25 ",
        "app.golden.logins.1m_rate ",
        "app.golden.sizes.buckets.0 1 ",
        "app.golden.sizes.buckets.-3_97508 1 ",
        "app.golden.sizes.buckets.10_1765 2044 ",
        "app.golden.sizes.std_dev ",
        "app.golden.few.50_percentile;kind=exact ",
        "app.golden.decaying.75_percentile 8.0 ",
        "app.golden.window.max 8.0 ",
        "app.golden.latency.15m_rate ",
        "app.golden.slow.buckets.",
        "app.golden.sampled.avg 2000.0 ",
        "app.golden.new.after.learning.count 3 ",
        "app.golden.graphmetrics.carbon.rejected_points.count 3 ",
    ):
        assert needle in text, needle
    assert "xxxx" not in text and "broken" not in text and ".text." not in text and "unset" not in text
    assert "huge" not in text
    assert '"huge":{"value":null}' in (GOLDEN / "json.txt").read_text()
    assert (GOLDEN / "json.txt").read_text().split("\n=== next report ===\n")[0].endswith("}2")  # two gauge errors


def test_the_reports_equal_the_general_path() -> None:
    """Through the layout memo or not, a report is the general flatten of the snapshot, encoded."""
    clock = ManualClock(START)
    registry = mixed_registry(clock)
    reporter = CarbonReporter(registry, "127.0.0.1", 9, "plaintext", PREFIX, export_buckets=True, clock=clock)
    for step in range(3):
        if step:
            evolve(registry, clock, step)
        timestamp = int(clock.time())
        sent = b"".join(reporter.collect(timestamp).messages)
        flat = flatten(registry.snapshot(), PREFIX, registry.bucket_snapshot())
        assert sent.count(b"\n") == len(flat.points)
        general = b"".join(plaintext_lines(timestamp, flat.points))
        # the reporter's own counters read between the two: compare everything else
        mine = [line for line in sent.split(b"\n") if b".graphmetrics." not in line]
        theirs = [line for line in general.split(b"\n") if b".graphmetrics." not in line]
        assert mine == theirs
    reporter.close()


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: test_report_golden.py --write  (regenerates the golden bytes: review the diff)")
    write()
