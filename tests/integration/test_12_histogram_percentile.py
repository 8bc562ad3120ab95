"""12. The histogram function plugin in the stack's own graphite-web (Debian's 1.1.8 on Python 3.11).

Bucket series of two replicas are sent straight to carbon-cache's plaintext port inside the stack, as a
replica exporting a real LogBucketSketch's buckets would send them; graphite-web's render API turns
them into fleet percentiles, which must be within the documented bound of the exact percentiles of
every value fed in. /functions must list the functions (Grafana's query editor reads it), and bad
arguments must be graphite-web's 400 with the reason. Then the stack's own replicas, which export their
buckets: known values sent to two of them directly give the fleet p50/p99 of their union, and their
counts add up exactly over a restart and a carbon outage (all in the suite's one stack, about 3 minutes).
"""
import json
import math
import subprocess
import time
import urllib.parse

import pytest

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


# --- the stack's own replicas: fleet percentiles and counts from their exported buckets ---------------

SENDER = """\
import json, sys, time, urllib.error, urllib.request
plan = json.load(sys.stdin)
deadline = time.monotonic() + plan["max_seconds"]
answered = []
for host, value in plan["requests"]:
    if time.monotonic() > deadline:
        break
    try:
        with urllib.request.urlopen("http://%s:8001/?world_size=%d" % (host, value), timeout=3) as reply:
            reply.read()
            ok = reply.status == 200
    except (OSError, urllib.error.URLError):
        ok = False
    answered.append(ok)
    time.sleep(plan["pause"])
print(json.dumps(answered))
"""


