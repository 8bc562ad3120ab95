"""Decorators that count, meter, histogram or time every call of a function (pyformance's four).

Each one names its metric ``<qualified function name>_calls`` unless given ``name=``, and records into
the global registry (looked up at call time, so ``set_global_registry`` later still applies) unless
given ``registry=``. All work bare (``@count_calls``) or configured (``@count_calls(name="x")``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from graphmetrics.registry import MetricsRegistry, global_registry

__all__ = ["count_calls", "meter_calls", "hist_calls", "time_calls"]

def _decorator(
    wrap: Callable[[Callable[..., Any], Callable[[], MetricsRegistry], str], Callable[..., Any]],
) -> Any:
    """Turn ``wrap(fn, registry_getter, name)`` into a decorator usable bare or with keywords."""

    def decorator(
        fn: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        registry: MetricsRegistry | None = None,
    ) -> Any:
        def apply(target: Callable[..., Any]) -> Callable[..., Any]:
            metric_name = name if name is not None else f"{target.__qualname__}_calls"
            get_registry = global_registry if registry is None else (lambda: registry)
            return functools.wraps(target)(wrap(target, get_registry, metric_name))

        return apply if fn is None else apply(fn)

    functools.update_wrapper(decorator, wrap)
    return decorator


@_decorator
def count_calls(fn: Callable[..., Any], registry: Callable[[], MetricsRegistry], name: str) -> Callable[..., Any]:
    """Count the calls in a counter."""

    def counted(*args: Any, **kwargs: Any) -> Any:
        registry().counter(name).inc()
        return fn(*args, **kwargs)

    return counted


@_decorator
def meter_calls(fn: Callable[..., Any], registry: Callable[[], MetricsRegistry], name: str) -> Callable[..., Any]:
    """Mark a meter on each call (call rate)."""

    def metered(*args: Any, **kwargs: Any) -> Any:
        registry().meter(name).mark()
        return fn(*args, **kwargs)

    return metered


@_decorator
def hist_calls(fn: Callable[..., Any], registry: Callable[[], MetricsRegistry], name: str) -> Callable[..., Any]:
    """Add each numeric return value to a histogram (pyformance's version fails on every call)."""

    def histogrammed(*args: Any, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        if isinstance(result, (int, float)) and not isinstance(result, bool):
            registry().histogram(name).update(result)
        return result

    return histogrammed


@_decorator
def time_calls(fn: Callable[..., Any], registry: Callable[[], MetricsRegistry], name: str) -> Callable[..., Any]:
    """Time each call (exceptions included) with a timer."""

    def timed(*args: Any, **kwargs: Any) -> Any:
        with registry().timer(name).time():
            return fn(*args, **kwargs)

    return timed
