"""The Graphite targets of the provisioned Grafana dashboards, as graphite-web will see them.

Grafana cannot run here, so the dashboards are proven twice: statically (every target parses and
calls only functions graphite-web 1.1.8 has) and against the real stack (every target, with its
template variables filled in, renders non-empty data). Both need the targets, the template
variables and Grafana's expansion of ``$var``; the static checks also need a parser, because
graphite-web reads a malformed target as a series name and answers "no data", not an error.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

ALL_VALUE = "*"
"""What every dashboard variable sends for "All" (its ``allValue``): one glob, not a value list."""

_VARIABLE = re.compile(r"\$\{(?P<braced>\w+)(?::(?P<format>\w+))?\}|\$(?P<plain>\w+)")
_VALUE = re.compile(r"[A-Za-z0-9_-]+")


class Target(NamedTuple):
    dashboard_uid: str
    panel_title: str
    target: str


def load_dashboards(dashboards_dir: str | Path) -> list[dict[str, Any]]:
    """Every ``*.json`` dashboard in the directory, in file-name order."""
    paths = sorted(Path(dashboards_dir).glob("*.json"))
    if not paths:
        raise ValueError(f"no dashboard JSON in {dashboards_dir}")
    return [json.loads(path.read_text(encoding="utf-8")) for path in paths]


def iter_panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those folded inside collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def iter_targets(dashboards_dir: str | Path) -> list[Target]:
    """``(dashboard_uid, panel_title, raw_target)`` for every Graphite query of every dashboard."""
    return [
        Target(dashboard["uid"], panel.get("title", ""), query["target"])
        for dashboard in load_dashboards(dashboards_dir)
        for panel in iter_panels(dashboard)
        for query in panel.get("targets", [])
        if query.get("target")
    ]


def template_variables(dashboard: Mapping[str, Any]) -> dict[str, str]:
    """Name -> Graphite find query of each query variable (string or query-object form)."""
    found = {}
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        found[variable["name"]] = query.get("target", "") if isinstance(query, Mapping) else str(query)
    return found


def expand(target: str, variables: Mapping[str, Sequence[str]]) -> list[str]:
    """Every rendering of ``target`` a viewer can produce by picking from the given values.

    For each referenced variable: each value alone, all of them together as the Graphite glob
    ``{a,b}`` (what Grafana's Graphite datasource sends for a multi-value pick), and "All"
    (``ALL_VALUE``). Several variables give the cartesian product. A target without variables
    comes back unchanged.
    """
    names = list(dict.fromkeys(_referenced(target)))
    choices = [_choices(name, variables) for name in names]
    picks = (dict(zip(names, picked, strict=True)) for picked in itertools.product(*choices))
    return list(dict.fromkeys(_substitute(target, pick) for pick in picks))


def _substitute(target: str, values: Mapping[str, str]) -> str:
    return _VARIABLE.sub(lambda match: values[match["braced"] or match["plain"]], target)


def _referenced(target: str) -> Iterator[str]:
    for match in _VARIABLE.finditer(target):
        if match["format"] not in (None, "glob"):
            raise ValueError(f"${{{match['braced']}:{match['format']}}}: only the glob format suits Graphite")
        yield match["braced"] or match["plain"]


def _choices(name: str, variables: Mapping[str, Sequence[str]]) -> list[str]:
    values = list(variables.get(name, ()))
    if not values:
        raise ValueError(f"the target uses ${name} but no values were given for it")
    bad = [value for value in values if not _VALUE.fullmatch(value)]
    if bad:
        raise ValueError(f"values for ${name} must be single path nodes, got {bad!r}")
    both = ["{" + ",".join(values) + "}"] if len(values) > 1 else []
    return [*values, *both, ALL_VALUE]


# --- Graphite expressions --------------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    """``name(args..., key=value...)``; args are Calls, path strings or literals."""

    name: str
    args: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...] = ()


class PathExpression(str):
    """A series path or glob, told apart from a quoted string argument."""


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE]-?\d+)?(?=\s*[,)]|\s*$)")
_NAME = re.compile(r"[A-Za-z_]\w*")
_KEYWORDS = {"true": True, "false": False, "none": None, "inf": float("inf")}
# What ends a path: graphite-web reserves all of these but '=' (kept here for keyword arguments).
_PATH_STOP = set("()'\"\\|= \t\n")


def parse(expression: str) -> Call | PathExpression:
    """Parse one target into Calls and paths; ValueError says where it stops making sense."""
    parser = _Parser(expression)
    tree = parser.expression()
    parser.skip_space()
    if parser.pos != len(expression):
        parser.fail("unexpected text after the expression")
    return tree


def function_names(expression: str | Call | PathExpression) -> set[str]:
    """Every function the target calls, nested calls included."""
    return {call.name for call in _calls(parse(expression) if isinstance(expression, str) else expression)}


def series_paths(expression: str | Call | PathExpression) -> list[str]:
    """Every path (glob) the target reads, in order: what must exist for it to draw anything."""
    tree = parse(expression) if isinstance(expression, str) else expression
    if isinstance(tree, PathExpression):
        return [str(tree)]
    return [path for call in _calls(tree) for path in _args(call) if isinstance(path, PathExpression)]


def _calls(tree: Any) -> Iterator[Call]:
    if isinstance(tree, Call):
        yield tree
        for arg in _args(tree):
            yield from _calls(arg)


def _args(call: Call) -> list[Any]:
    return [*call.args, *(value for _, value in call.kwargs)]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, why: str) -> NoReturn:
        raise ValueError(f"{why} at column {self.pos} of {self.text!r}")

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip_space()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expression(self) -> Call | PathExpression:
        self.skip_space()
        name = _NAME.match(self.text, self.pos)
        if name and self.text.startswith("(", name.end()):
            self.pos = name.end() + 1
            return self.call(name.group())
        return self.path()

    def call(self, name: str) -> Call:
        args: list[Any] = []
        kwargs: list[tuple[str, Any]] = []
        if self.peek() == ")":
            self.pos += 1
            return Call(name, ())
        while True:
            self.skip_space()
            keyword = _NAME.match(self.text, self.pos)
            if keyword and self.text.startswith("=", keyword.end()):
                self.pos = keyword.end() + 1
                kwargs.append((keyword.group(), self.argument()))
            elif kwargs:
                self.fail("positional argument after a keyword argument")
            else:
                args.append(self.argument())
            separator = self.peek()
            self.pos += 1
            if separator == ")":
                return Call(name, tuple(args), tuple(kwargs))
            if separator != ",":
                self.pos -= 1
                self.fail(f"expected ',' or ')' to continue {name}(")

    def argument(self) -> Any:
        first = self.peek()
        if first in ("'", '"'):
            end = self.text.find(first, self.pos + 1)
            if end < 0:
                self.fail("unterminated string")
            value = self.text[self.pos + 1:end]
            self.pos = end + 1
            return value
        number = _NUMBER.match(self.text, self.pos)
        if number:
            self.pos = number.end()
            text = number.group()
            return float(text) if any(c in text for c in ".eE") else int(text)
        word = _NAME.match(self.text, self.pos)
        if word and word.group().lower() in _KEYWORDS and not self.text.startswith(("(", "."), word.end()):
            self.pos = word.end()
            return _KEYWORDS[word.group().lower()]
        return self.expression()

    def path(self) -> PathExpression:
        start = self.pos
        depth = 0
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth < 0:
                    self.fail("'}' without '{'")
            elif char in _PATH_STOP or (char == "," and depth == 0):
                break
            self.pos += 1
        if depth:
            self.fail("'{' without '}'")
        text = self.text[start:self.pos]
        if not text:
            self.fail("expected a function call or a series path")
        if text.startswith(".") or text.endswith(".") or ".." in text:
            self.fail(f"empty path node in {text!r}")
        return PathExpression(text)
