"""Metric names and Graphite 1.1 tags, made safe for every wire format.

One rule set is applied everywhere: a registry key is built by :func:`metric_key` and every path that
leaves the process is built from :func:`path_parts` (:func:`series_path` for one path, the read-out's
cache for a report), so no user-supplied name or tag can add a line,
a field or a tag to the plaintext, pickle or tagged syntax.

- Names are dotted paths whose nodes use only ``[A-Za-z0-9_.-]``: anything else becomes ``_`` and
  empty nodes (leading, trailing or doubled dots) are dropped. A node longer than 251 characters is
  an error because carbon stores ``node.wsp`` as a file name (255 bytes on common filesystems).
- Tags follow Graphite 1.1 (keys without ``; ! ^ =``, values without ``;`` and not starting with
  ``~``), and additionally only printable ASCII without spaces: whitespace, control characters and
  non-ASCII become ``_``. ``name`` is refused as a tag key, because Graphite uses it for the series
  name and would silently overwrite it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = [
    "sanitize_name",
    "check_name",
    "sanitize_tag_key",
    "sanitize_tag_value",
    "metric_key",
    "split_key",
    "series_path",
    "path_parts",
    "checked_path",
    "MAX_KEY_LENGTH",
    "MAX_NODE_LENGTH",
]

MAX_NODE_LENGTH = 251
"""Longest path node: carbon writes ``<node>.wsp`` and file names are limited to 255 bytes."""

MAX_KEY_LENGTH = 4096
"""Longest key or series path; carbon drops a plaintext connection on lines over 16384 bytes."""

_BAD_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]")
_CLEAN_NAME = re.compile(r"[A-Za-z0-9_-]{1,%d}(?:\.[A-Za-z0-9_-]{1,%d})*" % (MAX_NODE_LENGTH, MAX_NODE_LENGTH))
# Printable ASCII only (0x21-0x7e), minus the characters Graphite reserves.
_BAD_TAG_KEY_CHARS = re.compile(r"[^\x21-\x7e]|[;!^=]")
_BAD_TAG_VALUE_CHARS = re.compile(r"[^\x21-\x7e]|;")


def _require_str(what: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}: {value!r}")
    return value


def sanitize_name(name: str) -> str:
    """Return the safe dotted form of ``name``; raise ``ValueError`` if nothing is left of it."""
    _require_str("metric name", name)
    if _CLEAN_NAME.fullmatch(name):
        return name
    nodes = [node for node in _BAD_NAME_CHARS.sub("_", name).split(".") if node]
    if not nodes:
        raise ValueError(f"metric name {name!r} has no usable characters")
    for node in nodes:
        if len(node) > MAX_NODE_LENGTH:
            raise ValueError(f"metric name node {node[:40]!r}... is longer than {MAX_NODE_LENGTH} characters")
    return ".".join(nodes)


def check_name(name: str) -> str:
    """``name`` if it is already clean (what :func:`sanitize_name` returns unchanged), else ``ValueError``.

    For names a person configures, such as a prefix: a typo should stop the start, not be quietly rewritten.
    """
    if isinstance(name, str) and _CLEAN_NAME.fullmatch(name):
        return name
    raise ValueError(
        f"{name!r} is not a clean metric name: nodes of 1 to {MAX_NODE_LENGTH} letters, digits, '_' or '-', "
        "joined by single dots"
    )


def sanitize_tag_key(key: str) -> str:
    """Return ``key`` with every character Graphite or the plaintext protocol cannot carry as ``_``."""
    _require_str("tag key", key)
    if not key:
        raise ValueError("tag key must not be empty")
    clean = _BAD_TAG_KEY_CHARS.sub("_", key)
    if clean == "name":
        raise ValueError("'name' is reserved by Graphite for the series name and cannot be a tag key")
    return clean


def sanitize_tag_value(value: str) -> str:
    """Return ``value`` made safe as a Graphite tag value (ints and floats are accepted and formatted)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    _require_str("tag value", value)
    if not value:
        raise ValueError("tag value must not be empty")
    clean = _BAD_TAG_VALUE_CHARS.sub("_", value)
    if clean[0] == "~":
        clean = "_" + clean[1:]
    return clean


def _tag_suffix(tags: Mapping[str, str]) -> str:
    """``;k=v`` pairs sorted by key; two raw keys that sanitise alike are an error, not a merge."""
    clean: dict[str, str] = {}
    for raw_key, raw_value in tags.items():
        key = sanitize_tag_key(raw_key)
        if key in clean:
            raise ValueError(f"tag keys collide after sanitising: {raw_key!r} -> {key!r}")
        clean[key] = sanitize_tag_value(raw_value)
    return "".join(f";{key}={clean[key]}" for key in sorted(clean))


def _check_length(what: str, text: str) -> str:
    if len(text) > MAX_KEY_LENGTH:
        raise ValueError(f"{what} is {len(text)} characters long, more than {MAX_KEY_LENGTH}: {text[:60]!r}...")
    return text


def metric_key(name: str, tags: Mapping[str, str] | None = None) -> str:
    """The canonical registry key: ``sanitized_name`` or ``sanitized_name;k=v;...`` sorted by key."""
    key = sanitize_name(name)
    if tags:
        key += _tag_suffix(tags)
    return _check_length("metric key", key)


def split_key(key: str) -> tuple[str, dict[str, str]]:
    """Split a key made by :func:`metric_key` into its name and tags."""
    name, *pairs = _require_str("metric key", key).split(";")
    tags: dict[str, str] = {}
    for pair in pairs:
        tag, sep, value = pair.partition("=")
        if not sep or not tag or not value:
            raise ValueError(f"malformed tag {pair!r} in metric key {key!r}")
        tags[tag] = value
    return name, tags


def path_parts(prefix: str, key: str) -> tuple[str, str]:
    """``("prefix.name.", ";k=v...")``, re-checked from ``key`` (not trusted): the head ends in the dot
    that comes before a field. The one derivation of outgoing paths; reports cache it
    (:mod:`graphmetrics.readout`)."""
    name, tags = split_key(key)
    head = sanitize_name(name)
    if prefix:
        head = sanitize_name(prefix) + "." + head
    return head + ".", _tag_suffix(tags) if tags else ""


def series_path(prefix: str, key: str, field: str | None = None) -> str:
    """``prefix.name.field;k=v...``: how an outgoing series path is assembled.

    ``key`` is re-checked (not trusted), so even a hand-made key cannot break the wire syntax.
    """
    head, tags = path_parts(prefix, key)
    if field is None:
        return checked_path(head[:-1] + tags)
    return checked_path(head + sanitize_name(field) + tags)


def checked_path(path: str) -> str:
    """``path`` if it is not too long for carbon, else the ValueError."""
    return path if len(path) <= MAX_KEY_LENGTH else _check_length("series path", path)
