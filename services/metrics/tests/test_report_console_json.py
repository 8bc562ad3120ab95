"""The console report (for humans) and the JSON snapshot (for an HTTP endpoint)."""

from __future__ import annotations

import io
import json
import math

from graphmetrics.registry import MetricsRegistry
from graphmetrics.reporters.console import ConsoleReporter, format_report
from graphmetrics.reporters.jsonsnapshot import snapshot_json


def test_format_report_groups_fields_under_each_metric() -> None:
    text = format_report(1_700_000_000, {"b": {"count": 2}, "a;env=prod": {"value": 0.5, "max": 12}})
    assert text.splitlines() == [
        "-- 2023-11-14T22:13:20Z (1700000000) " + "-" * 40,
        "a;env=prod",
        "    value = 0.5",
        "    max   = 12",
        "b",
        "    count = 2",
    ]


def test_console_writes_on_flush_not_on_collect() -> None:
    registry = MetricsRegistry()
    registry.counter("hello_called").inc(3)
    stream = io.StringIO()
    reporter = ConsoleReporter(registry, stream)
    reporter.collect(60)
    assert stream.getvalue() == ""
    assert reporter.flush() is True
    assert "hello_called\n    count = 3\n" in stream.getvalue()
    assert reporter.retry_in is None
    reporter.flush()
    assert stream.getvalue().count("hello_called") == 1  # nothing written twice


def test_json_snapshot_is_valid_json_with_null_for_non_finite_values() -> None:
    class WithNaN(MetricsRegistry):
        def snapshot(self) -> dict:
            return {**super().snapshot(), "odd": {"value": math.nan, "max": math.inf}}

    registry = WithNaN()
    registry.counter("hello_called", tags={"region": "eu"}).inc(2)
    document = json.loads(snapshot_json(registry))
    assert document == {"metrics": {"hello_called;region=eu": {"count": 2}, "odd": {"value": None, "max": None}}}


def test_an_int_too_long_for_str_costs_the_console_report_only_its_own_line() -> None:
    registry = MetricsRegistry()
    registry.counter("huge").inc(10**5000)  # str() of it raises: over 4300 digits
    registry.counter("near").inc(10**400)
    for i in range(40):
        registry.counter(f"c{i}").inc(i + 1)
    stream = io.StringIO()
    reporter = ConsoleReporter(registry, stream)
    reporter.collect(60)
    assert reporter.flush() is True
    text = stream.getvalue()
    assert all(f"c{i}\n    count = {i + 1}\n" in text for i in range(40))
    assert "huge\n    count = not shown (an int of 16610 bits; no point can carry it)\n" in text
    assert f"near\n    count = {10**400}\n" in text  # shown: people may read what carbon refuses
