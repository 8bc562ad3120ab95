"""The Grafana dashboards translated into graphite-web dashboards (grafana/graphite_web_dashboards.py).

The save against a real graphite-web is in tests/integration/test_09_graphite_web_dashboards.py; here the
translation, and the error paths of saving against a local HTTP peer that answers as graphite-web does.
"""

from __future__ import annotations

import json
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "grafana"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))
import dashboard_targets as dt  # noqa: E402
import graphite_web_dashboards as gwd  # noqa: E402

DS = {"type": "graphite", "uid": "graphite"}


def panel(title: str, *targets: str, **extra: Any) -> dict[str, Any]:
    return {"type": "timeseries", "title": title, "datasource": DS,
            "targets": [{"refId": chr(65 + i), "target": t} for i, t in enumerate(targets)], **extra}


def dashboard(*panels: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"uid": "board", "title": "Board", "time": {"from": "now-30m", "to": "now"}, "refresh": "10s",
            "panels": list(panels), **extra}


# --- graphs ----------------------------------------------------------------------------------------

def test_each_panel_with_queries_becomes_a_graph_in_order_rows_unfolded() -> None:
    hidden = panel("hidden", "a.b")
    hidden["targets"][0]["hide"] = True
    board = dashboard(
        panel("one", "a.b", "sumSeries(c.*)"),
        {"type": "row", "title": "folded", "collapsed": True, "panels": [panel("inner", "d.e")]},
        {"type": "text", "title": "notes"},
        hidden,
        panel("two", "f.g"),
    )
    assert gwd.graphs(board) == [
        {"target": ["a.b", "sumSeries(c.*)"], "title": "one"},
        {"target": ["d.e"], "title": "inner"},
        {"target": ["f.g"], "title": "two"},
    ]


def test_variables_become_their_all_value_or_a_glob() -> None:
    board = dashboard(
        panel("p", "a.$instance.x", "a.${instance}.y", "a.${instance:glob}.z", "b.$zone.w"),
        templating={"list": [{"name": "instance", "type": "query", "allValue": "*"},
                             {"name": "zone", "type": "custom"}]},
    )
    assert gwd.graphs(board)[0]["target"] == ["a.*.x", "a.*.y", "a.*.z", "b.*.w"]
    board["templating"]["list"][0]["allValue"] = "{hw-1,hw-2}"
    assert gwd.graphs(board)[0]["target"][0] == "a.{hw-1,hw-2}.x"


def test_a_variable_the_dashboard_does_not_define_is_refused() -> None:
    with pytest.raises(ValueError, match=r"uses \$host, which the dashboard does not define"):
        gwd.graphs(dashboard(panel("p", "a.$host.b")))


def test_a_zero_minimum_and_stacking_carry_over() -> None:
    stacked = panel("p", "a.*", fieldConfig={"defaults": {"min": 0, "custom": {"stacking": {"mode": "normal"}}}})
    plain = panel("q", "a.*", fieldConfig={"defaults": {"custom": {"stacking": {"mode": "none"}}}})
    assert gwd.graphs(dashboard(stacked, plain)) == [
        {"target": ["a.*"], "title": "p", "yMin": 0, "areaMode": "stacked"},
        {"target": ["a.*"], "title": "q"},
    ]


# --- state -----------------------------------------------------------------------------------------

def test_state_has_what_graphite_webs_dashboard_reads() -> None:
    result = gwd.state(dashboard(panel("p", "a.b", "c.d")))
    assert result["name"] == "board"
    assert result["timeConfig"]["type"] == "relative"
    assert (result["timeConfig"]["relativeStartQuantity"], result["timeConfig"]["relativeStartUnits"]) == \
        ("30", "minutes")
    assert result["refreshConfig"] == {"enabled": True, "interval": 10_000}
    assert result["defaultGraphParams"] == {"from": "-30min", "until": "now", **gwd.GRAPH_SIZE}
    ((key, params, url),) = result["graphs"]
    assert key == "target=a.b&target=c.d"
    assert params == {"target": ["a.b", "c.d"], "title": "p", "from": "-30min", "until": "now"}
    path, _, query = url.partition("?")
    assert path == "/render"
    assert urllib.parse.parse_qs(query) == {"target": ["a.b", "c.d"], "title": ["p"], "from": ["-30min"],
                                            "until": ["now"], "width": ["600"], "height": ["300"]}
    json.dumps(result)  # it is posted as JSON


