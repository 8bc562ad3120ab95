"""Test helper: run the same work on several threads at once and wait for all of them."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_threads(count: int, work: Callable[[], object]) -> None:
    """Start ``count`` threads running ``work`` together (behind a barrier), then join them."""
    start = threading.Barrier(count)

    def run() -> None:
        start.wait()
        work()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
