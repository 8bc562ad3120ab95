"""The service's configuration, read once from the environment and validated before anything starts.

A bad value stops the process with one message naming the variable, what it holds and what it should hold,
because a service that starts half-configured reports to nowhere and nobody notices until a graph is empty.
Secrets (the Hosted Graphite key) are never echoed: not in error messages, not in ``repr``.
"""

from __future__ import annotations

import logging
import math
import os
import socket
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from graphmetrics.names import check_name, sanitize_name
from graphmetrics.reporters.carbon import PROTOCOLS
from graphmetrics.reporters.hostedgraphite import (
    DEFAULT_TRANSPORT,
    ENV_KEY,
    ENV_KEY_FILE,
    PORTS,
    looks_like_key,
    resolve_api_key,
)
from graphmetrics.reporters.transport import check_host, check_port
from graphmetrics.runners.schedule import check_interval

__all__ = ["Config", "ConfigError", "load_config", "default_instance"]

T = TypeVar("T")

MAX_REPORT_INTERVAL = 3600.0
"""The service's own bound: a longer interval is most likely milliseconds typed as seconds."""


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message is meant for the operator as it is."""


@dataclass(frozen=True)
class Config:
    carbon_host: str = "127.0.0.1"
    """Empty: no carbon reporting."""
    carbon_port: int = 2004
    carbon_protocol: str = "pickle"
    report_interval: float = 10.0
    metrics_prefix: str = "helloworld"
    instance: str = "localhost"
    listen_port: int = 8001
    log_level: str = "INFO"
    hostedgraphite_api_key: str | None = field(default=None, repr=False)
    hostedgraphite_host: str | None = None
    hostedgraphite_port: int | None = None
    hostedgraphite_transport: str = DEFAULT_TRANSPORT

    @property
    def metrics_root(self) -> str:
        """``<prefix>.<instance>``: what every metric path of this replica starts with."""
        return f"{self.metrics_prefix}.{self.instance}"

    @property
    def carbon_enabled(self) -> bool:
        return bool(self.carbon_host)


def default_instance(hostname: str) -> str:
    """``hostname`` as one path node: sanitised, and its dots (``a.example.org``) turned into ``_``."""
    try:
        return sanitize_name(hostname).replace(".", "_")
    except ValueError:
        return "unknown"


class _Reader:
    """Reads variables from one environment mapping, each checked by the rule of the library that uses it.

    A library's ``ValueError`` becomes a :class:`ConfigError` naming the variable and its value.
    """

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def raw(self, name: str) -> str | None:
        return self._environ.get(name)

    def bad(self, name: str, why: str) -> ConfigError:
        value = self._environ.get(name, "")
        if looks_like_key(value):  # maybe the API key in the wrong variable: name it, never show it
            secret = value.strip()
            return ConfigError(f"{name}=(a value that looks like an API key, not shown) is invalid: "
                               f"{why.replace(secret, '(that value)')}")
        return ConfigError(f"{name}={value!r} is invalid: {why}")

    def checked(self, name: str, default: T, check: Callable[[str], T]) -> T:
        """``check(value)`` of the stripped value, ``default`` when the variable is unset or empty."""
        value = (self.raw(name) or "").strip()
        if not value:
            return default
        try:
            return check(value)
        except ValueError as error:
            raise self.bad(name, str(error)) from None

    def choice(self, name: str, default: str, choices: Collection[str], *, upper: bool = False) -> str:
        def check(value: str) -> str:
            value = value.upper() if upper else value.lower()
            if value not in choices:
                raise ValueError("expected one of " + ", ".join(choices))
            return value

        return self.checked(name, default, check)

    def api_key(self) -> str | None:
        """The Hosted Graphite key from ``HOSTEDGRAPHITE_API_KEY`` or the file ``..._FILE`` names, if either is set.

        Read and checked by graphmetrics' own rules now, so a bad key stops the start instead of the reporter.
        """
        if not (self.raw(ENV_KEY) or self.raw(ENV_KEY_FILE)):
            return None
        try:
            key, _source = resolve_api_key(None, self._environ)
        except ValueError as error:  # its message never shows the key
            raise ConfigError(str(error)) from None
        return key


def _interval(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError("expected a whole number of seconds") from None
    if math.isfinite(seconds) and seconds > MAX_REPORT_INTERVAL:
        raise ValueError(f"expected at most {MAX_REPORT_INTERVAL:g} seconds")
    return check_interval(seconds)


def _port(value: str) -> int:
    if not (value.isascii() and value.isdigit()):
        raise ValueError("expected a port number")
    return check_port(int(value))


def _listen_port(value: str) -> int:
    try:
        return 0 if value == "0" else _port(value)
    except ValueError as error:
        raise ValueError(f"{error} (or 0: any free port)") from None


def _node(value: str) -> str:
    if "." in value:
        raise ValueError("expected one path node, without dots")
    return check_name(value)


def _level(value: str) -> str:
    """A level name the stdlib knows (its rule: ``WARN`` and ``NOTSET`` too)."""
    value = value.upper()
    if not isinstance(logging.getLevelName(value), int):
        raise ValueError("expected a logging level: DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return value


def load_config(
    environ: Mapping[str, str] | None = None, hostname: Callable[[], str] = socket.gethostname
) -> Config:
    """Build the :class:`Config` from ``environ`` (default ``os.environ``); raise :class:`ConfigError`."""
    env = _Reader(os.environ if environ is None else environ)
    protocol = env.choice("CARBON_PROTOCOL", "pickle", PROTOCOLS)
    carbon_host = env.raw("CARBON_HOST")
    listen_port = env.checked("LISTEN_PORT", 8001, _listen_port)
    return Config(
        carbon_host="127.0.0.1" if carbon_host is None else env.checked("CARBON_HOST", "", check_host),
        carbon_port=env.checked("CARBON_PORT", PROTOCOLS[protocol], _port),
        carbon_protocol=protocol,
        report_interval=env.checked("REPORT_INTERVAL", 10.0, _interval),
        metrics_prefix=env.checked("METRICS_PREFIX", "helloworld", check_name),
        instance=env.checked("INSTANCE", "", _node) or default_instance(hostname()),
        listen_port=listen_port,
        log_level=env.checked("LOG_LEVEL", "INFO", _level),
        hostedgraphite_api_key=env.api_key(),
        hostedgraphite_host=env.checked("HOSTEDGRAPHITE_HOST", None, check_host),
        hostedgraphite_port=env.checked("HOSTEDGRAPHITE_PORT", None, _port),
        hostedgraphite_transport=env.choice("HOSTEDGRAPHITE_TRANSPORT", DEFAULT_TRANSPORT, PORTS),
    )