class Replicas:
    """Two running replicas, A and B: a sender inside B reaches A by its container name and B on
    127.0.0.1, never through the load balancer."""

    def __init__(self, stack):
        a, b = stack.container_ids("helloworld")[:2]
        info = {cid: stack.inspect(cid) for cid in (a, b)}
        self.a, self.b = a, b
        self.hosts = {a: info[a]["Name"].lstrip("/"), b: "127.0.0.1"}
        self.instance = {cid: info[cid]["Config"]["Hostname"] for cid in (a, b)}

    def start_sending(self, requests, pause=0.0, max_seconds=120):
        """``requests``: ``[(container id, world_size)]``, sent in order by a process in B."""
        plan = {"requests": [(self.hosts[cid], v) for cid, v in requests], "pause": pause,
                "max_seconds": max_seconds}
        proc = subprocess.Popen(["docker", "exec", "-i", self.b, "python3", "-c", SENDER], text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc.stdin.write(json.dumps(plan))
        proc.stdin.close()

        def answered():
            out = proc.stdout.read()
            assert proc.wait(timeout=max_seconds + 30) == 0, proc.stderr.read()
            oks = json.loads(out)
            return {cid: [v for (c, v), ok in zip(requests, oks) if ok and c == cid] for cid in (self.a, self.b)}
        return answered


def next_slot_plus(seconds):
    """Sleep until ``seconds`` after the next report boundary; that boundary's timestamp."""
    now = time.time()
    slot = now - now % REPORT_INTERVAL + REPORT_INTERVAL
    time.sleep(slot + seconds - now)
    return int(slot)


def render_range(stack, target, first_slot, last_slot, **extra):
    """Series of ``target`` from the slot ``first_slot`` to ``last_slot`` (both included)."""
    query = urllib.parse.urlencode({"target": target, "from": first_slot - 1, "until": last_slot,
                                    "format": "json", **extra})
    status, body = stack.get(f"/render?{query}", base=stack.graphite_url, timeout=30)
    assert status == 200, (target, status, body[:300])
    return json.loads(body)


def by_instance(series_list, node=1):
    return {s["target"].split(".")[node]: s for s in series_list}


def counted_since(points):
    """What a cumulative count counted after its first point: increases, and at a restart (a drop)
    everything counted since."""
    values = [v for v in points if v is not None]
    total = 0
    for previous, value in zip(values, values[1:]):
        total += value - previous if value >= previous else value
    return total


def bucket_bounds(stack, replicas):
    names = [s["target"] for s in stack.render(
        "helloworld.{%s}.world_size.buckets.*" % ",".join(replicas.instance.values()), "-30min")]
    return sorted({float(name.rsplit(".", 1)[1].replace("_", ".")) for name in names})


def assert_bucket_of(got, want, bounds, what):
    """``got`` is the upper bound of the exported bucket holding ``want``: the function's documented
    answer, whatever the resolution the replicas export."""
    holding = min(b for b in bounds if b >= want * (1 - 5e-6))
    assert math.isclose(got, holding, rel_tol=1e-5), (what, got, want, holding)


def counted(stack, replicas, first):
    """Per container: what its ``world_size.count`` and the sum of its bucket series counted after the
    slot ``first``, and the slot of its newest report."""
    instances = ",".join(replicas.instance.values())
    until = int(time.time()) + REPORT_INTERVAL
    counts = by_instance(render_range(stack, f"helloworld.{{{instances}}}.world_size.count", first, until))
    buckets = render_range(stack, f"helloworld.{{{instances}}}.world_size.buckets.*", first, until)
    out = {}
    for cid, instance in replicas.instance.items():
        points = counts[instance]["datapoints"] if instance in counts else []
        if not points or points[0][1] != first or points[0][0] is None:
            return None  # the baseline slot is not in yet
        rows = [[v for v, _ in s["datapoints"]] for s in buckets if s["target"].split(".")[1] == instance]
        # a slot's bucket total: a bucket missing from a report (the count's) was empty
        per_slot = [sum(v for v in column[1:] if v is not None) if column[0] is not None else None
                    for column in zip([v for v, _ in points], *rows)]
        newest = max(int(t) for v, t in points if v is not None)
        out[cid] = (counted_since([v for v, _ in points]), counted_since(per_slot), newest)
    return out


def wait_counted(stack, replicas, first, sent):
    """The newest report slot, once the replicas' reports hold everything ``sent`` (per container) in
    ``.count`` and in the bucket series (graphite-web finds a bucket once carbon-cache created its file)."""
    want = {cid: (len(values), len(values)) for cid, values in sent.items()}
    seen = {}

    def settled():
        seen["counted"] = counted(stack, replicas, first)
        got = seen["counted"] and {cid: totals[:2] for cid, totals in seen["counted"].items()}
        return got == want and max(newest for _, _, newest in seen["counted"].values())

    try:
        return wait_until(settled, timeout=9 * REPORT_INTERVAL, what=f"counts and bucket totals {want}")
    except AssertionError as error:
        raise AssertionError(f"{error}; (count, bucket total, newest slot): {seen.get('counted')}") from None


def fleet(stack, first, last, ns=(50, 99)):
    """Fleet percentiles of everything counted after ``first`` up to ``last``: one window."""
    target = "histogramPercentiles(helloworld.*.world_size.buckets.*, %s)" % ", ".join(map(str, ns))
    series = render_range(stack, target, first, last, maxDataPoints=1)
    assert [len(s["datapoints"]) for s in series] == [1] * len(ns), series
    return {float(s["tags"]["percentile"]): s["datapoints"][0][0] for s in series}


def test_replicas_export_buckets_that_give_the_fleet_percentiles(stack, checked):
    replicas = Replicas(stack)
    # A sees 1..1000, B five values of 10,000..20,000: the fleet's p50 and p99 are A's values, while
    # the worst replica's p99 is B's
    a_values = [(i * 617) % 1000 + 1 for i in range(1000)]
    b_values = [10000, 12500, 15000, 17500, 20000]
    first = next_slot_plus(3)  # its report was read before anything is sent
    answered = replicas.start_sending([(replicas.a, v) for v in a_values] + [(replicas.b, v) for v in b_values])()
    assert answered == {replicas.a: a_values, replicas.b: b_values}
    last = wait_counted(stack, replicas, first, answered)

    got = fleet(stack, first, last)
    bounds = bucket_bounds(stack, replicas)
    union = a_values + b_values
    for n in (50, 99):
        assert_bucket_of(got[n], exact(union, n), bounds, f"fleet p{n}")
    worst = stack.render("maxSeries(helloworld.*.world_size.99_percentile)", "-10min")
    worst_p99 = [v for v, t in worst[0]["datapoints"] if t == last][0]
    assert worst_p99 >= 10000 > 2 * got[99], (worst_p99, got)
    checked(f"replicas export buckets: 1,000 values sent to one replica and 5 to another (not via the lb) give "
            f"fleet p50 {got[50]:g} and p99 {got[99]:g} through histogramPercentiles, the exported buckets "
            f"of the exact {exact(union, 50)} and {exact(union, 99)}; maxSeries of the replicas' p99 is "
            f"{worst_p99:g}")


def docker(*args):
    subprocess.run(["docker", *args], check=True, capture_output=True, timeout=60)


def test_fleet_counts_add_up_over_a_restart_and_a_carbon_outage(stack, checked):
    replicas = Replicas(stack)
    outage = 4 * REPORT_INTERVAL + 5  # longer than three intervals
    # 25 requests a second for about 75 s, three to A (1..1000) for one to B (10,000..20,000)
    plan = [(replicas.b, 10000 + (i * 7919) % 10001) if i % 4 == 3 else (replicas.a, (i * 617) % 1000 + 1)
            for i in range(1900)]
    first = next_slot_plus(3)
    answered = replicas.start_sending(plan, pause=0.04, max_seconds=90)
    time.sleep(5)
    # A restart that spans a report boundary (see the test below for one within an interval)
    docker("stop", replicas.a)
    next_slot_plus(1)
    docker("start", replicas.a)
    time.sleep(5)
    stack.run("stop", "carbon")
    time.sleep(outage)
    stack.run("start", "carbon")
    wait_until(lambda: "healthy" in stack.run("ps", "--format", "{{.Status}}", "carbon").stdout, timeout=60,
               what="carbon healthy again")
    sent = answered()
    assert len(sent[replicas.b]) == len([1 for cid, _ in plan if cid == replicas.b])  # B never stopped
    assert 0 < len(sent[replicas.a]) < len([1 for cid, _ in plan if cid == replicas.a])  # A did

    # .count and the bucket totals of each replica, over its restart and the outage
    last = wait_counted(stack, replicas, first, sent)
    totals = {cid: len(values) for cid, values in sent.items()}

    got = fleet(stack, first, last)
    bounds = bucket_bounds(stack, replicas)
    union = sent[replicas.a] + sent[replicas.b]
    for n in (50, 99):
        assert_bucket_of(got[n], exact(union, n), bounds, f"fleet p{n} over the restart and outage")
    checked(f"replica restarted across a report boundary, carbon stopped {outage}s while {len(union)} values were sent to two replicas "
            f"directly: bucket totals and .count add up exactly per replica ({totals[replicas.a]}, "
            f"{totals[replicas.b]}); fleet p50/p99 {got[50]:g}/{got[99]:g} hold the exact ones")


@pytest.mark.xfail(strict=True, reason=(
    "a replica restarted within one report interval keeps its instance name, and the new process's first "
    "report is stamped with the slot of the old process's final report (Schedule.closing stamps the "
    "interval in progress): Whisper keeps the newer one, so the old process's last interval is lost and "
    "its stale buckets stay in that slot"), raises=AssertionError)
def test_fleet_counts_add_up_over_a_restart_within_one_interval(stack):
    replicas = Replicas(stack)
    plan = [(replicas.a, (i * 617) % 1000 + 1) for i in range(100)]
    first = next_slot_plus(0.5)
    replicas.start_sending(plan, pause=0.01)()  # about 2 s of requests, then at once:
    docker("restart", "--time", "5", replicas.a)  # stopped and started again well before the next boundary
    if time.time() > first + REPORT_INTERVAL - 2:
        raise RuntimeError("the restart did not fit in one interval: this run shows nothing")
    after = len(replicas.start_sending([(replicas.a, v) for v in range(1, 11)])()[replicas.a])
    time.sleep(3 * REPORT_INTERVAL)
    assert {cid: totals[:2] for cid, totals in counted(stack, replicas, first).items()} == {
        replicas.a: (len(plan) + after,) * 2, replicas.b: (0, 0)}
