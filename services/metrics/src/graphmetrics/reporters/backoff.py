"""Exponential back-off with jitter between reconnection attempts.

Jitter spreads the reconnects of many replicas after a shared carbon restart, so they do not all
hit it in the same second. The random source is injected, so tests get exact delays.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable

__all__ = ["Backoff"]


class Backoff:
    """Delays ``initial * multiplier**n`` capped at ``maximum``, each scaled into ``[1 - jitter, 1]``."""

    def __init__(
        self,
        initial: float = 1.0,
        maximum: float = 60.0,
        multiplier: float = 2.0,
        jitter: float = 0.5,
        random: Callable[[], float] = _random.random,
    ) -> None:
        if not 0 < initial <= maximum:
            raise ValueError(f"need 0 < initial <= maximum, got initial={initial!r} maximum={maximum!r}")
        if multiplier < 1:
            raise ValueError(f"multiplier must be >= 1, got {multiplier!r}")
        if not 0 <= jitter <= 1:
            raise ValueError(f"jitter must be within [0, 1], got {jitter!r}")
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self.jitter = jitter
        self._random = random
        self.failures = 0

    def next_delay(self, limit: float | None = None) -> float:
        """Record one more failure and return how long to wait before the next attempt; ``limit``
        (a reporter's interval) caps the delay before jitter, as ``maximum`` does."""
        try:
            base = min(self.maximum, self.initial * float(self.multiplier) ** self.failures)
        except OverflowError:
            base = self.maximum
        if limit is not None:
            base = min(base, limit)
        self.failures += 1
        return base * (1.0 - self.jitter * self._random())

    def reset(self) -> None:
        """After a success: the next failure waits ``initial`` again."""
        self.failures = 0

    def __repr__(self) -> str:
        return (
            f"Backoff(initial={self.initial!r}, maximum={self.maximum!r}, multiplier={self.multiplier!r}, "
            f"jitter={self.jitter!r}, failures={self.failures})"
        )
