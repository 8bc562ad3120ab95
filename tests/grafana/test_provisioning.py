"""Static checks of Grafana's provisioning: what would otherwise only fail inside a running Grafana.

Each check is a function returning the problems it finds, so it is run on the real files (expecting none)
and on a broken sample (expecting the problem to be named): a check that cannot fail proves nothing.
"""

from __future__ import annotations

import ast
import copy
import json
import re
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))  # the helper lives there
import dashboard_targets as dt  # noqa: E402

GRAFANA = Path(__file__).resolve().parents[2] / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
DATASOURCE_UID = "graphite"
DATASOURCE_REF = {"type": "graphite", "uid": DATASOURCE_UID}
EXPECTED_UIDS = {"helloworld-overview", "helloworld-instance", "pipeline-health"}
GRAFANA_11_SCHEMA_VERSION = 39
PANEL_TYPES = {"row", "stat", "timeseries", "heatmap"}
SAMPLE_VALUES = {"instance": ["helloworld-1", "helloworld-2"]}

# Functions the dashboards call, each checked against graphite-web 1.1.8's function registry.
GRAPHITE_1_1_8_FUNCTIONS = {
    "alias",
    "aliasByNode",
    "aliasByTags",
    "aliasSub",
    "countSeries",
    "divideSeries",
    "groupByNode",
    "isNonNull",
    "maxSeries",
    "minSeries",
    "nonNegativeDerivative",
    "perSecond",
    "removeEmptySeries",
    "scale",
    "sumSeries",
    # Our graphite image's function plugin (carbon/histogram_functions.py), checked against it below
    "histogramPercentile",
    "histogramPercentiles",
}
PLUGIN = GRAFANA.parent / "carbon" / "histogram_functions.py"

# Every series the stack writes, as glob patterns (graphmetrics' snapshot fields, the reporters'
# self-metrics, carbon-aggregator's rules, carbon's instrumentation.py): a misspelt path draws nothing.
HISTOGRAM = ("{count,sum,avg,min,max,std_dev,"
             "50_percentile,75_percentile,95_percentile,98_percentile,99_percentile,999_percentile}")
METER = "{count,mean_rate,1m_rate,5m_rate,15m_rate}"
REPLICA_SERIES = [
    "{hello_called,bad_requests,not_found}.count", "responses.*.count",
    f"world_size.{HISTOGRAM}", f"runtime.reactor_lag.{HISTOGRAM}",
    f"requests.{HISTOGRAM}", f"requests.{METER}",
    "{world_size,runtime.reactor_lag,requests}.buckets.*",  # helloworld's reporters export buckets
    "runtime.{rss_bytes,cpu_seconds,open_fds,gc_collections,threads}.value",
    "graphmetrics.*.{points_written,points_acknowledged,points_resent,points_dropped,send_failures,"
    "dropped_reports,rejected_points}.count",
    "graphmetrics.*.{buffered_reports,buffered_bytes,oldest_unacknowledged_age,last_acknowledged}.value",
]
KNOWN_SERIES = [
    *(f"helloworld.*.{series}" for series in REPLICA_SERIES),
    *(f"all.helloworld.{series}" for series in REPLICA_SERIES),  # narrowed by AGGREGATED_FIELDS
    "carbon.agents.*.{metricsReceived,committedPoints,creates,droppedCreates,pointsPerUpdate,"
    "updateOperations,errors,cpuUsage,memUsage}",
    "carbon.agents.*.cache.{size,queues}",
    "carbon.aggregator.*.{metricsReceived,allocatedBuffers,bufferedDatapoints,aggregateDatapointsSent,"
    "cpuUsage,memUsage}",
]
AGGREGATED_FIELDS = ("count", "sum", "1m_rate", "5m_rate", "15m_rate", "mean_rate", "max", "99_percentile")


def braces(pattern: str) -> list[str]:
    """``a.{b,c}.d`` -> ``[a.b.d, a.c.d]``: Graphite's alternatives, spelt out."""
    match = re.search(r"\{([^{}]*)\}", pattern)
    if not match:
        return [pattern]
    head, tail = pattern[:match.start()], pattern[match.end():]
    return [spelt for option in match[1].split(",") for spelt in braces(head + option + tail)]


KNOWN_PATHS = [
    re.compile(re.escape(spelt).replace(r"\*", r"[^.]*"))  # a glob never crosses a dot
    for pattern in KNOWN_SERIES for spelt in braces(pattern)
]


def load_yaml(relative: str) -> Any:
    return yaml.safe_load((GRAFANA / relative).read_text(encoding="utf-8"))


def dashboards() -> list[dict[str, Any]]:
    return dt.load_dashboards(DASHBOARDS)


def by_uid(uid: str) -> dict[str, Any]:
    return next(d for d in dashboards() if d["uid"] == uid)


