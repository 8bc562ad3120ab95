"""The registry's snapshot as JSON, for an HTTP endpoint (``/metrics.json`` and the like)."""

from __future__ import annotations

import json
import math

from graphmetrics.readout import POINT_INT_LIMIT, ReadableRegistry

__all__ = ["snapshot_json"]


def _finite(value: int | float) -> int | float | None:
    if type(value) is int:  # noqa: E721
        return value if -POINT_INT_LIMIT < value < POINT_INT_LIMIT else None
    return value if not isinstance(value, float) or math.isfinite(value) else None


def snapshot_json(registry: ReadableRegistry) -> bytes:
    """``{"metrics": {key: {field: value}}}``, keys sorted; NaN, infinities and ints that cannot be
    points as ``null`` (valid JSON, and the other values still there)."""
    snapshot = registry.snapshot()
    metrics = {key: {field: _finite(value) for field, value in fields.items()} for key, fields in snapshot.items()}
    return json.dumps({"metrics": metrics}, sort_keys=True, allow_nan=False, separators=(",", ":")).encode()
