"""Gauges: set values, callbacks, and what a snapshot reports for each."""

from __future__ import annotations

import math

import pytest

from graphmetrics.gauges import CallbackGauge, Gauge, SimpleGauge


def test_simple_gauge_reports_nothing_until_set() -> None:
    gauge = SimpleGauge()
    assert math.isnan(gauge.get_value())
    assert gauge.fields() == {}
    gauge.set_value(3.5)
    assert gauge.fields() == {"value": 3.5}
    gauge.set_value(7)
    assert gauge.get_value() == 7 and gauge.fields() == {"value": 7}


def test_callback_gauge_reads_at_snapshot_time() -> None:
    items: list[int] = []
    gauge = CallbackGauge(lambda: len(items))
    assert gauge.fields() == {"value": 0}
    items.extend([1, 2])
    assert gauge.fields() == {"value": 2}


def test_callback_must_be_callable() -> None:
    with pytest.raises(TypeError, match="callable"):
        CallbackGauge(3)  # type: ignore[arg-type]


def test_values_that_cannot_be_reported() -> None:
    assert CallbackGauge(lambda: True).fields() == {"value": 1}
    assert CallbackGauge(lambda: math.inf).fields() == {}
    with pytest.raises(TypeError, match="must be a number"):
        CallbackGauge(lambda: "3").fields()


def test_pyformance_style_subclass() -> None:
    class QueueGauge(Gauge):
        def __init__(self, queue: list[int]) -> None:
            super().__init__()
            self.queue = queue

        def get_value(self) -> float:
            return len(self.queue)

    assert QueueGauge([1, 2, 3]).fields() == {"value": 3}
    with pytest.raises(NotImplementedError):
        Gauge().get_value()
