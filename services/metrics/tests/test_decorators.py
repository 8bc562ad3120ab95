"""Decorators: bare and configured forms, explicit registries, late global registry changes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from graphmetrics import MetricsRegistry, global_registry, set_global_registry
from graphmetrics.decorators import count_calls, hist_calls, meter_calls, time_calls


@pytest.fixture
def registry() -> Iterator[MetricsRegistry]:
    saved = global_registry()
    fresh = MetricsRegistry()
    set_global_registry(fresh)
    yield fresh
    set_global_registry(saved)


@count_calls
def a() -> None: ...


@meter_calls
def b() -> None: ...


@hist_calls
def c(x: object) -> object:
    return x


@time_calls
def d() -> None: ...


def test_bare_decorators_name_metrics_after_the_function(registry: MetricsRegistry) -> None:
    a()
    a()
    b()
    c(3.5)
    c(True)  # not a measurement: bools are skipped, as pyformance skips non-numbers
    c("x")
    d()
    snapshot = registry.snapshot()
    assert snapshot["a_calls"] == {"count": 2}
    assert snapshot["b_calls"]["count"] == 1
    assert snapshot["c_calls"]["count"] == 1 and snapshot["c_calls"]["max"] == 3.5
    assert snapshot["d_calls"]["count"] == 1
    assert a.__name__ == "a" and c.__doc__ is None


def test_configured_decorators_and_explicit_registry(registry: MetricsRegistry) -> None:
    own = MetricsRegistry()

    @count_calls(name="jobs.started", registry=own)
    def job() -> str:
        return "done"

    @time_calls(name="jobs.duration")
    def slow() -> None:
        raise RuntimeError("failed")

    assert job() == "done"
    with pytest.raises(RuntimeError):
        slow()
    assert own.snapshot() == {"jobs.started": {"count": 1}}
    assert registry.snapshot()["jobs.duration"]["count"] == 1  # failures are timed too


def test_the_global_registry_is_looked_up_at_call_time(registry: MetricsRegistry) -> None:
    @count_calls(name="f_calls")
    def f() -> None: ...

    f()
    later = MetricsRegistry()
    set_global_registry(later)
    f()
    assert registry.snapshot()["f_calls"] == {"count": 1} and later.snapshot()["f_calls"] == {"count": 1}


def test_nested_function_names_are_sanitised(registry: MetricsRegistry) -> None:
    def outer() -> None:
        @count_calls
        def inner() -> None: ...

        inner()

    outer()
    assert list(registry.snapshot()) == ["test_nested_function_names_are_sanitised._locals_.outer._locals_.inner_calls"]
