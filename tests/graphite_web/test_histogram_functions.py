"""histogramPercentile(s) through graphite-web's own machinery: the function registry, the target
evaluator reading real Whisper files, and the render view over HTTP (Django's test client).

Bucket series are written the way a replica exports them: a real LogBucketSketch's buckets, named by
the library's bucket_node, cumulative counts stamped on the 10 s grid. Expected percentiles are the
exact order statistics of the values fed in, and the documented bound says how far above them the
function may read: never below, less than one bucket (a factor gamma) above.
"""
from __future__ import annotations

import configparser
import itertools
import json
import math
import re
import time
from pathlib import Path

import pytest
import whisper
from django.test import Client
from graphite.render.evaluator import evaluateTarget

from graphmetrics.readout import bucket_node
from graphmetrics.reservoirs import LogBucketSketch

CARBON = Path(__file__).resolve().parents[2] / "carbon"
STEP = 10
_names = itertools.count()


# -- writing bucket series ---------------------------------------------------------------------------

def carbon_rule(conf_file: str, path: str) -> configparser.SectionProxy:
    """The section of one of carbon/'s storage-*.conf files that applies to ``path``: the first whose
    pattern matches, as carbon picks it when it creates the file."""
    conf = configparser.ConfigParser()
    conf.read(CARBON / conf_file)
    for section in conf.sections():
        if re.search(conf[section]["pattern"], path):
            return conf[section]
    raise AssertionError(f"no rule in {conf_file} for {path}")


def storage_rule(path: str) -> tuple[str, float]:
    """(aggregationMethod, xFilesFactor) of carbon/storage-aggregation.conf for ``path``."""
    section = carbon_rule("storage-aggregation.conf", path)
    return section["aggregationMethod"], float(section["xFilesFactor"])


def test_bucket_series_and_only_they_get_the_bucket_rules():
    for path in ("helloworld.a1.world_size.buckets.12_5", "app.i.latency.buckets.-0_5",
                 "app.i.latency.buckets.1250740;region=eu"):
        assert storage_rule(path) == ("max", 0.0), path
        assert carbon_rule("storage-schemas.conf", path)["retentions"] == "10s:6h,1m:7d,1h:1y", path
    for path in ("app.i.s3.buckets.1m_rate", "app.i.buckets.count", "app.i.s3.buckets.p99_percentile"):
        assert carbon_rule("storage-schemas.conf", path).name == "default", path
        assert carbon_rule("storage-aggregation.conf", path).name != "buckets", path


def write(whisper_dir: Path, path: str, points: list[tuple[int, float]],
          archives: tuple[tuple[int, int], ...] = ((STEP, 360),)) -> None:
    method, xff = storage_rule(path)
    file = whisper_dir / (path.replace(".", "/") + ".wsp")
    file.parent.mkdir(parents=True, exist_ok=True)
    if not file.exists():
        whisper.create(str(file), list(archives), xFilesFactor=xff, aggregationMethod=method)
    whisper.update_many(str(file), points)


class Replica:
    """One process's histogram: a real sketch, exported as cumulative bucket counts every step."""

    def __init__(self, histogram: str, accuracy: float = 0.01):
        self.histogram = histogram
        self.accuracy = accuracy
        self.sketch = LogBucketSketch(accuracy)
        self.series: dict[str, list[tuple[int, float]]] = {}

    def restart(self) -> None:
        self.sketch = LogBucketSketch(self.accuracy)

    def report(self, timestamp: int, values: list[float] = ()) -> None:
        for value in values:
            self.sketch.update(value)
        for bound, count in self.sketch.buckets():
            path = f"{self.histogram}.buckets.{bucket_node(bound)}"
            self.series.setdefault(path, []).append((timestamp, count))

    def write(self, whisper_dir: Path, **kwargs) -> None:
        for path, points in self.series.items():
            write(whisper_dir, path, points, **kwargs)


def gamma(accuracy: float) -> float:
    return (1 + accuracy) / (1 - accuracy)


