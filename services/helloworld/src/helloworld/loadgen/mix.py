"""What the load generator asks for: a seeded, realistic mix of good and bad requests.

Each planned request carries the status the service must answer, so the mix doubles as a check of the
service (the tests replay it against the real resource). ``world_size`` follows a lognormal distribution:
most worlds are small, a few are huge, which is what gives percentiles something to show.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from ..query import MAX_QUERY_BYTES, MAX_WORLD_SIZE, WORLD_SIZE

__all__ = ["PlannedRequest", "RequestMix", "BAD_REQUESTS"]


@dataclass(frozen=True)
class PlannedRequest:
    path: str
    """Path and query string, ready for the request line."""
    expected_status: int
    kind: str


BAD_REQUESTS: tuple[PlannedRequest, ...] = (
    PlannedRequest(f"/?{WORLD_SIZE}=", 400, "missing_value"),
    PlannedRequest(f"/?{WORLD_SIZE}=many", 400, "not_integer"),
    PlannedRequest(f"/?{WORLD_SIZE}=2.5", 400, "float"),
    PlannedRequest(f"/?{WORLD_SIZE}=-7", 400, "negative"),
    PlannedRequest(f"/?{WORLD_SIZE}={MAX_WORLD_SIZE * 10}", 400, "too_large"),
    PlannedRequest(f"/?{WORLD_SIZE}=3&{WORLD_SIZE}=4", 400, "repeated"),
    PlannedRequest(f"/?{WORLD_SIZE}=%ff%fe", 400, "not_utf8"),
    PlannedRequest(f"/?{WORLD_SIZE}=5&pad={'x' * MAX_QUERY_BYTES}", 400, "overlong"),
    PlannedRequest("/no/such/page", 404, "not_found"),
)
"""One of each kind of input the service must refuse; drawn uniformly for the bad fraction."""


class RequestMix:
    """Draws requests: ``bad_fraction`` bad ones, ``plain_fraction`` of the rest a bare ``GET /``, the rest
    ``GET /?world_size=N`` with ``N`` lognormal around ``median_world_size``."""

    def __init__(
        self,
        rng: random.Random,
        bad_fraction: float = 0.02,
        plain_fraction: float = 0.25,
        median_world_size: float = 1000.0,
        sigma: float = 1.2,
    ) -> None:
        for name, fraction in (("bad_fraction", bad_fraction), ("plain_fraction", plain_fraction)):
            if not 0.0 <= fraction <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {fraction!r}")
        if not median_world_size > 0 or not sigma >= 0:
            raise ValueError("median_world_size must be positive and sigma non-negative")
        self._rng = rng
        self._bad_fraction = bad_fraction
        self._plain_fraction = plain_fraction
        self._mu = math.log(median_world_size)
        self._sigma = sigma

    def world_size(self) -> int:
        return min(MAX_WORLD_SIZE, round(self._rng.lognormvariate(self._mu, self._sigma)))

    def next(self) -> PlannedRequest:
        if self._rng.random() < self._bad_fraction:
            return self._rng.choice(BAD_REQUESTS)
        if self._rng.random() < self._plain_fraction:
            return PlannedRequest("/", 200, "hello")
        return PlannedRequest(f"/?{WORLD_SIZE}={self.world_size()}", 200, "world_size")
