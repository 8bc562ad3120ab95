"""12. The histogram function plugin in the stack's own graphite-web (Debian's 1.1.8 on Python 3.11).

Bucket series of two replicas are sent straight to carbon-cache's plaintext port inside the stack, as a
replica exporting a real LogBucketSketch's buckets would send them; graphite-web's render API turns
them into fleet percentiles, which must be within the documented bound of the exact percentiles of
every value fed in. /functions must list the functions (Grafana's query editor reads it), and bad
arguments must be graphite-web's 400 with the reason.
"""
import json
import math
import time
import urllib.parse

from stack import REPORT_INTERVAL, wait_until

from graphmetrics.readout import bucket_node
from graphmetrics.reservoirs import LogBucketSketch

ACCURACY = 0.01
GAMMA = (1 + ACCURACY) / (1 - ACCURACY)
SEND = ("import socket, sys\n"
        "with socket.create_connection(('127.0.0.1', 2003), timeout=10) as s:\n"
        "    s.sendall(sys.stdin.read().encode())\n")


def exact(values, n):
    ordered = sorted(values)
    return ordered[max(1, math.ceil(n / 100 * len(ordered) - 1e-9)) - 1]


def bucket_lines(prefix, timestamps, values_per_step, restart_at=None):
    """Plaintext lines of one replica's bucket series: cumulative counts of a real sketch per step."""
    sketch = LogBucketSketch(ACCURACY)
    lines = []
    for i, (ts, values) in enumerate(zip(timestamps, values_per_step)):
        if i == restart_at:
            sketch = LogBucketSketch(ACCURACY)
        for v in values:
            sketch.update(v)
        lines += [f"{prefix}.buckets.{bucket_node(b)} {c} {ts}" for b, c in sketch.buckets()]
    return lines


def test_functions_are_listed_for_grafana(stack, checked):
    status, body = stack.get("/functions", base=stack.graphite_url)
    assert status == 200, body[:500]
    functions = json.loads(body)
    for name, signature in (("histogramPercentile", "histogramPercentile(seriesList, n)"),
                            ("histogramPercentiles", "histogramPercentiles(seriesList, *percentiles)")):
        info = functions[name]
        assert info["function"] == signature and info["group"] == "Calculate"
        assert info["params"][0] == {"name": "seriesList", "type": "seriesList", "required": True}
        assert "buckets" in info["description"]
    assert "sumSeries" in functions  # the whole list, not only ours
    checked(f"/functions lists {len(functions)} functions, histogramPercentile(s) among them with params")


def test_fleet_percentiles_from_bucket_series_sent_to_carbon(stack, checked):
    now = int(time.time())
    t0 = now - now % REPORT_INTERVAL - 12 * REPORT_INTERVAL
    timestamps = [t0 + i * REPORT_INTERVAL for i in range(10)]
    # r1: 1..1000 ms, r2: 10,000..20,000 ms (and it restarts at step 6); nothing in the baseline step
    r1 = [[]] + [[((i * 37 + k * 101) % 1000) + 1 for k in range(40)] for i in range(1, 10)]
    r2 = [[]] + [[10000 + ((i * 53 + k * 997) % 10001) for k in range(10)] for i in range(1, 10)]
    lines = bucket_lines("it12.r1.latency", timestamps, r1) + \
        bucket_lines("it12.r2.latency", timestamps, r2, restart_at=6)
    stack.exec("carbon", "python3", "-c", SEND, stdin="\n".join(lines) + "\n")

    target = "histogramPercentiles(it12.*.latency.buckets.*, 50, 99)"

    def rendered():
        series = stack.render(target, "-10min")
        by_n = {s["tags"]["percentile"]: {ts: v for v, ts in s["datapoints"]} for s in series}
        done = by_n and all(by_n[n].get(timestamps[-1]) is not None for n in ("50", "99"))
        return by_n if done else None

    by_n = wait_until(rendered, timeout=60, what=f"{target} up to the last step sent")
    for i, ts in enumerate(timestamps[1:], 1):
        union = r1[i] + r2[i]
        for n in (50, 99):
            want, got = exact(union, n), by_n[str(n)][ts]
            assert want * (1 - 5e-6) <= got <= want * GAMMA * (1 + 5e-6), (i, n, got, want)
    # What the overview showed until now: the worst replica's p99 is not the fleet's p50
    assert by_n["50"][timestamps[3]] < 1000 * GAMMA

    # The stack's storage rules for bucket files (read once carbon-cache has written the file)
    bucket = lines[0].split()[0]
    script = ("import json, sys, whisper\n"
              "print(json.dumps(whisper.info('/var/lib/graphite/whisper/' + sys.argv[1] + '.wsp')))\n")
    info = wait_until(lambda: json.loads(stack.exec("carbon", "python3", "-c", script, bucket.replace(".", "/"))),
                      timeout=60, what=f"{bucket} in Whisper")
    assert info["aggregationMethod"] == "max" and info["xFilesFactor"] == 0
    assert [(a["secondsPerPoint"], a["points"]) for a in info["archives"]] == [(10, 2160), (60, 10080),
                                                                                (3600, 8760)]

    labels = stack.render(f"aliasByTags({target}, 'percentile')", "-10min")
    assert sorted(s["target"] for s in labels) == ["50", "99"]
    checked("two replicas' bucket series (one restarting) sent to carbon give fleet p50/p99 through /render "
            "within the bound of the exact percentiles; bucket files roll up with max, 10s:6h,1m:7d,1h:1y")


def test_bad_arguments_are_a_400_with_the_reason(stack, checked):
    # A second histogram of replica r1 (the first is it12.*.latency from the test above)
    now = int(time.time())
    stack.exec("carbon", "python3", "-c", SEND, stdin=f"it12.r1.size.buckets.1 1 {now - now % 10}\n")
    wait_until(lambda: stack.render("it12.r1.size.buckets.1", "-5min"), timeout=30, what="it12.r1.size")
    cases = {
        "histogramPercentile(it12.*.latency.buckets.*, 101)": "percentile must be a number from 0 to 100",
        "histogramPercentile(it12.r1.latency.buckets.*, -5)": "percentile must be a number from 0 to 100",
        "histogramPercentile(carbon.agents.*.cpuUsage, 99)": "not a bucket series",
        "histogramPercentile(it12.*.*.buckets.*, 50)": "more than one histogram",
    }
    for target, reason in cases.items():
        query = urllib.parse.urlencode({"target": target, "from": "-10min", "format": "json"})
        status, body = stack.get(f"/render?{query}", base=stack.graphite_url)
        assert status == 400 and reason in body.decode(), (target, status, body[:300])
    checked(f"{len(cases)} bad histogramPercentile targets answer 400 with the reason, no 500")
