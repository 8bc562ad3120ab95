"""A peer's host and port: what a resolver and a socket can take is accepted, a typo is refused with why."""

from __future__ import annotations

import pytest

from graphmetrics.reporters.address import MAX_HOST_LENGTH, check_host, check_port


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "::1", "fe80::1%eth0", "localhost", "carbon", "carbon.example.org", "carbon.example.org.",
     "mattt_carbon_1", "a-b.c9", "x" * 63 + ".io", ".".join(["a" * 63] * 3 + ["b" * 61])],
)
def test_ip_addresses_and_dns_names_are_accepted(host: str) -> None:
    assert check_host(host) == host


def test_a_name_may_be_253_characters_long_not_254() -> None:
    longest = ".".join(["a" * 63] * 3 + ["b" * 61])
    assert len(longest) == MAX_HOST_LENGTH and check_host(longest) == longest
    with pytest.raises(ValueError):
        check_host(longest + "b")


@pytest.mark.parametrize(
    "host",
    ["", ".", "a..b", ".a", "carbon host", "evil\nhost", "[::1]", "-carbon", "carbon-", "a." + "x" * 64,
     ".".join(["a" * 63] * 4), "carbon:2003", "http://carbon", "cärbon", None, 12],
)
def test_what_no_resolver_takes_is_refused(host: object) -> None:
    with pytest.raises(ValueError, match="host must be an IP address or a DNS name"):
        check_host(host)  # type: ignore[arg-type]


@pytest.mark.parametrize(("port", "value"), [(1, 1), (2004, 2004), (65535, 65535), ("2003", 2003), ("08", 8)])
def test_ports_from_1_to_65535_as_ints_or_digits(port: int | str, value: int) -> None:
    assert check_port(port) == value


@pytest.mark.parametrize("port", [0, -1, 65536, "0", "70000", "http", "", " 2003", "²", "2003.0", 2003.0, True, None])
def test_other_ports_are_refused(port: object) -> None:
    with pytest.raises(ValueError, match="port must be a number from 1 to 65535"):
        check_port(port)  # type: ignore[arg-type]