def exact(values: list[float], n: float) -> float:
    """The nearest-rank n-th percentile: the smallest value with at least n% of values at or below."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(n / 100 * len(ordered) - 1e-9)) - 1]


def within_bound(result: float, value: float, accuracy: float) -> bool:
    """The documented bound for a positive value: the bucket's upper end, at most gamma above it (and
    at most 5e-6 below it, from the six significant digits of the bound in the series name)."""
    return value * (1 - 5e-6) <= result <= value * gamma(accuracy) * (1 + 5e-6)


def grid(back: int) -> int:
    """A timestamp on the 10 s grid, ``back`` seconds ago (Whisper only takes points within retention)."""
    now = int(time.time())
    return now - now % 60 - back


def evaluate(target: str, start: int, end: int, max_points: int | None = None) -> list:
    """The target as /render evaluates it, from ``start`` (its first point) to ``end``."""
    from datetime import datetime, timezone
    context = {
        "startTime": datetime.fromtimestamp(start - 1, timezone.utc),  # Whisper starts after fromTime
        "endTime": datetime.fromtimestamp(end, timezone.utc),
        "now": datetime.now(timezone.utc),  # as the render view does: Whisper picks the archive by it
        "localOnly": False, "data": [], "prefetched": {}, "xFilesFactor": 0,
        "maxDataPoints": max_points, "targets": [target],
    }
    return evaluateTarget(context, target)


def points(series) -> list[tuple[int, float | None]]:
    return [(series.start + i * series.step, v) for i, v in enumerate(series)]


# -- the function registry -----------------------------------------------------------------------------

def test_both_functions_are_registered_with_params_group_and_docs():
    from graphite.functions import SeriesFunctions
    from graphite.functions.params import Param

    functions = SeriesFunctions()
    for name, last_param in (("histogramPercentile", "n"), ("histogramPercentiles", "percentiles")):
        func = functions[name]
        assert func.group == "Calculate"
        assert all(isinstance(p, Param) for p in func.params)
        assert [p.name for p in func.params] == ["seriesList", last_param]
        assert "buckets" in func.__doc__
    assert functions["histogramPercentiles"].params[1].multiple


def test_function_info_needs_the_image_patch_on_python_311_and_works_with_it():
    """/functions (what Grafana's editor lists) is graphite.functions.functionInfo for every function."""
    import graphite.functions as functions_module
    from graphite.functions import SeriesFunctions
    from graphite.functions.views import jsonInfinityEncoder
    from patch_function_info import patched

    func = SeriesFunctions()["histogramPercentiles"]
    with pytest.raises(AttributeError, match="getargspec"):
        functions_module.functionInfo("histogramPercentiles", func)  # as packaged: broken on 3.11
    namespace: dict = {"__name__": "patched_functions", "__file__": functions_module.__file__}
    exec(compile(patched(Path(functions_module.__file__).read_text()), "patched", "exec"), namespace)
    info = namespace["functionInfo"]("histogramPercentiles", func)
    info = json.loads(json.dumps(info, cls=jsonInfinityEncoder))
    assert info["function"] == "histogramPercentiles(seriesList, *percentiles)"
    assert info["group"] == "Calculate" and info["module"] == "histogram_functions"
    assert info["params"] == [{"name": "seriesList", "type": "seriesList", "required": True},
                              {"name": "percentiles", "type": "float", "required": True, "multiple": True}]


# -- values ----------------------------------------------------------------------------------------------

def test_hand_computed_fleet_percentiles_with_a_null_and_a_restart(whisper_dir):
    """Buckets with bounds 1, 2, 4 (gamma 2); two replicas; per step the counts add up per bound.

    step:          t0     t1     t2     t3     t4
    a.buckets.1    5      6      -      9      9        a: +1 at t1, null at t2, +3 at t3 (spans the gap)
    a.buckets.4    0      0      -      0      10       a: +10 at t4
    b.buckets.2    100    101    1      3      3        b restarts before t2: +1 at t2 (new value), +2 at t3
    b.buckets.4    7      7      -      -      2        vanished with the restart (empty), +2 at t4
    """
    h = f"h{next(_names)}"
    t0 = grid(600)
    ts = [t0 + i * STEP for i in range(5)]
    data = {
        f"{h}.a.lat.buckets.1": [5, 6, None, 9, 9],
        f"{h}.a.lat.buckets.4": [0, 0, None, 0, 10],
        f"{h}.b.lat.buckets.2": [100, 101, 1, 3, 3],
        f"{h}.b.lat.buckets.4": [7, 7, None, None, 2],
    }
    for path, values in data.items():
        write(whisper_dir, path, [(t, v) for t, v in zip(ts, values) if v is not None])
    # increments  t1: {1: 1, 2: 1}   t2: {2: 1}   t3: {1: 3, 2: 2}   t4: {4: 12}
    result = evaluate(f"histogramPercentiles({h}.*.lat.buckets.*, 0, 50, 60, 100)", ts[0], ts[-1] + STEP)
    got = {s.tags["percentile"]: dict(points(s)) for s in result}
    assert [s.name for s in result] == [f"histogramPercentile({h}.*.lat,{n})" for n in (0, 50, 60, 100)]
    assert [got["0"][t] for t in ts] == [None, 1, 2, 1, 4]
    assert [got["50"][t] for t in ts] == [None, 1, 2, 1, 4]   # t3: rank ceil(2.5)=3 of {1,1,1,2,2} -> 1
    assert [got["60"][t] for t in ts] == [None, 2, 2, 1, 4]   # t1: rank ceil(1.2)=2 of {1,2} -> 2; t3: rank 3
    assert [got["100"][t] for t in ts] == [None, 2, 2, 2, 4]

    single = evaluate(f"histogramPercentile({h}.*.lat.buckets.*, 60)", ts[0], ts[-1] + STEP)
    assert [dict(points(single[0]))[t] for t in ts] == [got["60"][t] for t in ts]


def test_two_replicas_with_different_distributions_and_a_restart(whisper_dir):
    """Replica a sees 1..1000, b 10,000..20,000 (values from a real sketch at 1 %); b restarts midway.
    Every step's p50/p95/p99 is within the bound of the exact percentile of the union of that step."""
    h = f"h{next(_names)}"
    a, b = Replica(f"{h}.a.world_size"), Replica(f"{h}.b.world_size")
    t0 = grid(900)
    fed: dict[int, list[float]] = {}
    a.report(t0), b.report(t0, [15000])  # baselines
    for i in range(1, 9):
        t = t0 + i * STEP
        va = [((i * 37 + k * 101) % 1000) + 1 for k in range(50 * i)]
        vb = [10000 + ((i * 53 + k * 997) % 10001) for k in range(20)]
        if i == 5:
            b.restart()
        a.report(t, va)
        b.report(t, vb)
        fed[t] = va + vb
    a.write(whisper_dir)
    b.write(whisper_dir)

    result = evaluate(f"histogramPercentiles({h}.*.world_size.buckets.*, 50, 95, 99)", t0, t0 + 9 * STEP)
    by_n = {float(s.tags["percentile"]): dict(points(s)) for s in result}
    assert by_n[50][t0] is None  # the first step is the baseline
    for t, values in fed.items():
        for n in (50, 95, 99):
            assert within_bound(by_n[n][t], exact(values, n), 0.01), (t, n, by_n[n][t], exact(values, n))
    # The fleet's p99 comes from b's range (b's 20 values are the top 4-29 %), p50 from a's
    assert all(by_n[99][t] >= 10000 for t in fed) and all(by_n[50][t] <= 1000 * 1.03 for t in fed)


def test_the_coarse_archive_of_a_rollup_gives_per_minute_percentiles(whisper_dir):
    """Whisper files of two archives (10 s for 30 min, 1 min for a day), rolled up by the stack's
    storage-aggregation rule: a range older than the fine archive is read from the coarse one, and
    each minute's percentile is the percentile of everything counted in that minute."""
    h = f"h{next(_names)}"
    assert storage_rule(f"{h}.a.lat.buckets.12_5") == ("max", 0.0)
    replicas = [Replica(f"{h}.{r}.lat") for r in "ab"]
    t0 = grid(3 * 3600)  # three hours ago: only the coarse archive still covers it
    per_minute: dict[int, list[float]] = {}
    for rep in replicas:
        rep.report(t0)
    for i in range(1, 60):  # ten minutes of 10 s reports
        t = t0 + i * STEP
        values = [float(10 + (i * 7 + k) % 90) for k in range(i % 6 * 3)]  # some steps have no values
        if i == 31:
            replicas[1].restart()  # in the middle of a minute
        for rep, part in zip(replicas, (values[::2], values[1::2])):
            rep.report(t, part)
        per_minute.setdefault(t - t % 60, []).extend(values)
    for rep in replicas:
        rep.write(whisper_dir, archives=((STEP, 180), (60, 1440)))

    series = evaluate(f"histogramPercentile({h}.*.lat.buckets.*, 90)", t0, t0 + 600)[0]
    assert series.step == 60
    got = dict(points(series))
    minutes = sorted(per_minute)
    restart_minute = t0 + 31 * STEP - (t0 + 31 * STEP) % 60
    for minute in minutes[1:]:
        # Counted after the restart within its minute, b's values move into the next minute (the max of
        # the restart minute is b's count before it); every other minute is exact within the bound.
        if minute in (restart_minute, restart_minute + 60):
            continue
        assert within_bound(got[minute], exact(per_minute[minute], 90), 0.01), minute
    assert got[minutes[0]] is None


def test_replicas_stored_at_different_steps_are_added_on_the_coarser_one(whisper_dir):
    """A replica whose files have a 1 min step (another schema) next to one at 10 s: the function adds
    them per minute, the 10 s series' highest count in each minute standing for it, as in a rollup."""
    h = f"h{next(_names)}"
    fine, coarse = Replica(f"{h}.a.lat"), Replica(f"{h}.b.lat")
    t0 = grid(1200)
    fine.report(t0)
    coarse.report(t0)
    per_minute: dict[int, list[float]] = {}
    for i in range(1, 30):
        t = t0 + i * STEP
        values = [float(1 + (i * 13 + k) % 40) for k in range(5)]
        fine.report(t, values)
        per_minute.setdefault(t - t % 60, []).extend(values)
        if t % 60 == 0:
            slow = [300.0 + i * 5] * 2
            coarse.report(t, slow)
            per_minute[t].extend(slow)
    fine.write(whisper_dir)
    coarse.write(whisper_dir, archives=((60, 60),))

    series = evaluate(f"histogramPercentiles({h}.*.lat.buckets.*, 50, 100)", t0, t0 + 30 * STEP)
    assert {s.step for s in series} == {60}
    by_n = {s.tags["percentile"]: dict(points(s)) for s in series}
    for minute in sorted(per_minute)[1:]:  # the first minute holds the baselines
        assert within_bound(by_n["100"][minute], max(per_minute[minute]), 0.01), minute
        assert within_bound(by_n["50"][minute], exact(per_minute[minute], 50), 0.01), minute


def test_max_data_points_gives_percentiles_of_windows_not_averages(whisper_dir):
    """Grafana asks for at most one point per pixel; graphite-web would average the percentiles of
    consecutive steps. The function reads each window's percentile itself, on windows aligned to
    their width, and returns no more points than asked for."""
    h = f"h{next(_names)}"
    rep = Replica(f"{h}.a.lat")
    t0 = grid(1800)
    t0 -= t0 % 120
    rep.report(t0)
    fed = {}
    for i in range(1, 36):
        t = t0 + i * STEP
        values = [1000.0] if i % 4 == 0 else [1.0] * 3  # one slow step in four
        rep.report(t, values)
        fed[t] = values
    rep.write(whisper_dir)
    start, end = t0, t0 + 36 * STEP
    client = Client()
    target = f"histogramPercentile({h}.*.lat.buckets.*, 99)"
    reply = client.get("/render", {"target": target, "format": "json",
                                   "from": str(start), "until": str(end - 1), "maxDataPoints": "4"})
    assert reply.status_code == 200, reply.content
    [out] = json.loads(reply.content)
    assert len(out["datapoints"]) <= 4
    width = out["datapoints"][1][1] - out["datapoints"][0][1]
    assert width > STEP and all(ts % width == 0 for _, ts in out["datapoints"])
    for value, ts in out["datapoints"]:
        window = [v for t, vs in fed.items() if ts <= t < ts + width for v in vs]
        if window:
            assert within_bound(value, exact(window, 99), 0.01), (ts, value)
        else:
            assert value is None
    # A slow step in every window: each window's p99 is the slow value (an average would be far lower)
    assert all(v is not None and v >= 1000 for v, _ in out["datapoints"][1:])

    # One point asked for: the percentile of everything counted in the range
    reply = client.get("/render", {"target": f"histogramPercentile({h}.*.lat.buckets.*, 50)", "format": "json",
                                   "from": str(start), "until": str(end - 1), "maxDataPoints": "1"})
    [[value, _]] = json.loads(reply.content)[0]["datapoints"]
    assert within_bound(value, exact([v for vs in fed.values() for v in vs], 50), 0.01)


def test_nothing_matched_is_no_data_like_sum_series(whisper_dir):
    assert evaluate("histogramPercentile(nothing.*.here.buckets.*, 99)", grid(600), grid(0)) == []


def test_tagged_bucket_series_keep_their_tags_and_must_share_them():
    """Tagged series (``path;tag=value``, as the library writes a tagged histogram): the tags are part of
    the histogram's identity, so replicas must carry the same ones."""
    from graphite.errors import InputParameterError
    from graphite.render.datalib import TimeSeries
    from histogram_functions import histogramPercentile

    def bucket(replica, bound, values, tags=";region=eu"):
        return TimeSeries(f"app.{replica}.lat.buckets.{bound}{tags}", 0, 30, 10, values, tags={"name": "x"})

    context = {"maxDataPoints": None, "xFilesFactor": 0}
    [out] = histogramPercentile(context, [bucket("a", 1, [0, 3, 3]), bucket("b", 2, [0, 1, 2])], 50)
    assert out.name == "histogramPercentile(app.*.lat;region=eu,50)"
    assert list(out) == [None, 1, 2]  # t10: {1: 3, 2: 1} -> rank 2 is in bucket 1; t20: {2: 1}
    with pytest.raises(InputParameterError, match="more than one histogram"):
        histogramPercentile(context, [bucket("a", 1, [0, 3, 3]), bucket("b", 2, [0, 1, 2], ";region=us")], 50)


# -- bad arguments: graphite-web's 400, never a 500 ------------------------------------------------------

@pytest.fixture(scope="module")
def bucket_and_other_series(whisper_dir):
    h = f"h{next(_names)}"
    t = grid(300)
    for path in (f"{h}.a.lat.buckets.1", f"{h}.a.lat.buckets.2", f"{h}.b.lat.buckets.1",
                 f"{h}.a.size.buckets.1", f"{h}.a.lat.count", f"{h}.a.lat.buckets.x_y"):
        write(whisper_dir, path, [(t, 1), (t + STEP, 2)])
    return h


@pytest.mark.parametrize("target, reason", [
    ("histogramPercentile({h}.*.lat.buckets.*, 101)", "percentile must be a number from 0 to 100, not 101"),
    ("histogramPercentile({h}.*.lat.buckets.*, -1)", "percentile must be a number from 0 to 100, not -1"),
    ("histogramPercentile({h}.*.lat.buckets.*, 'high')",
     'value specified for function "histogramPercentile" parameter "n"'),
    ("histogramPercentiles({h}.*.lat.buckets.*, 50, 100.5)", "not 100.5"),
    ("histogramPercentiles({h}.*.lat.buckets.[12])", 'Missing required parameter "percentiles"'),
    ("histogramPercentile({h}.a.lat.count, 99)", "not a bucket series"),
    ("histogramPercentile({h}.a.lat.buckets.x_y, 99)", "not a bucket series"),
    ("histogramPercentile({h}.*.*.buckets.1, 99)", "more than one histogram"),
])
def test_bad_arguments_are_a_400_with_the_reason(bucket_and_other_series, target, reason):
    target = target.format(h=bucket_and_other_series)
    reply = Client().get("/render", {"target": target, "format": "json", "from": "-10min"})
    assert reply.status_code == 400, reply.content
    assert reason in reply.content.decode(), reply.content
