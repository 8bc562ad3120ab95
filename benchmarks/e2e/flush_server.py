"""The instrumented service with FILLER_METRICS (default 50,000) extra counters in its registry.

Configured by the same environment as ``python3 -m helloworld``; with a short ``REPORT_INTERVAL`` the
runner keeps flushing a report of that size while the benchmark measures request latency.
"""

from __future__ import annotations

import os

from graphmetrics.registry import MetricsRegistry
from helloworld.service import main

if __name__ == "__main__":
    registry = MetricsRegistry()
    for index in range(int(os.environ.get("FILLER_METRICS", "50000"))):
        registry.counter(f"filler.group{index // 1000:02d}.metric{index % 1000:03d}").inc(index)
    raise SystemExit(main(registry=registry))
