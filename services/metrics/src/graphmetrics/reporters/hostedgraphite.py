"""Reporting to Hosted Graphite: carbon plaintext with the API key as every line's first node.

The key is a secret: it is read from the argument, ``HOSTEDGRAPHITE_API_KEY`` or the file named by
``HOSTEDGRAPHITE_API_KEY_FILE`` (a container secret), checked so it cannot break a line, and only
ever shown masked (:func:`mask_key`) in reprs and log lines; an invalid key is never shown at all.
Every line carries it, so the default transport is TLS (port 20030); plain TCP or UDP is an explicit
choice, warned about at start.
"""

from __future__ import annotations

import logging
import os
import re
import ssl
from collections.abc import Mapping, Sequence

from graphmetrics.clock import Clock
from graphmetrics.readout import STREAM_MESSAGE_BYTES, Point
from graphmetrics.reporters.backoff import Backoff
from graphmetrics.reporters.batching import BatchReporter, Registry
from graphmetrics.reporters.buffer import DEFAULT_MAX_BYTES
from graphmetrics.reporters.transport import TcpTransport, Transport, UdpTransport
from graphmetrics.reporters.wire import MAX_DATAGRAM_BYTES, plaintext_messages

log = logging.getLogger(__name__)

__all__ = [
    "HostedGraphiteReporter", "resolve_api_key", "mask_key", "looks_like_key", "HOST", "PORTS", "DEFAULT_TRANSPORT",
    "ENV_KEY",
    "ENV_KEY_FILE",
]

HOST = "carbon.hostedgraphite.com"
PORTS = {"tcp": 2003, "tls": 20030, "udp": 2003}
DEFAULT_TRANSPORT = "tls"  # the key never crosses the network in clear unless a user chooses so
ENV_KEY = "HOSTEDGRAPHITE_API_KEY"
ENV_KEY_FILE = "HOSTEDGRAPHITE_API_KEY_FILE"
_VALID_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


def looks_like_key(value: str) -> bool:
    """True for a value that could be an API key (16 or more characters of a key's alphabet, letters
    and digits both): an error about a setting must not echo it, it may be the key in the wrong place."""
    return (len(value.strip()) >= 16 and _VALID_KEY.fullmatch(value.strip()) is not None
            and any(c.isdigit() for c in value) and any(c.isalpha() for c in value))


def mask_key(key: str) -> str:
    """``****`` plus the last four characters (none for a key too short to spare them)."""
    return "****" + (key[-4:] if len(key) >= 16 else "")


def resolve_api_key(api_key: str | None = None, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """``(key, where it came from)``: the argument, else ``$HOSTEDGRAPHITE_API_KEY``, else the file
    named by ``$HOSTEDGRAPHITE_API_KEY_FILE``. Raises ``ValueError`` (never showing the key)."""
    env = os.environ if environ is None else environ
    if api_key is not None:
        key, source = api_key, "the api_key argument"
    elif env.get(ENV_KEY):
        key, source = env[ENV_KEY], f"${ENV_KEY}"
    elif env.get(ENV_KEY_FILE):
        path = env[ENV_KEY_FILE]
        source = f"the file {path!r} (${ENV_KEY_FILE})"
        try:
            with open(path, encoding="utf-8") as handle:
                key = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read the Hosted Graphite API key from {source}: {type(exc).__name__}") from None
    else:
        raise ValueError(f"no Hosted Graphite API key: pass api_key, or set ${ENV_KEY} or ${ENV_KEY_FILE}")
    key = key.strip()
    if not _VALID_KEY.fullmatch(key):  # not a key: none of it is shown, not even masked
        raise ValueError(
            f"the Hosted Graphite API key from {source} must be 1-128 characters of [A-Za-z0-9_-] "
            f"(got {len(key)} characters)"
        )
    return key, source


class _KeyedPlaintext:
    """Plaintext encoder that starts every line with ``<key>.``; its repr shows the key masked."""

    def __init__(self, key: str, max_bytes: int) -> None:
        self._line_prefix = key + "."
        self._masked = mask_key(key)
        self._max_bytes = max_bytes

    def __call__(self, timestamp: int, points: Sequence[Point]) -> list[bytes]:
        return plaintext_messages(timestamp, points, self._line_prefix, self._max_bytes)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} key={self._masked}>"


class HostedGraphiteReporter(BatchReporter):
    """Sends each report to Hosted Graphite as ``APIKEY.prefix.name.field value timestamp`` lines."""

    def __init__(
        self,
        registry: Registry,
        api_key: str | None = None,
        transport: str = DEFAULT_TRANSPORT,
        prefix: str = "",
        *,
        host: str = HOST,
        port: int | None = None,
        ssl_context: ssl.SSLContext | None = None,
        connect_timeout: float = 5.0,
        send_timeout: float = 10.0,
        export_buckets: bool = False,
        max_buffer_bytes: int = DEFAULT_MAX_BYTES,
        backoff: Backoff | None = None,
        clock: Clock | None = None,
        name: str = "hostedgraphite",
    ) -> None:
        if transport not in PORTS:
            raise ValueError(f"transport must be one of {sorted(PORTS)}, not {transport!r}")
        key, self.key_source = resolve_api_key(api_key)
        self.masked_key = mask_key(key)
        if transport != "tls":
            log.warning("%s: transport=%r: the API key crosses the network in clear on every line "
                        "(the default transport is 'tls')", name, transport)
        self.transport = transport
        port = PORTS[transport] if port is None else port
        sender: Transport
        if transport == "udp":
            sender = UdpTransport(host, port)
        else:
            context = None
            if transport == "tls":
                context = ssl_context if ssl_context is not None else ssl.create_default_context()
            sender = TcpTransport(host, port, connect_timeout, send_timeout, context)
        encode = _KeyedPlaintext(key, MAX_DATAGRAM_BYTES if transport == "udp" else STREAM_MESSAGE_BYTES)
        super().__init__(
            registry, sender, encode, name=name, prefix=prefix, export_buckets=export_buckets,
            max_buffer_bytes=max_buffer_bytes, backoff=backoff, clock=clock,
        )

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]} key={self.masked_key} from {self.key_source}>"
