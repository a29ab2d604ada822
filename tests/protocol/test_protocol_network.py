"""API server addresses: IP or DNS name, HOST:PORT, the URL, the TLS server name."""

from __future__ import annotations

import pytest

from edge_protocol import network
from edge_protocol.errors import EndpointError


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("203.0.113.10", "203.0.113.10", 6443),
        ("203.0.113.10:443", "203.0.113.10", 443),
        ("0.0.0.0:1", "0.0.0.0", 1),
        ("255.255.255.255:65535", "255.255.255.255", 65535),
        ("API.Example.com", "api.example.com", 6443),
        ("api.example.com:8443", "api.example.com", 8443),
        ("localhost", "localhost", 6443),
        ("kubernetes.default:6443", "kubernetes.default", 6443),
        ("a-b.c-d.example", "a-b.c-d.example", 6443),
        ("1.2.3.4.example", "1.2.3.4.example", 6443),
        ("[2001:DB8:0::1]:6443", "2001:db8::1", 6443),
        ("[::1]", "::1", 6443),
        ("[::ffff:198.18.0.1]:7443", "::ffff:c612:1", 7443),
        ("https://10.0.0.1:6443", "10.0.0.1", 6443),
        ("https://10.0.0.1:6443/", "10.0.0.1", 6443),
        ("HTTPS://api.example.com", "api.example.com", 6443),
        ("https://[fd00::1]:443", "fd00::1", 443),
        ("x" * 63 + ".example", "x" * 63 + ".example", 6443),
    ],
)
def test_parse_endpoint(text: str, host: str, port: int) -> None:
    assert network.parse_endpoint(text) == (host, port)


def test_parse_endpoint_default_port() -> None:
    assert network.parse_endpoint("api.example.com", default_port=443) == ("api.example.com", 443)
    assert network.parse_endpoint("api.example.com:6443", default_port=443) == ("api.example.com", 6443)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "the host is empty"),
        (":6443", "the host is empty"),
        ("1.2.3.4:", "the port after ':' is empty"),
        ("1.2.3.4:0", "from 1 to 65535"),
        ("1.2.3.4:65536", "from 1 to 65535"),
        ("1.2.3.4:123456", "from 1 to 65535"),
        ("1.2.3.4:http", "from 1 to 65535"),
        ("1.2.3.4:+80", "from 1 to 65535"),
        ("1.2.3.4:\u0661\u0662", "from 1 to 65535"),
        ("300.1.1.1", "not a valid IPv4 address"),
        ("1.2.3", "not a valid IPv4 address"),
        ("01.2.3.4", "not a valid IPv4 address"),
        ("2001:db8::1", "must be written in brackets"),
        ("a:b:c", "too many ':'"),
        ("[2001:db8::1", "without a closing ']'"),
        ("[1.2.3.4]:6443", "is not an IPv6 address"),
        ("[api.example.com]", "is not an IPv6 address"),
        ("[fe80::1%eth0]:6443", "is not an IPv6 address"),
        ("[::1]6443", "expected ':PORT' after ']'"),
        ("[::1]:", "the port after ':' is empty"),
        ("http://1.2.3.4", "only https://"),
        ("tcp://1.2.3.4:6443", "only https://"),
        ("https://1.2.3.4/api", "only a host and a port"),
        ("admin@1.2.3.4", "only a host and a port"),
        ("host_name", "neither an IP address nor a DNS name"),
        ("-bad.example", "neither an IP address nor a DNS name"),
        ("bad-.example", "neither an IP address nor a DNS name"),
        ("a..b", "neither an IP address nor a DNS name"),
        ("example.com.", "neither an IP address nor a DNS name"),
        (" 1.2.3.4", "neither an IP address nor a DNS name"),
        ("x" * 64 + ".example", "neither an IP address nor a DNS name"),
        (".".join(["a" * 63] * 4), "neither an IP address nor a DNS name"),
        ("caf\u00e9.example", "neither an IP address nor a DNS name"),
    ],
)
def test_parse_endpoint_refuses(text: str, problem: str) -> None:
    with pytest.raises(EndpointError) as info:
        network.parse_endpoint(text)
    assert problem in info.value.message
    assert info.value.message.startswith(f"invalid API server address {text!r}")
    assert info.value.hint


def test_unbracketed_ipv6_hint_shows_the_fix() -> None:
    with pytest.raises(EndpointError) as info:
        network.parse_endpoint("fd00::1")
    assert info.value.hint == "write [fd00::1]:6443"


@pytest.mark.parametrize(
    ("host", "expected"),
    [("198.18.0.1", True), ("::1", True), ("2001:db8::1", True), ("::ffff:1.2.3.4", True),
     ("api.example.com", False), ("localhost", False), ("[::1]", False), ("1.2.3", False), ("01.2.3.4", False),
     ("256.1.1.1", False), ("fe80::1%eth0", False), ("", False), ("1.2.3.4:6443", False)],
)
def test_is_ip(host: str, expected: bool) -> None:
    assert network.is_ip(host) is expected


def test_format_endpoint_and_url() -> None:
    assert network.format_endpoint("203.0.113.10", 6443) == "203.0.113.10:6443"
    assert network.format_endpoint("2001:db8::1", 443) == "[2001:db8::1]:443"
    assert network.format_endpoint("api.example.com", 6443) == "api.example.com:6443"
    assert network.endpoint_url("2001:db8::1", 6443) == "https://[2001:db8::1]:6443"
    assert network.endpoint_url("10.0.0.1", 6443) == "https://10.0.0.1:6443"


@pytest.mark.parametrize(("host", "expected"), [("api.example.com", "api.example.com"), ("198.18.0.1", None),
                                                ("2001:db8::1", None), ("localhost", "localhost")])
def test_tls_server_name_is_none_for_an_ip(host: str, expected: str | None) -> None:
    assert network.tls_server_name(host) == expected
