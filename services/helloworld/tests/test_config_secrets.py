"""A configuration error names the setting, never a value that looks like a secret (issue 15: a key
pasted into another variable was echoed in the error)."""

from __future__ import annotations

import pytest

from graphmetrics.reporters.hostedgraphite import looks_like_key
from helloworld.config import ConfigError, load_config

KEY = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"


@pytest.mark.parametrize("name", ["CARBON_PORT", "LOG_LEVEL", "REPORT_INTERVAL", "HOSTEDGRAPHITE_TRANSPORT"])
def test_a_key_pasted_into_another_setting_is_not_echoed(name: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config({name: KEY}, hostname=lambda: "web-1")
    message = str(error.value)
    assert name in message
    assert KEY not in message and KEY[:8] not in message and KEY[-8:] not in message


def test_other_bad_values_are_still_shown() -> None:
    with pytest.raises(ConfigError, match="'abc'"):
        load_config({"CARBON_PORT": "abc"}, hostname=lambda: "web-1")


@pytest.mark.parametrize(("value", "looks"), [
    (KEY, True), ("a1b2c3d4e5f6a7b8", True), ("debug", False), ("carbon.example.org", False),
    ("2003", False), ("abcdefghijklmnopqrst", False), ("tls", False),
])
def test_what_looks_like_a_key(value: str, looks: bool) -> None:
    assert looks_like_key(value) is looks
