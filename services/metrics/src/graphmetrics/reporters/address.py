"""Where a reporter can send: the rules for a peer's host and port, checked before the first connection.

A host or port that no resolver or socket can use fails every report, interval after interval, far
from where it was typed; configuration readers call these at start instead, so a typo stops the start.
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["check_host", "check_port", "MAX_HOST_LENGTH"]

MAX_HOST_LENGTH = 253
"""Longest DNS name (RFC 1035), without its optional trailing dot."""

_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
"""One DNS label: 1-63 characters, no hyphen at either end. ``_`` is allowed: Docker and Compose names use it."""


def check_host(host: str) -> str:
    """``host`` if it is an IP address (v4 or v6, without brackets) or a DNS name, else ``ValueError``."""
    if isinstance(host, str):
        try:
            ipaddress.ip_address(host)
            return host
        except ValueError:
            pass
        name = host[:-1] if host.endswith(".") else host
        if 0 < len(name) <= MAX_HOST_LENGTH and all(_LABEL.fullmatch(label) for label in name.split(".")):
            return host
    raise ValueError(
        f"host must be an IP address or a DNS name (dot-separated labels of 1 to 63 letters, digits, '-' or '_', "
        f"at most {MAX_HOST_LENGTH} characters), not {host!r}"
    )


def check_port(port: int | str) -> int:
    """``port`` as an int if it is a port a peer can listen on (1-65535), else ``ValueError``.

    A string of ASCII digits is read as the number it spells (configuration arrives as text).
    """
    value: int | None = None
    if isinstance(port, str) and port.isascii() and port.isdigit():
        value = int(port)
    elif isinstance(port, int) and not isinstance(port, bool):
        value = port
    if value is None or not 1 <= value <= 65535:
        raise ValueError(f"port must be a number from 1 to 65535, not {port!r}")
    return value
