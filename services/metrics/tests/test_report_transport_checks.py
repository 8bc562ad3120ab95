"""The transports' rules for a peer's host and port: what a resolver and a socket can take is accepted,
anything else refused with the reason (and never the value, which may be a secret in the wrong place)."""

from __future__ import annotations

import pytest

from graphmetrics.reporters.transport import check_host, check_port

LONGEST = ".".join(["a" * 63] * 3 + ["b" * 61])  # 253 characters


@pytest.mark.parametrize(
    ("host", "checked"),
    [("127.0.0.1", "127.0.0.1"), ("::1", "::1"), ("[::1]", "::1"), ("fe80::1%eth0", "fe80::1%eth0"),
     ("localhost", "localhost"), ("carbon", "carbon"), ("carbon.example.org.", "carbon.example.org."),
     ("mattt_carbon_1", "mattt_carbon_1"), ("a-b.c9", "a-b.c9"), ("x" * 63 + ".io", "x" * 63 + ".io"),
     (LONGEST, LONGEST)],
)
def test_ip_addresses_and_dns_names_are_accepted(host: str, checked: str) -> None:
    assert check_host(host) == checked


@pytest.mark.parametrize(
    "host",
    ["", ".", "a..b", ".a", "carbon host", "evil\nhost", "-carbon", "carbon-", "a." + "x" * 64, LONGEST + "b",
     "carbon:2003", "http://carbon", "cärbon", "256.1.1.1"],
)
def test_what_no_resolver_takes_is_refused_without_echoing_it(host: str) -> None:
    with pytest.raises(ValueError, match="a host must be an IP address or a DNS name: ") as raised:
        check_host(host)
    assert host == "" or repr(host) not in str(raised.value)


@pytest.mark.parametrize("host", [None, 12, b"carbon"])
def test_a_host_is_a_string(host: object) -> None:
    with pytest.raises(ValueError, match="a host must be a string"):
        check_host(host)


@pytest.mark.parametrize("port", [1, 2004, 65535])
def test_ports_from_1_to_65535(port: int) -> None:
    assert check_port(port) == port


@pytest.mark.parametrize("port", [0, -1, 65536, "2003", 2003.0, True, None])
def test_other_ports_are_refused(port: object) -> None:
    with pytest.raises(ValueError, match="a port must be an int within 1-65535"):
        check_port(port)
