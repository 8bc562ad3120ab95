"""Environment validation: defaults, every variable's bad values, and no secret in any message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from graphmetrics.names import check_name
from graphmetrics.reporters.carbon import PROTOCOLS
from graphmetrics.reporters.hostedgraphite import PORTS
from graphmetrics.reporters.transport import check_host, check_port
from graphmetrics.runners.schedule import check_interval
from helloworld.config import Config, ConfigError, default_instance, load_config

KEY = "0123abcd-4567-89ef-0123-456789abcdef"


def load(**env: str) -> Config:
    return load_config(env, hostname=lambda: "web-1")


def test_defaults() -> None:
    config = load()
    assert (config.carbon_host, config.carbon_port, config.carbon_protocol) == ("127.0.0.1", 2004, "pickle")
    assert config.report_interval == 10.0
    assert config.metrics_root == "helloworld.web-1"
    assert (config.listen_port, config.log_level) == (8001, "INFO")
    assert config.hostedgraphite_api_key is None and config.carbon_enabled


@pytest.mark.parametrize(("protocol", "port"), [("plaintext", 2003), ("udp", 2003), ("PICKLE", 2004)])
def test_default_carbon_port_follows_the_protocol(protocol: str, port: int) -> None:
    config = load(CARBON_PROTOCOL=protocol)
    assert (config.carbon_protocol, config.carbon_port) == (protocol.lower(), port)


def test_explicit_values() -> None:
    config = load(
        CARBON_HOST="carbon", CARBON_PORT="12004", REPORT_INTERVAL="15", METRICS_PREFIX="apps.hello",
        INSTANCE="replica_3", LISTEN_PORT="0", LOG_LEVEL="debug",
    )
    assert (config.carbon_host, config.carbon_port, config.report_interval) == ("carbon", 12004, 15.0)
    assert config.metrics_root == "apps.hello.replica_3"
    assert (config.listen_port, config.log_level) == (0, "DEBUG")


def test_empty_carbon_host_disables_carbon() -> None:
    assert not load(CARBON_HOST="").carbon_enabled


@pytest.mark.parametrize(
    ("hostname", "instance"),
    [("web-1", "web-1"), ("a.example.org", "a_example_org"), ("we b/1", "we_b_1"), ("...", "unknown")],
)
def test_default_instance_is_one_sanitised_node(hostname: str, instance: str) -> None:
    assert default_instance(hostname) == instance
    assert load_config({}, hostname=lambda: hostname).instance == instance


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CARBON_HOST", "carbon host"),
        ("CARBON_HOST", "evil\nhost"),
        ("CARBON_HOST", "a..b"),
        ("CARBON_PORT", "http"),
        ("CARBON_PORT", "0"),
        ("CARBON_PORT", "70000"),
        ("CARBON_PORT", "²"),
        ("CARBON_PROTOCOL", "http"),
        ("REPORT_INTERVAL", "soon"),
        ("REPORT_INTERVAL", "0"),
        ("REPORT_INTERVAL", "0.5"),
        ("REPORT_INTERVAL", "2.5"),
        ("REPORT_INTERVAL", "3601"),
        ("REPORT_INTERVAL", "nan"),
        ("REPORT_INTERVAL", "inf"),
        ("REPORT_INTERVAL", "-5"),
        ("METRICS_PREFIX", "hello world"),
        ("METRICS_PREFIX", "a..b"),
        ("METRICS_PREFIX", "."),
        ("INSTANCE", "a.b"),
        ("INSTANCE", "web 1"),
        ("INSTANCE", "x" * 252),
        ("LISTEN_PORT", "-1"),
        ("LISTEN_PORT", "65536"),
        ("LOG_LEVEL", "loud"),
        ("HOSTEDGRAPHITE_TRANSPORT", "carrier-pigeon"),
        ("HOSTEDGRAPHITE_PORT", "x"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_value(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(**{variable: value})
    message = str(raised.value)
    assert message.startswith(f"{variable}={value!r} is invalid: ")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("variable", "value", "rule", "argument"),
    [
        ("CARBON_HOST", "a..b", check_host, "a..b"),
        ("HOSTEDGRAPHITE_HOST", "-carbon", check_host, "-carbon"),
        ("CARBON_PORT", "0", check_port, 0),
        ("HOSTEDGRAPHITE_PORT", "70000", check_port, 70000),
        ("LISTEN_PORT", "65536", check_port, 65536),
        ("REPORT_INTERVAL", "2.5", check_interval, 2.5),
        ("METRICS_PREFIX", "a..b", check_name, "a..b"),
        ("INSTANCE", "web 1", check_name, "web 1"),
    ],
)
def test_the_rule_is_the_librarys_and_so_is_the_reason(
    variable: str, value: str, rule: Callable[[Any], object], argument: object
) -> None:
    """The config refuses what the library would refuse later, and says why in the library's words."""
    with pytest.raises(ValueError) as library:
        rule(argument)
    with pytest.raises(ConfigError) as raised:
        load(**{variable: value})
    assert str(library.value) in str(raised.value)


@pytest.mark.parametrize(
    ("variable", "attribute", "protocols"),
    [("CARBON_PROTOCOL", "carbon_protocol", PROTOCOLS), ("HOSTEDGRAPHITE_TRANSPORT", "hostedgraphite_transport", PORTS)],
)
def test_the_protocols_are_the_reporters_own(variable: str, attribute: str, protocols: dict[str, int]) -> None:
    assert [getattr(load(**{variable: protocol}), attribute) for protocol in protocols] == list(protocols)
    with pytest.raises(ConfigError) as raised:
        load(**{variable: "carrier-pigeon"})
    assert all(protocol in str(raised.value) for protocol in protocols)


def test_api_key_from_the_environment_is_hidden_from_repr() -> None:
    config = load(HOSTEDGRAPHITE_API_KEY=KEY)
    assert config.hostedgraphite_api_key == KEY
    assert KEY not in repr(config)


def test_api_key_from_a_file(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    assert load(HOSTEDGRAPHITE_API_KEY_FILE=str(key_file)).hostedgraphite_api_key == KEY


def test_the_variable_wins_over_the_file(tmp_path: Path) -> None:
    config = load(HOSTEDGRAPHITE_API_KEY=KEY, HOSTEDGRAPHITE_API_KEY_FILE=str(tmp_path / "missing"))
    assert config.hostedgraphite_api_key == KEY


def test_unreadable_key_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the Hosted Graphite API key from the file"):
        load(HOSTEDGRAPHITE_API_KEY_FILE=str(tmp_path / "missing"))


@pytest.mark.parametrize("bad_key", [KEY + " trailing words", "key;with;semicolons", "-leading-dash"])
def test_a_malformed_key_is_refused_without_echoing_it(tmp_path: Path, bad_key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(HOSTEDGRAPHITE_API_KEY=bad_key)
    assert bad_key not in str(raised.value) and "HOSTEDGRAPHITE_API_KEY" in str(raised.value)
    key_file = tmp_path / "key"
    key_file.write_text(bad_key)
    with pytest.raises(ConfigError) as raised:
        load(HOSTEDGRAPHITE_API_KEY_FILE=str(key_file))
    assert bad_key not in str(raised.value) and "HOSTEDGRAPHITE_API_KEY_FILE" in str(raised.value)
