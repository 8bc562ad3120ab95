#!/usr/bin/python3
"""Make graphite-web's /functions work on Python 3.11 (run once at image build).

graphite-web 1.1.8 (Debian bookworm) and 1.1.10 (PyPI) describe each function with
inspect.getargspec and inspect.formatargspec, which Python 3.11 removed: /functions, the list
Grafana's query editor reads, answers 500 for every function. This rewrites those two lines of
graphite/functions/__init__.py to inspect.signature (same text: "(seriesList, n)"), and fails the
build if they are not there exactly once, so a changed package is noticed rather than half-patched.
"""
import sys

OLD = (
    "    argspec = inspect.getargspec(func)\n"
    "    argformat = inspect.formatargspec(argspec[0][1:], argspec[1], argspec[2], argspec[3])\n"
)
NEW = (
    "    argformat = str(inspect.signature(func).replace(\n"
    "        parameters=list(inspect.signature(func).parameters.values())[1:]))\n"
)


def patched(source: str) -> str:
    if source.count(OLD) != 1:
        raise SystemExit("graphite/functions/__init__.py: functionInfo is not the expected 1.1.x code")
    return source.replace(OLD, NEW)


if __name__ == "__main__":
    path = sys.argv[1]
    with open(path) as f:
        text = patched(f.read())
    with open(path, "w") as f:
        f.write(text)
