"""Each benchmark owns one marked section of a markdown page and rewrites only that section, so the
benchmarks can refresh their numbers independently without touching each other's text."""
from __future__ import annotations

from pathlib import Path


def replace_section(doc: Path, start: str, end: str, section: str, title: str = "# Benchmarks") -> None:
    """Put `section` (which includes its own start/end markers) in place of the one between `start` and
    `end`; append it when the page has none yet."""
    text = doc.read_text() if doc.exists() else title + "\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)
