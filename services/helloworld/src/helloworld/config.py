"""The service's configuration, read once from the environment and validated before anything starts.

A bad value stops the process with one message naming the variable, what it holds and what it should hold,
because a service that starts half-configured reports to nowhere and nobody notices until a graph is empty.
Secrets (the Hosted Graphite key) are never echoed: not in error messages, not in ``repr``.
"""

from __future__ import annotations

import math
import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from graphmetrics.names import sanitize_name
from graphmetrics.reporters.hostedgraphite import ENV_KEY, ENV_KEY_FILE, resolve_api_key

__all__ = ["Config", "ConfigError", "load_config", "default_instance"]

CARBON_PROTOCOLS = ("pickle", "plaintext", "udp")
HOSTEDGRAPHITE_TRANSPORTS = ("tcp", "tls", "udp")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MIN_REPORT_INTERVAL = 1.0
"""graphmetrics reports whole-second timestamps on interval boundaries: shorter intervals cannot work."""
MAX_REPORT_INTERVAL = 3600.0

_NODE = re.compile(r"[A-Za-z0-9_-]{1,200}")
_HOST = re.compile(r"[A-Za-z0-9._:-]{1,253}|\[[0-9A-Fa-f:.]+\]")
_PORT = re.compile(r"[0-9]{1,5}")


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
    hostedgraphite_transport: str = "tcp"

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
    """Reads variables from one environment mapping, raising :class:`ConfigError` with a uniform message."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def raw(self, name: str) -> str | None:
        return self._environ.get(name)

    def bad(self, name: str, expected: str) -> ConfigError:
        return ConfigError(f"{name}={self._environ.get(name, '')!r} is invalid: expected {expected}")

    def choice(self, name: str, default: str, choices: tuple[str, ...], *, upper: bool = False) -> str:
        value = self.raw(name)
        if value is None or value == "":
            return default
        value = value.strip().upper() if upper else value.strip().lower()
        if value not in choices:
            raise self.bad(name, "one of " + ", ".join(choices))
        return value

    def port(self, name: str, *, allow_zero: bool = False) -> int | None:
        """The port in ``name``, ``None`` if unset."""
        value = self.raw(name)
        if value is None or value == "":
            return None
        low = 0 if allow_zero else 1
        if not _PORT.fullmatch(value.strip()) or not low <= int(value) <= 65535:
            raise self.bad(name, f"a port number from {low} to 65535")
        return int(value)

    def seconds(self, name: str, default: float, low: float, high: float) -> float:
        value = self.raw(name)
        if value is None or value == "":
            return default
        try:
            seconds = float(value)
        except ValueError:
            raise self.bad(name, f"a number of seconds from {low:g} to {high:g}") from None
        if not math.isfinite(seconds) or not low <= seconds <= high:
            raise self.bad(name, f"a number of seconds from {low:g} to {high:g}")
        return seconds

    def host(self, name: str, default: str, *, allow_empty: bool = False) -> str:
        value = self.raw(name)
        if value is None:
            return default
        value = value.strip()
        if value == "" and allow_empty:
            return ""
        if not _HOST.fullmatch(value):
            raise self.bad(name, "a host name or IP address" + (" (or empty to disable)" if allow_empty else ""))
        return value

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


def load_config(
    environ: Mapping[str, str] | None = None, hostname: Callable[[], str] = socket.gethostname
) -> Config:
    """Build the :class:`Config` from ``environ`` (default ``os.environ``); raise :class:`ConfigError`."""
    env = _Reader(os.environ if environ is None else environ)
    protocol = env.choice("CARBON_PROTOCOL", "pickle", CARBON_PROTOCOLS)
    prefix = (env.raw("METRICS_PREFIX") or "helloworld").strip()
    try:
        clean_prefix = sanitize_name(prefix)
    except ValueError:
        clean_prefix = ""
    if clean_prefix != prefix:
        raise env.bad("METRICS_PREFIX", "a dotted name of letters, digits, '_' and '-' (e.g. apps.helloworld)")
    instance = (env.raw("INSTANCE") or "").strip() or default_instance(hostname())
    if not _NODE.fullmatch(instance):
        raise env.bad("INSTANCE", "one path node of at most 200 letters, digits, '_' and '-'")
    level = env.choice("LOG_LEVEL", "INFO", LOG_LEVELS, upper=True)
    api_key = env.api_key()
    carbon_port = env.port("CARBON_PORT")
    listen_port = env.port("LISTEN_PORT", allow_zero=True)
    return Config(
        carbon_host=env.host("CARBON_HOST", "127.0.0.1", allow_empty=True),
        carbon_port=(2004 if protocol == "pickle" else 2003) if carbon_port is None else carbon_port,
        carbon_protocol=protocol,
        report_interval=env.seconds("REPORT_INTERVAL", 10.0, MIN_REPORT_INTERVAL, MAX_REPORT_INTERVAL),
        metrics_prefix=prefix,
        instance=instance,
        listen_port=8001 if listen_port is None else listen_port,
        log_level=level,
        hostedgraphite_api_key=api_key,
        hostedgraphite_host=env.host("HOSTEDGRAPHITE_HOST", "") or None,
        hostedgraphite_port=env.port("HOSTEDGRAPHITE_PORT"),
        hostedgraphite_transport=env.choice("HOSTEDGRAPHITE_TRANSPORT", "tcp", HOSTEDGRAPHITE_TRANSPORTS),
    )

