"""Static checks of the provisioned alert rules (grafana/provisioning/alerting/): what Grafana would
only reject, or silently evaluate to nothing, once running. Each check returns the problems it finds
and is also run on a broken sample."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_provisioning import DASHBOARDS, DATASOURCE_UID, GRAFANA, GRAPHITE_1_1_8_FUNCTIONS, dt, path_problems

ALERTING = GRAFANA / "provisioning" / "alerting"
ALERT_FUNCTIONS = GRAPHITE_1_1_8_FUNCTIONS | {"keepLastValue"}  # graphite-web 1.1.8 has it (functions.py)
EXPRESSION_TYPES = {"reduce", "threshold", "math", "classic_conditions"}


def rule_problems(config: dict[str, Any], panels: dict[str, set[int]]) -> list[str]:
    problems = [] if config.get("apiVersion") == 1 else ["apiVersion must be 1"]
    for group in config.get("groups", []):
        for key in ("orgId", "name", "folder", "interval"):
            if key not in group:
                problems.append(f"group {group.get('name')!r}: no {key}")
        for rule in group.get("rules", []):
            where = f"rule {rule.get('uid')!r}"
            refs = {query.get("refId"): query for query in rule.get("data", [])}
            if rule.get("condition") not in refs:
                problems.append(f"{where}: condition {rule.get('condition')!r} is no refId")
            for ref, query in refs.items():
                model = query.get("model", {})
                if model.get("refId") != ref:
                    problems.append(f"{where}: {ref}'s model has refId {model.get('refId')!r}")
                if query.get("datasourceUid") == "__expr__":
                    if model.get("type") not in EXPRESSION_TYPES:
                        problems.append(f"{where}: {ref} is no expression type: {model.get('type')!r}")
                    if model.get("expression") not in refs:
                        problems.append(f"{where}: {ref} reads {model.get('expression')!r}, no such refId")
                elif query.get("datasourceUid") != DATASOURCE_UID:
                    problems.append(f"{where}: {ref} uses datasource {query.get('datasourceUid')!r}")
                else:
                    problems += [f"{where}: {p}" for p in target_problems(model.get("target", ""))]
                    if not query.get("relativeTimeRange", {}).get("from"):
                        problems.append(f"{where}: {ref} has no relativeTimeRange")
            annotations = rule.get("annotations", {})
            uid, panel = annotations.get("__dashboardUid__"), annotations.get("__panelId__")
            if uid is not None and int(panel or -1) not in panels.get(uid, set()):
                problems.append(f"{where}: links to panel {panel} of {uid!r}, which does not exist")
            if rule.get("noDataState") not in ("Alerting", "NoData", "OK", "KeepLast"):
                problems.append(f"{where}: noDataState {rule.get('noDataState')!r}")
    return problems


def target_problems(target: str) -> list[str]:
    try:
        tree = dt.parse(target)
    except ValueError as error:
        return [str(error)]
    unknown = dt.function_names(tree) - ALERT_FUNCTIONS
    problems = [f"{target}: unchecked functions {sorted(unknown)}"] if unknown else []
    for path in dt.series_paths(tree):
        problems += [f"{target}: {problem}" for problem in path_problems(path)]
    return problems


def dashboard_panels() -> dict[str, set[int]]:
    return {d["uid"]: {p.get("id") for p in dt.iter_panels(d)} for d in dt.load_dashboards(DASHBOARDS)}


def rule_files() -> list[Path]:
    return sorted(ALERTING.glob("*.yaml"))


def test_there_is_a_rule_on_the_oldest_unacknowledged_report() -> None:
    targets = [q["model"]["target"] for path in rule_files()
               for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]
               for q in rule["data"] if q["datasourceUid"] == DATASOURCE_UID]
    assert any("oldest_unacknowledged_age" in target for target in targets)


@pytest.mark.parametrize("path", rule_files(), ids=lambda p: p.name)
def test_rule_file_passes(path: Path) -> None:
    assert rule_problems(yaml.safe_load(path.read_text()), dashboard_panels()) == []


def test_the_check_names_each_problem_of_a_broken_rule() -> None:
    config = copy.deepcopy(yaml.safe_load(rule_files()[0].read_text()))
    rule = config["groups"][0]["rules"][0]
    rule["condition"] = "Z"
    rule["data"][0]["model"]["target"] = "aliasByNode(helloworld.*.graphmetrics.*.oldest_unacked.value, 1)"
    rule["data"][1]["model"]["expression"] = "Q"
    rule["annotations"]["__panelId__"] = "999"
    problems = rule_problems(config, dashboard_panels())
    assert any("condition 'Z'" in p for p in problems)
    assert any("no such series" in p for p in problems)
    assert any("reads 'Q'" in p for p in problems)
    assert any("panel 999" in p for p in problems)