def walk(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair anywhere in a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


# --- the checks --------------------------------------------------------------------------------

def settings_problems(dashboard: dict[str, Any]) -> list[str]:
    expected = {"schemaVersion": GRAFANA_11_SCHEMA_VERSION, "refresh": "10s",
                "time": {"from": "now-30m", "to": "now"}}
    problems = [f"{key} is {dashboard.get(key)!r}, want {want!r}"
                for key, want in expected.items() if dashboard.get(key) != want]
    if not re.fullmatch(r"[a-z0-9-]{1,40}", str(dashboard.get("uid", ""))):
        problems.append(f"uid {dashboard.get('uid')!r} is not a fixed short slug")
    if dashboard.get("id") is not None:
        problems.append("a numeric id would clash with the id Grafana assigns")
    if "__inputs" in dashboard or "${DS_" in json.dumps(dashboard):
        problems.append("exported 'for sharing': ${DS_...} placeholders break provisioning")
    return problems


def panel_problems(dashboard: dict[str, Any]) -> list[str]:
    panels = list(dt.iter_panels(dashboard))
    problems = [f"panel id {pid} used {n} times"
                for pid, n in Counter(p.get("id") for p in panels).items() if n > 1 or pid is None]
    problems += [f"title {title!r} used {n} times: a failing target would not say which panel"
                 for title, n in Counter(p.get("title") for p in panels).items() if n > 1]
    for panel in panels:
        where = f"panel {panel.get('id')} {panel.get('title')!r}"
        if panel.get("type") not in PANEL_TYPES:
            problems.append(f"{where}: type {panel.get('type')!r} is not a core Grafana 11 panel")
        if not panel.get("title"):
            problems.append(f"{where}: no title")
        grid = panel.get("gridPos", {})
        if not (grid.get("w", 0) > 0 and grid.get("x", -1) >= 0 and grid["x"] + grid["w"] <= 24):
            problems.append(f"{where}: gridPos {grid} is outside the 24-column grid")
        if panel.get("type") != "row" and not panel.get("targets"):
            problems.append(f"{where}: no query")
    return problems


def datasource_problems(dashboard: dict[str, Any]) -> list[str]:
    problems = [f"datasource {value!r} is not the provisioned one"
                for key, value in walk(dashboard) if key == "datasource" and value != DATASOURCE_REF]
    for panel in dt.iter_panels(dashboard):
        if panel.get("type") == "row":
            continue
        missing = [q.get("refId") for q in [panel, *panel.get("targets", [])] if "datasource" not in q]
        if missing:
            problems.append(f"panel {panel.get('title')!r}: no datasource on {missing}")
    return problems


def target_problems(target: str) -> list[str]:
    """Problems of one raw target, checked as written and as Grafana would send it."""
    try:
        variants = [target, *dt.expand(target, SAMPLE_VALUES)]
        trees = [dt.parse(variant) for variant in variants]
    except ValueError as error:
        return [str(error)]
    unknown = set().union(*(dt.function_names(tree) for tree in trees)) - GRAPHITE_1_1_8_FUNCTIONS
    problems = [f"{target}: not in graphite-web 1.1.8's list: {sorted(unknown)}"] if unknown else []
    for path in dt.series_paths(trees[-1]):
        problems += [f"{target}: {problem}" for problem in path_problems(path)]
    return problems


def path_problems(path: str) -> list[str]:
    """Paths that match no series the stack writes (a wildcard in ``path`` matches only a wildcard)."""
    unknown = [
        spelt for spelt in braces(path)
        if not any(known.fullmatch(spelt) for known in KNOWN_PATHS)
        or (spelt.startswith("all.") and not spelt.endswith(AGGREGATED_FIELDS))
    ]
    return [f"no such series: {', '.join(unknown)}"] if unknown else []


# --- provisioning YAML -------------------------------------------------------------------------

def test_datasource_is_graphite_with_a_fixed_uid() -> None:
    config = load_yaml("provisioning/datasources/graphite.yaml")
    assert config["apiVersion"] == 1
    (source,) = config["datasources"]
    assert source["type"] == "graphite"
    assert source["uid"] == DATASOURCE_UID
    assert source["url"] == "http://graphite:8080"
    assert source["access"] == "proxy"
    assert source["jsonData"]["graphiteVersion"] == "1.1"  # a string: 1.1 as a float is not a version


def test_dashboard_provider_reads_the_mounted_directory() -> None:
    config = load_yaml("provisioning/dashboards/provider.yaml")
    assert config["apiVersion"] == 1
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


# --- dashboards --------------------------------------------------------------------------------

def test_the_three_dashboards_are_there_named_by_uid() -> None:
    files = sorted(DASHBOARDS.glob("*.json"))
    assert {path.stem for path in files} == EXPECTED_UIDS
    assert [d["uid"] for d in dashboards()] == [path.stem for path in files]
    assert len({d["title"] for d in dashboards()}) == len(files)


@pytest.mark.parametrize("check", [settings_problems, panel_problems, datasource_problems])
@pytest.mark.parametrize("uid", sorted(EXPECTED_UIDS))
def test_dashboard_passes(check: Any, uid: str) -> None:
    assert check(by_uid(uid)) == []


def test_every_target_parses_and_calls_only_graphite_1_1_8_functions() -> None:
    targets = dt.iter_targets(DASHBOARDS)
    assert len(targets) >= 30
    problems = [f"{t.dashboard_uid} / {t.panel_title}: {problem}"
                for t in targets for problem in target_problems(t.target)]
    assert problems == []


def test_the_function_list_is_exactly_what_the_dashboards_use() -> None:
    used = set().union(*(dt.function_names(t.target) for t in dt.iter_targets(DASHBOARDS)))
    assert used == GRAPHITE_1_1_8_FUNCTIONS  # a stale entry would let an unchecked name through later


def plugin_functions(source: str) -> set[str]:
    """The names a graphite-web function plugin registers: the keys of its ``SeriesFunctions``."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["SeriesFunctions"]:
            assert isinstance(node.value, ast.Dict)
            return {ast.literal_eval(key) for key in node.value.keys if key is not None}
    return set()


def test_the_plugin_names_the_dashboards_use_are_the_ones_our_image_registers() -> None:
    source = PLUGIN.read_text()
    registered = plugin_functions(source)
    assert {"histogramPercentile", "histogramPercentiles"} <= registered <= GRAPHITE_1_1_8_FUNCTIONS
    # ... and the check would see a renamed one
    renamed = source.replace('"histogramPercentiles": histogramPercentiles', '"histogramQuantiles": histogramPercentiles')
    assert "histogramPercentiles" not in plugin_functions(renamed)
    settings = (PLUGIN.parent / "local_settings.py").read_text()
    assert PLUGIN.stem in settings and "FUNCTION_PLUGINS" in settings  # graphite-web loads it


def test_instance_dashboard_picks_replicas_by_the_last_node_of_helloworld_star() -> None:
    dashboard = by_uid("helloworld-instance")
    assert dt.template_variables(dashboard) == {"instance": "helloworld.*"}
    (variable,) = dashboard["templating"]["list"]
    assert variable["multi"] is True
    assert variable["includeAll"] is True
    assert variable["allValue"] == dt.ALL_VALUE
    targets = [t.target for t in dt.iter_targets(DASHBOARDS) if t.dashboard_uid == "helloworld-instance"]
    assert all("helloworld.$instance." in target for target in targets)


def test_targets_use_only_variables_their_dashboard_defines() -> None:
    problems = []
    for dashboard in dashboards():
        values = {name: ["x"] for name in dt.template_variables(dashboard)}
        for panel in dt.iter_panels(dashboard):
            for query in panel.get("targets", []):
                try:
                    dt.expand(query["target"], values)
                except ValueError as error:  # names the variable no one defined
                    problems.append(f"{dashboard['uid']} / {panel['title']}: {error}")
    assert problems == []


# --- the checks can fail -----------------------------------------------------------------------

def test_checks_name_each_problem_of_a_broken_dashboard() -> None:
    broken = copy.deepcopy(by_uid("helloworld-overview"))
    broken["refresh"] = "5s"
    broken["id"] = 7
    panels = [p for p in broken["panels"] if p["type"] != "row"]
    panels[1]["id"] = panels[0]["id"]
    panels[2]["datasource"] = {"type": "graphite", "uid": "${DS_GRAPHITE}"}
    panels[3]["type"] = "graph"
    panels[5]["title"] = panels[6]["title"]
    del panels[4]["targets"][0]["datasource"]
    settings, layout, sources = settings_problems(broken), panel_problems(broken), datasource_problems(broken)
    assert any("refresh" in p for p in settings)
    assert any("numeric id" in p for p in settings)
    assert any("${DS_" in p for p in settings)
    assert any(f"panel id {panels[0]['id']} used 2 times" in p for p in layout)
    assert any("'graph'" in p for p in layout)
    assert any(f"title {panels[6]['title']!r} used 2 times" in p for p in layout)
    assert any("${DS_GRAPHITE}" in p for p in sources)
    assert any("no datasource on ['A']" in p for p in sources)


@pytest.mark.parametrize(("target", "expected"), [
    ("sumSeries(helloworld.*.requests.count", "expected ',' or ')'"),
    ("alias(helloworld.*.requests.count, 'p99)", "unterminated string"),
    ("timeShiftt(helloworld.*.requests.count, '1h')", "1.1.8's list: ['timeShiftt']"),
    ("perSecond(helloworld.*.requests.cuont)", "no such series: helloworld.*.requests.cuont"),
    ("perSecond(helloworld.*.{requests,hello_called}.mean_rate)", "series: helloworld.*.hello_called"),
    ("sumSeries(helloworld.*.graphmetrics.*.points_sent.value)", "series: helloworld.*.graphmetrics.*.points_"),
    ("alias(all.helloworld.requests.50_percentile, 'p50')", "no such series: all.helloworld.requests.50_p"),
    ("aliasByNode(carbon.agents.*.metricsRecieved, 2)", "no such series: carbon.agents.*.metricsRecieved"),
    ("maxSeries(app.*.latency.max)", "no such series: app.*.latency.max"),
    ("sumSeries(helloworld.*.extra.requests.count)", "no such series: helloworld.*.extra.requests.count"),
    ("aliasByNode(helloworld.$host.requests.count, 1)", "no values were given"),
])
def test_target_check_names_the_problem(target: str, expected: str) -> None:
    problems = target_problems(target)
    assert any(expected in problem for problem in problems), problems
