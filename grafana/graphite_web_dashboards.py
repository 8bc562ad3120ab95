"""The provisioned Grafana dashboards as graphite-web dashboards, for where Grafana cannot run.

graphite-web 1.1 has its own dashboard UI (``/dashboard/<name>``) that stores a dashboard as a JSON
``state`` posted to ``/dashboard/save/<name>`` and serves it back from ``/dashboard/load/<name>``.
Each Grafana panel with Graphite queries becomes one graph of the same title and targets; template
variables become their "All" value (``*``), so a graph shows every replica. Only the standard
library, because ``make up`` runs it with the host's python3:

    python3 grafana/graphite_web_dashboards.py http://127.0.0.1:8080 [DASHBOARD.json ...]
"""

from __future__ import annotations

import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

DASHBOARDS = Path(__file__).resolve().parent / "dashboards"
GRAPH_SIZE = {"width": 600, "height": 300}
REFRESH_MS = 60_000
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")  # Grafana's $name, ${name}, ${name:format}
_GRAFANA_TIME = re.compile(r"now-(\d+)([smhdwMy])")
_UNITS = {"s": ("seconds", "s"), "m": ("minutes", "min"), "h": ("hours", "h"), "d": ("days", "d"),
          "w": ("weeks", "w"), "M": ("months", "mon"), "y": ("years", "y")}


def graphs(dashboard: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One graph's render parameters per panel that queries Graphite, in the dashboard's order."""
    values = {variable["name"]: variable.get("allValue") or "*"
              for variable in dashboard.get("templating", {}).get("list", [])}
    found = []
    for panel in _panels(dashboard):
        targets = [_fill(query["target"], values) for query in panel.get("targets", [])
                   if query.get("target") and not query.get("hide")]
        if not targets:
            continue
        params: dict[str, Any] = {"target": targets, "title": panel.get("title", "")}
        defaults = panel.get("fieldConfig", {}).get("defaults", {})
        if "min" in defaults:
            params["yMin"] = defaults["min"]
        if defaults.get("custom", {}).get("stacking", {}).get("mode") == "normal":
            params["areaMode"] = "stacked"
        found.append(params)
    return found


def state(dashboard: Mapping[str, Any]) -> dict[str, Any]:
    """The graphite-web dashboard state: its time range, refresh, graph size and graphs."""
    time_from = dashboard.get("time", {}).get("from", "now-30m")
    match = _GRAFANA_TIME.fullmatch(time_from)
    if not match:
        raise ValueError(f"{dashboard.get('uid')}: time.from {time_from!r} is not a relative 'now-<n><unit>'")
    quantity, (ui_units, render_units) = match[1], _UNITS[match[2]]
    default_params = {"from": f"-{quantity}{render_units}", "until": "now", **GRAPH_SIZE}
    entries = []
    for params in graphs(dashboard):
        params = {**params, "from": default_params["from"], "until": "now"}
        url = "/render?" + urllib.parse.urlencode({**params, **GRAPH_SIZE}, doseq=True)
        entries.append([urllib.parse.urlencode({"target": params["target"]}, doseq=True), params, url])
    return {
        "name": dashboard["uid"],
        "timeConfig": {"type": "relative", "relativeStartQuantity": quantity, "relativeStartUnits": ui_units,
                       "relativeUntilQuantity": "", "relativeUntilUnits": "now"},
        "refreshConfig": {"enabled": True, "interval": _refresh_ms(dashboard.get("refresh"))},
        "graphSize": GRAPH_SIZE,
        "defaultGraphParams": default_params,
        "graphs": entries,
    }


def save(graphite_url: str, dashboard: Mapping[str, Any]) -> str:
    """Save the dashboard into graphite-web under its uid; returns the URL that shows it."""
    name = dashboard["uid"]
    body = urllib.parse.urlencode({"state": json.dumps(state(dashboard))}).encode()
    base = graphite_url.rstrip("/")
    request = urllib.request.Request(f"{base}/dashboard/save/{urllib.parse.quote(name)}", data=body)
    with urllib.request.urlopen(request, timeout=30) as reply:
        answer = json.loads(reply.read())
    if answer != {"success": True}:
        raise RuntimeError(f"graphite-web did not save dashboard {name!r}: {answer}")
    return f"{base}/dashboard/{urllib.parse.quote(name)}"


def _panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # folded inside a collapsed row


def _fill(target: str, values: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match[1] or match[2]
        if name not in values:
            raise ValueError(f"target {target!r} uses ${name}, which the dashboard does not define")
        return values[name]
    return _VARIABLE.sub(value, target)


def _refresh_ms(refresh: str | None) -> int:
    match = re.fullmatch(r"(\d+)([smh])", refresh or "")
    return int(match[1]) * {"s": 1000, "m": 60_000, "h": 3_600_000}[match[2]] if match else REFRESH_MS


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    paths = [Path(p) for p in argv[1:]] or sorted(DASHBOARDS.glob("*.json"))
    try:
        for path in paths:
            dashboard = json.loads(path.read_text(encoding="utf-8"))
            print(f"    {dashboard.get('title', path.stem):<24} {save(argv[0], dashboard)}")
    except (OSError, ValueError, RuntimeError, urllib.error.URLError) as error:
        print(f"graphite-web dashboards: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