@pytest.mark.parametrize(("grafana", "render", "units"), [
    ("now-6h", "-6h", "hours"), ("now-2d", "-2d", "days"), ("now-90s", "-90s", "seconds"),
    ("now-1M", "-1mon", "months"),
])
def test_relative_times_translate(grafana: str, render: str, units: str) -> None:
    result = gwd.state(dashboard(panel("p", "a.b"), time={"from": grafana, "to": "now"}))
    assert result["defaultGraphParams"]["from"] == render
    assert result["timeConfig"]["relativeStartUnits"] == units


def test_an_absolute_time_range_is_refused() -> None:
    with pytest.raises(ValueError, match="not a relative"):
        gwd.state(dashboard(panel("p", "a.b"), time={"from": "2026-01-01T00:00:00Z", "to": "now"}))


def test_every_provisioned_dashboard_translates_into_parsable_targets() -> None:
    for board in dt.load_dashboards(ROOT / "grafana" / "dashboards"):
        result = gwd.state(board)
        with_queries = [p for p in dt.iter_panels(board) if any(q.get("target") for q in p.get("targets", []))]
        assert [params["title"] for _, params, _ in result["graphs"]] == [p["title"] for p in with_queries]
        for _, params, _ in result["graphs"]:
            for target in params["target"]:
                assert "$" not in target
                dt.parse(target)  # raises on a target graphite-web would misread


# --- saving ----------------------------------------------------------------------------------------

class Recorder(BaseHTTPRequestHandler):
    """Answers like graphite-web's save view: {"success": true}, or the given answer."""

    answer: dict[str, Any] = {"success": True}
    received: list[tuple[str, dict[str, list[str]]]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        type(self).received.append((self.path, urllib.parse.parse_qs(body)))
        reply = json.dumps(type(self).answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def peer() -> Iterator[str]:
    Recorder.answer, Recorder.received = {"success": True}, []
    server = HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_save_posts_the_state_as_a_form_field_and_returns_the_dashboard_url(peer: str) -> None:
    board = dashboard(panel("p", "a.b"))
    assert gwd.save(peer + "/", board) == f"{peer}/dashboard/board"
    ((path, form),) = Recorder.received
    assert path == "/dashboard/save/board"
    assert json.loads(form["state"][0]) == gwd.state(board)


def test_save_refuses_an_answer_without_success(peer: str) -> None:
    Recorder.answer = {"error": "Must be logged in with appropriate permissions to save"}
    with pytest.raises(RuntimeError, match="did not save dashboard 'board'.*logged in"):
        gwd.save(peer, dashboard(panel("p", "a.b")))


def test_main_saves_every_file_and_prints_the_urls(peer: str, tmp_path: Path, capsys: Any) -> None:
    for uid in ("one", "two"):
        (tmp_path / f"{uid}.json").write_text(json.dumps(dashboard(panel("p", "a.b"), uid=uid, title=uid.title())))
    assert gwd.main([peer, str(tmp_path / "one.json"), str(tmp_path / "two.json")]) == 0
    assert capsys.readouterr().out.split() == ["One", f"{peer}/dashboard/one", "Two", f"{peer}/dashboard/two"]


def test_main_exits_1_with_the_reason_when_graphite_web_is_unreachable(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "b.json").write_text(json.dumps(dashboard(panel("p", "a.b"))))
    assert gwd.main(["http://127.0.0.1:9", str(tmp_path / "b.json")]) == 1
    assert "graphite-web dashboards:" in capsys.readouterr().err
    assert gwd.main([]) == 2
