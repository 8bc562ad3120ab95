"""Sending the mix: pacing at a fixed rate, bounded in count and time, with a one-line summary per minute.

Pacing, stopping and summaries take the clock and ``sleep`` as arguments so tests drive them without
waiting; the HTTP side is one keep-alive ``http.client`` connection (stdlib only: the image has no more).
"""

from __future__ import annotations

import http.client
import logging
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .mix import RequestMix

__all__ = ["Settings", "SettingsError", "load_settings", "Tally", "HttpSender", "run"]

log = logging.getLogger("helloworld.loadgen")

SUMMARY_EVERY = 60.0
MAX_SLEEP = 0.5
MAX_CATCH_UP = 1.0
"""After a stall longer than this (seconds), pacing restarts from now instead of bursting to catch up."""


class SettingsError(ValueError):
    """An environment value the load generator cannot use."""


@dataclass(frozen=True)
class Settings:
    target_url: str = "http://127.0.0.1:8001/"
    rate: float = 20.0
    duration: float = 0.0
    """Seconds; 0 runs until ``max_requests`` or a stop signal."""
    max_requests: int = 1_000_000
    bad_fraction: float = 0.02
    seed: int | None = None
    timeout: float = 5.0


def _number(environ: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not low <= value <= high:
        raise SettingsError(f"{name}={raw!r} is invalid: expected a number from {low:g} to {high:g}")
    return value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read ``TARGET_URL``, ``RATE``, ``DURATION``, ``MAX_REQUESTS``, ``BAD_FRACTION`` and ``SEED``."""
    env = os.environ if environ is None else environ
    url = env.get("TARGET_URL", "").strip() or Settings.target_url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"TARGET_URL={url!r} is invalid: expected http://host:port/")
    seed = _number(env, "SEED", -1, -1, 2**63)
    return Settings(
        target_url=url,
        rate=_number(env, "RATE", 20.0, 0.01, 100_000.0),
        duration=_number(env, "DURATION", 0.0, 0.0, 366 * 86400.0),
        max_requests=int(_number(env, "MAX_REQUESTS", 1_000_000, 1, 10**12)),
        bad_fraction=_number(env, "BAD_FRACTION", 0.02, 0.0, 1.0),
        seed=None if seed < 0 else int(seed),
    )


@dataclass
class Tally:
    """Outcomes since the start and since the last summary."""

    sent: int = 0
    unexpected: int = 0
    """Answers whose status differs from the one the mix planned (a service bug or a proxy error)."""
    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    window_sent: int = 0

    def record(self, status: str, expected: str, seconds: float) -> None:
        self.sent += 1
        self.window_sent += 1
        self.statuses[status] += 1
        if status != expected:
            self.unexpected += 1
        self.latencies.append(seconds)

    def summary(self, window_seconds: float) -> str:
        """One log line about the window since the previous summary; starts a new window."""
        ordered = sorted(self.latencies)

        def quantile(q: float) -> float:
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0 if ordered else math.nan

        statuses = " ".join(f"{status}={count}" for status, count in sorted(self.statuses.items()))
        line = (
            f"sent={self.sent} last={self.window_sent} rate={self.window_sent / max(window_seconds, 1e-9):.1f}/s "
            f"p50={quantile(0.5):.1f}ms p99={quantile(0.99):.1f}ms unexpected={self.unexpected} [{statuses}]"
        )
        self.latencies.clear()
        self.window_sent = 0
        return line


Send = Callable[[str], str]
"""Sends one request for a path; returns the status code as text, or an error name such as ``"error"``."""


def run(
    settings: Settings,
    mix: RequestMix,
    send: Send,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    stopping: Callable[[], bool] = lambda: False,
) -> Tally:
    """Send ``mix`` through ``send`` at ``settings.rate`` until a bound is hit or ``stopping()`` is true."""
    tally = Tally()
    start = window_start = base = clock()
    paced = 0
    while tally.sent < settings.max_requests and not stopping():
        now = clock()
        if settings.duration and now - start >= settings.duration:
            break
        due = base + paced / settings.rate
        if due > now:
            sleep(min(due - now, MAX_SLEEP))  # short naps: a stop request is seen within MAX_SLEEP
            continue
        if now - due > MAX_CATCH_UP:
            base, paced = now, 0
        planned = mix.next()
        sent_at = clock()
        status = send(planned.path)
        done = clock()
        tally.record(status, str(planned.expected_status), done - sent_at)
        paced += 1
        if done - window_start >= SUMMARY_EVERY:
            log.info("%s", tally.summary(done - window_start))
            window_start = done
    log.info("finished: %s", tally.summary(clock() - window_start))
    return tally


class HttpSender:
    """A keep-alive HTTP/1.1 client for one target; reconnects after any failure."""

    def __init__(self, target_url: str, timeout: float = 5.0) -> None:
        parts = urlsplit(target_url)
        self._connection_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port
        self._base = parts.path.rstrip("/")
        self._timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def __call__(self, path: str) -> str:
        try:
            if self._connection is None:
                self._connection = self._connection_class(self._host, self._port, timeout=self._timeout)
            self._connection.request("GET", self._base + path)
            response = self._connection.getresponse()
            response.read()
            if response.will_close:
                self.close()
            return str(response.status)
        except (OSError, http.client.HTTPException) as error:
            self.close()
            return type(error).__name__

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
