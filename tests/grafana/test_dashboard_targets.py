"""The dashboard helper: reading targets and variables, expanding them as Grafana does, parsing Graphite."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))  # the helper lives there
import dashboard_targets as dt  # noqa: E402

DS = {"type": "graphite", "uid": "graphite"}


def write_dashboard(directory: Path, uid: str, panels: list[dict]) -> None:
    document = {"uid": uid, "panels": panels}
    (directory / f"{uid}.json").write_text(json.dumps(document), encoding="utf-8")


def panel(title: str, *targets: str, **extra: object) -> dict:
    return {"title": title, "type": "timeseries", "datasource": DS,
            "targets": [{"refId": chr(65 + i), "target": t} for i, t in enumerate(targets)], **extra}


# --- reading ---------------------------------------------------------------------------------------

def test_iter_targets_lists_every_query_with_its_dashboard_and_panel(tmp_path: Path) -> None:
    collapsed = {"type": "row", "title": "more", "collapsed": True, "panels": [panel("inner", "c.d")]}
    write_dashboard(tmp_path, "b-board", [panel("two", "x.y", "sumSeries(x.*)")])
    write_dashboard(tmp_path, "a-board", [panel("one", "a.b"), collapsed, panel("empty")])
    assert dt.iter_targets(tmp_path) == [
        ("a-board", "one", "a.b"),
        ("a-board", "inner", "c.d"),
        ("b-board", "two", "x.y"),
        ("b-board", "two", "sumSeries(x.*)"),
    ]
    assert dt.iter_targets(tmp_path)[0].panel_title == "one"


def test_iter_targets_refuses_a_directory_without_dashboards(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no dashboard JSON"):
        dt.iter_targets(tmp_path)


def test_template_variables_reads_both_query_forms_and_skips_other_kinds() -> None:
    dashboard = {"templating": {"list": [
        {"name": "instance", "type": "query", "query": {"queryType": "Default", "target": "helloworld.*"}},
        {"name": "legacy", "type": "query", "query": "carbon.agents.*"},
        {"name": "step", "type": "interval", "query": "1m,10m"},
    ]}}
    assert dt.template_variables(dashboard) == {"instance": "helloworld.*", "legacy": "carbon.agents.*"}
    assert dt.template_variables({}) == {}


# --- expanding -------------------------------------------------------------------------------------

@pytest.mark.parametrize("reference", ["$instance", "${instance}", "${instance:glob}"])
def test_expand_gives_each_value_the_multi_value_glob_and_all(reference: str) -> None:
    target = f"aliasByNode(helloworld.{reference}.requests.count, 1)"
    assert dt.expand(target, {"instance": ["hw-1", "hw-2"]}) == [
        "aliasByNode(helloworld.hw-1.requests.count, 1)",
        "aliasByNode(helloworld.hw-2.requests.count, 1)",
        "aliasByNode(helloworld.{hw-1,hw-2}.requests.count, 1)",
        "aliasByNode(helloworld.*.requests.count, 1)",
    ]


def test_expand_a_single_value_has_no_glob_and_repeats_are_dropped() -> None:
    assert dt.expand("a.$x.b.$x", {"x": ["one"]}) == ["a.one.b.one", "a.*.b.*"]


def test_expand_takes_the_product_of_several_variables() -> None:
    assert dt.expand("$a.$b", {"a": ["p"], "b": ["q"]}) == ["p.q", "p.*", "*.q", "*.*"]


def test_expand_leaves_a_target_without_variables_alone() -> None:
    assert dt.expand("sumSeries(a.*.b)", {}) == ["sumSeries(a.*.b)"]


@pytest.mark.parametrize(("target", "variables", "message"), [
    ("a.$host.b", {"instance": ["x"]}, r"\$host but no values"),
    ("a.$instance.b", {"instance": []}, r"\$instance but no values"),
    ("a.${instance:regex}.b", {"instance": ["x"]}, "only the glob format"),
    ("a.$instance.b", {"instance": ["x,y"]}, "single path nodes"),
    ("a.$instance.b", {"instance": ["x.y"]}, "single path nodes"),
    ("a.$instance.b", {"instance": ["x)"]}, "single path nodes"),
])
def test_expand_refuses_what_would_make_a_wrong_query(target: str, variables: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dt.expand(target, variables)


# --- parsing ---------------------------------------------------------------------------------------

def test_parse_builds_calls_paths_and_literals() -> None:
    tree = dt.parse("alias(groupByNode(perSecond(a.{b,c}.*.count), 3, 'sum'), \"x, y\")")
    assert tree == dt.Call("alias", (
        dt.Call("groupByNode", (dt.Call("perSecond", ("a.{b,c}.*.count",)), 3, "sum")),
        "x, y",
    ))
    assert isinstance(tree.args[0].args[0].args[0], dt.PathExpression)
    assert not isinstance(tree.args[1], dt.PathExpression)


def test_parse_reads_keywords_numbers_and_keyword_arguments() -> None:
    tree = dt.parse("f(a.b, -1.5, 2e3, true, None, inf, maxValue=10)")
    assert isinstance(tree, dt.Call)
    assert tree.args[1:] == (-1.5, 2000.0, True, None, float("inf"))
    assert tree.kwargs == (("maxValue", 10),)
    assert dt.parse("  a.b.c  ") == "a.b.c"
    assert dt.parse("f()") == dt.Call("f", ())


def test_function_names_and_series_paths_cover_nested_calls() -> None:
    target = "divideSeries(sumSeries(perSecond(a.*.sum)), sumSeries(perSecond(a.*.count)))"
    assert dt.function_names(target) == {"divideSeries", "sumSeries", "perSecond"}
    assert dt.series_paths(target) == ["a.*.sum", "a.*.count"]
    assert dt.series_paths("a.b") == ["a.b"]
    assert dt.function_names("a.b") == set()


@pytest.mark.parametrize(("target", "message"), [
    ("sumSeries(a.b", "expected ',' or ')'"),
    ("sumSeries(a.b))", "unexpected text"),
    ("sumSeries(a.b c.d)", "expected ',' or ')'"),
    ("sumSeries(a.b,)", "expected a function call or a series path"),
    ("", "expected a function call or a series path"),
    ("alias(a.b, 'x)", "unterminated string"),
    ("a.{b,c", "'{' without '}'"),
    ("a.b}.c", "'}' without '{'"),
    ("a..b", "empty path node"),
    ("f(k=1, a.b)", "positional argument after a keyword"),
    ("a.b;tag=x", "unexpected text"),
])
def test_parse_rejects_malformed_targets(target: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        dt.parse(target)
