"""1. Metrics land in Whisper, with the values the test drove."""
import json
import math

from stack import REPORT_INTERVAL, send, wait_until

# world_size values driven through one replica; percentiles are checked against the exact order statistics,
# widened by the default reservoir's documented relative error (1 %) plus a margin for the quantile definition.
VALUES = [((i * 37) % 200) + 1 for i in range(200)]  # 1..200, each once, in a scrambled order
RELATIVE_ERROR = 0.01
HIST_FIELDS = ["count", "sum", "avg", "min", "max", "std_dev", "50_percentile", "75_percentile",
               "95_percentile", "98_percentile", "99_percentile", "999_percentile"]
TIMER_FIELDS = HIST_FIELDS + ["mean_rate", "1m_rate", "5m_rate", "15m_rate"]


def exact_bounds(q: float) -> tuple[float, float]:
    ordered = sorted(VALUES)
    n = len(ordered)
    lo = ordered[max(0, math.floor(q * (n - 1)) - 1)]
    hi = ordered[min(n - 1, math.ceil(q * (n - 1)) + 1)]
    return lo * (1 - RELATIVE_ERROR), hi * (1 + RELATIVE_ERROR)


def test_driven_world_size_values_are_in_whisper(stack, checked):
    instance = stack.exec("helloworld", "hostname").strip()
    driver = ("import sys, urllib.request\n"
              "for v in sys.argv[1:]:\n"
              "    urllib.request.urlopen('http://127.0.0.1:8001/?world_size=' + v, timeout=5).read()\n")
    stack.exec("helloworld", "python3", "-c", driver, *map(str, VALUES))
    snapshot = json.loads(stack.exec("helloworld", "python3", "-c",
                                     "import urllib.request; print(urllib.request.urlopen("
                                     "'http://127.0.0.1:8001/metrics').read().decode())"))
    base = f"helloworld.{instance}.world_size"

    def newest(field):
        points = [v for _, v in stack.whisper_fetch(f"{base}.{field}", 600) if v is not None]
        return points[-1] if points else None

    wait_until(lambda: newest("count") == len(VALUES), timeout=4 * REPORT_INTERVAL, what=f"{base}.count")
    got = {field: newest(field) for field in HIST_FIELDS}
    assert got["count"] == len(VALUES)
    assert got["min"] == min(VALUES) and got["max"] == max(VALUES)
    assert got["sum"] == sum(VALUES)
    assert got["avg"] == sum(VALUES) / len(VALUES)
    assert math.isclose(got["std_dev"], _stddev(VALUES), rel_tol=0.01)
    for field, q in (("50_percentile", .5), ("75_percentile", .75), ("95_percentile", .95),
                     ("98_percentile", .98), ("99_percentile", .99), ("999_percentile", .999)):
        lo, hi = exact_bounds(q)
        assert lo <= got[field] <= hi, f"{field}={got[field]} outside [{lo}, {hi}]"
        # What Whisper holds is what the replica itself reported (full precision on the wire).
        assert got[field] == snapshot["metrics"]["world_size"][field]
    checked(f"{len(VALUES)} world_size values through {instance}: count/min/max/sum/avg exact in Whisper, "
            "percentiles within 1 % of the exact order statistics")


def test_every_replica_has_its_series_in_whisper(stack, checked):
    instances = stack.instances()
    send(stack, 6 * len(instances), "/?world_size=7")  # round robin reaches every replica
    expected = {"hello_called.count"} | {f"world_size.{f}" for f in HIST_FIELDS} \
        | {f"requests.{f}" for f in TIMER_FIELDS}

    def missing():
        return {f"helloworld.{i}.{m}" for i in instances for m in expected} - stack.wsp_files("helloworld")

    try:
        wait_until(lambda: not missing(), timeout=4 * REPORT_INTERVAL, what="every replica's .wsp files")
    except AssertionError:
        gaps = sorted(missing())
        assert not gaps, f"{len(gaps)} .wsp files missing, e.g. {gaps[:8]}"
    checked(f"{len(instances)} replicas x {len(expected)} series have .wsp files")


def _stddev(values):
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
