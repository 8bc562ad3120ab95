"""The dashboards type-checked against Grafana's own model (grafana/schema-check, @grafana/schema + tsc).

The checker runs once on the real dashboards (all must pass) and once on a set of deliberately broken
copies, each with one fault of a kind the model forbids, and must name each fault at its line.
`make test-dashboards` installs the checker's node_modules (npm ci) before this runs.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKER = ROOT / "grafana" / "schema-check"
DASHBOARDS = ROOT / "grafana" / "dashboards"


def run_checker(*paths: Path) -> subprocess.CompletedProcess[str]:
    if not shutil.which("node") or not (CHECKER / "node_modules" / "typescript").is_dir():
        pytest.fail("the schema checker is not installed: run `make test-dashboards` (installs node and npm ci)",
                    pytrace=False)
    return subprocess.run(["node", str(CHECKER / "check.mjs"), *map(str, paths)],
                          capture_output=True, text=True, timeout=300)


def test_every_provisioned_dashboard_matches_grafanas_model() -> None:
    result = run_checker()  # its default: every file in grafana/dashboards
    count = len(list(DASHBOARDS.glob("*.json")))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{count} dashboard(s) against @grafana/schema 11.3.0" in result.stdout
    assert "all match" in result.stdout


def set_in(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    """Set the value at a path of keys and indexes; "@stat" picks the first panel of type stat."""
    def change(dashboard: dict[str, Any]) -> None:
        node: Any = dashboard
        for key in path[:-1]:
            if isinstance(key, str) and key.startswith("@"):
                node = next(panel for panel in node if panel["type"] == key[1:])
            else:
                node = node[key]
        node[path[-1]] = value
    return change


# name -> (the fault, what the checker must say about it)
FAULTS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "refresh-number": (set_in(["refresh"], 10), "Type 'number' is not assignable to type 'string'"),
    "gridpos-string": (set_in(["panels", "@stat", "gridPos", "h"], "4"),
                       "Type 'string' is not assignable to type 'number'"),
    "panel-legend": (set_in(["panels", "@timeseries", "legend"], {"show": True}),
                     "'\"legend\"' does not exist in type 'PanelOf<\"timeseries\""),
    "legend-mode": (set_in(["panels", "@timeseries", "options", "legend", "displayMode"], "lists"),
                    "'\"lists\"' is not assignable to type '\"hidden\" | \"table\" | \"list\" | undefined'"),
    "stat-option": (set_in(["panels", "@stat", "options", "grafMode"], "area"),
                    "'\"grafMode\"' does not exist"),
    "custom-typo": (set_in(["panels", "@timeseries", "fieldConfig", "defaults", "custom"], {"lineWidht": 2}),
                    "'\"lineWidht\"' does not exist"),
    "target-typo": (set_in(["panels", "@stat", "targets", 0, "taget"], "a.b"), "'\"taget\"' does not exist"),
    "graph-panel": (set_in(["panels", "@stat", "type"], "graph"),
                    "Type '\"graph\"' is not assignable to type '\"table\" | \"text\""),
    "tooltip-enum": (set_in(["graphTooltip"], 5), "Type '5' is not assignable to type 'DashboardCursorSync"),
    "dashboard-key": (set_in(["sharedCrosshair"], True), "'\"sharedCrosshair\"' does not exist"),
}


def test_the_checker_names_each_fault_at_its_line(tmp_path: Path) -> None:
    original = json.loads((DASHBOARDS / "helloworld-overview.json").read_text(encoding="utf-8"))
    for name, (fault, _) in FAULTS.items():
        broken = copy.deepcopy(original)
        fault(broken)
        (tmp_path / f"{name}.json").write_text(json.dumps(broken, indent=2), encoding="utf-8")
    (tmp_path / "not-json.json").write_text('{"uid": "x", // a comment\n}', encoding="utf-8")
    result = run_checker(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    reported: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        match = re.match(rf"{re.escape(str(tmp_path))}/([\w-]+)\.json(:\d+:\d+)?: (.*)", line)
        if match:
            reported.setdefault(match[1], []).append(match[3])
    for name, (_, expected) in FAULTS.items():
        assert any(expected in problem for problem in reported.get(name, [])), (name, reported.get(name))
    assert any("not valid JSON" in problem for problem in reported["not-json"])
    assert f"{len(FAULTS) + 1} dashboard(s)" in result.stdout


def test_the_checker_reports_the_line_of_the_fault(tmp_path: Path) -> None:
    text = (DASHBOARDS / "pipeline-health.json").read_text(encoding="utf-8")
    line, where = next((number, line) for number, line in enumerate(text.splitlines(), 1) if '"refresh"' in line)
    column = where.index('"refresh"') + 1
    (tmp_path / "pipeline-health.json").write_text(re.sub(r'"refresh": "\w+"', '"refresh": 10', text, count=1),
                                                  encoding="utf-8")
    result = run_checker(tmp_path / "pipeline-health.json")
    assert f"pipeline-health.json:{line}:{column}: error TS2322" in result.stdout, result.stdout


def test_the_pinned_model_is_the_grafana_image_in_compose() -> None:
    image = re.search(r"image: grafana/grafana-oss:(\S+)", (ROOT / "compose.yaml").read_text())
    assert image, "compose.yaml runs no grafana/grafana-oss image"
    package = json.loads((CHECKER / "package.json").read_text())
    assert package["devDependencies"]["@grafana/schema"] == image[1]
    assert f"GRAFANA_IMAGE := grafana/grafana-oss:{image[1]}" in (ROOT / "Makefile").read_text()
    lock = json.loads((CHECKER / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/@grafana/schema"]["version"] == image[1]


def test_the_lock_file_pins_every_package_by_hash_and_names_no_host() -> None:
    lock_text = (CHECKER / "package-lock.json").read_text()
    assert "://" not in lock_text  # npm ci fetches from the configured registry, never from a URL in here
    packages = {k: v for k, v in json.loads(lock_text)["packages"].items() if k}
    assert packages and all(v["integrity"].startswith("sha512-") for v in packages.values())
