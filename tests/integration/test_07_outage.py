"""4. Carbon outage: stop carbon for longer than three report intervals while requests flow; afterwards
every replica has a point for every interval of the outage, and the counts still add up exactly."""
import threading
import time

from stack import REPORT_INTERVAL, send, settled_total, wait_until

OUTAGE = 4 * REPORT_INTERVAL + 5   # longer than three intervals
MAX_LOAD_SECONDS = 240             # the background load stops by itself whatever happens


class SteadyLoad(threading.Thread):
    """About 10 requests/s through the lb, bounded in time; counts the answered ones."""

    def __init__(self, stack):
        super().__init__(daemon=True)
        self.stack, self.ok, self.failed = stack, 0, 0
        self.halt = threading.Event()

    def run(self):
        deadline = time.monotonic() + MAX_LOAD_SECONDS
        while not self.halt.is_set() and time.monotonic() < deadline:
            if send(self.stack, 1) == [200]:
                self.ok += 1
            else:
                self.failed += 1
            self.halt.wait(0.1)


def test_carbon_outage_loses_no_point(stack, checked):
    before = settled_total(stack)
    instances = stack.instances()
    load = SteadyLoad(stack)
    load.start()
    try:
        time.sleep(REPORT_INTERVAL)
        outage_start = time.time()
        stack.run("stop", "carbon")
        time.sleep(OUTAGE)
        stack.run("start", "carbon")
        outage_end = time.time()
        wait_until(lambda: stack.container_ids("carbon") and "healthy" in stack.run(
            "ps", "--format", "{{.Status}}", "carbon").stdout, timeout=60, what="carbon healthy again")
        time.sleep(REPORT_INTERVAL)
    finally:
        load.halt.set()
        load.join(timeout=30)
    assert load.failed == 0, f"{load.failed} requests failed during the carbon outage"

    expected = before + load.ok
    wait_until(lambda: settled_total(stack, quiet_reports=1) == expected, timeout=9 * REPORT_INTERVAL,
               what=f"total to reach {expected} after the outage")

    first = int(outage_start // REPORT_INTERVAL) * REPORT_INTERVAL - REPORT_INTERVAL
    last = int(outage_end // REPORT_INTERVAL) * REPORT_INTERVAL + REPORT_INTERVAL
    slots = set(range(first, last + 1, REPORT_INTERVAL))
    for instance in instances:
        points = {t for t, v in stack.whisper_fetch(f"helloworld.{instance}.hello_called.count", 1800)
                  if v is not None}
        gaps = sorted(slots - points)
        assert not gaps, f"{instance}: no point for {len(gaps)} of {len(slots)} slots around the outage: {gaps}"
    checked(f"carbon stopped {OUTAGE}s under load: {len(instances)} replicas x {len(slots)} slots all present "
            f"in Whisper; {load.ok} requests, total exact ({expected:.0f})")
