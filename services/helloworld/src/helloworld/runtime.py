"""Runtime metrics of the process itself, reported with the application's under ``runtime.``.

Reactor lag comes first: a single-threaded server's latency is its queueing delay, and how late a periodic
call fires is a direct reading of it. The rest (memory, CPU, descriptors, GC, threads) explain the lag.
Readings come from ``/proc`` and the standard library only, so there is no dependency to install.
"""

from __future__ import annotations

import gc
import os
import resource
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["ReactorLagProbe", "process_gauges", "register_process_gauges", "LAG_METRIC"]

LAG_METRIC = "runtime.reactor_lag"
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _DelayedCall(Protocol):
    def cancel(self) -> None: ...

    def active(self) -> bool: ...


class _ReactorTime(Protocol):
    """The part of ``IReactorTime`` the probe needs (a ``twisted.internet.task.Clock`` in tests)."""

    def seconds(self) -> float: ...

    def callLater(self, delay: float, callable: Callable[..., Any], *args: Any, **kw: Any) -> _DelayedCall: ...


class _Histogram(Protocol):
    def update(self, value: float) -> None: ...


class ReactorLagProbe:
    """Schedules a call every ``interval`` seconds and records, in ms, how much later than due it ran.

    Each call is scheduled from the time the previous one actually ran, so a long stall is recorded once
    as one large lag instead of as a burst of catch-up calls.
    """

    def __init__(self, reactor: _ReactorTime, histogram: _Histogram, interval: float = 0.5) -> None:
        if not interval > 0:
            raise ValueError(f"interval must be positive, got {interval!r}")
        self._reactor = reactor
        self._histogram = histogram
        self._interval = interval
        self._due = 0.0
        self._call: _DelayedCall | None = None

    def start(self) -> None:
        if self._call is None:
            self._schedule()

    def stop(self) -> None:
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    def _schedule(self) -> None:
        self._due = self._reactor.seconds() + self._interval
        self._call = self._reactor.callLater(self._interval, self._fire)

    def _fire(self) -> None:
        lag = self._reactor.seconds() - self._due
        self._histogram.update(max(lag, 0.0) * 1000.0)
        self._schedule()


def _rss_bytes() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * _PAGE_SIZE


def _cpu_seconds() -> float:
    return time.process_time()


def _open_fds() -> int:
    # The directory listing holds one descriptor of its own while it runs: not counted.
    return len(os.listdir("/proc/self/fd")) - 1


def _gc_collections() -> int:
    return sum(generation["collections"] for generation in gc.get_stats())


def _threads() -> int:
    return threading.active_count()


def _peak_rss_bytes() -> int:
    # Without /proc (macOS, BSD) the peak is the best stdlib answer; Linux reports it in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def process_gauges() -> dict[str, Callable[[], float]]:
    """The runtime gauges this platform can read, by metric name; a source it lacks is left out."""
    gauges: dict[str, Callable[[], float]] = {
        "runtime.cpu_seconds": _cpu_seconds,
        "runtime.gc_collections": _gc_collections,
        "runtime.threads": _threads,
    }
    if os.path.exists("/proc/self/statm"):
        gauges["runtime.rss_bytes"] = _rss_bytes
    else:
        gauges["runtime.rss_bytes"] = _peak_rss_bytes
    if os.path.isdir("/proc/self/fd"):
        gauges["runtime.open_fds"] = _open_fds
    return gauges


class _GaugeRegistry(Protocol):
    def gauge(self, name: str, fn_or_value: Any = None, tags: Any = None) -> Any: ...


def register_process_gauges(registry: _GaugeRegistry) -> list[str]:
    """Register every gauge of :func:`process_gauges` as a callback gauge; return their names."""
    gauges = process_gauges()
    for name, read in gauges.items():
        registry.gauge(name, read)
    return sorted(gauges)
