"""The optional C speedups (``_speedups.c``) for recording histogram values and timing blocks.

``speedups`` is the compiled module, or None: then the pure-Python twins run, with the same
behaviour. Setting ``GRAPHMETRICS_PURE_PYTHON`` (to anything but empty) forces pure Python, which
is how the unit tests cover both and how the benchmark shows what the C part buys.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

__all__ = ["speedups"]


def _load() -> ModuleType | None:
    if os.environ.get("GRAPHMETRICS_PURE_PYTHON"):
        return None
    try:
        return importlib.import_module("graphmetrics._speedups")
    except ImportError:  # not built (no C compiler at install time): pure Python
        return None


speedups = _load()
