"""Network addresses as both sides write them: IP or DNS name, ``HOST:PORT``, the API server URL.

The join line, kubeconfigs, the installer's requests and the certificate checks all spell an API server
address; these helpers are the one reading of it (IPv6 in brackets, DNS names lowercased).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Optional, Tuple

from edge_protocol.errors import EndpointError

#: kube-apiserver's usual secure port; kubeadm's default too.
DEFAULT_PORT = 6443

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_DIGITS_AND_DOTS = re.compile(r"[0-9.]+")
_PORT = re.compile(r"[0-9]{1,5}")
_ENDPOINT_HINT = (
    f"write HOST or HOST:PORT (default port {DEFAULT_PORT}), e.g. 203.0.113.10:6443, api.example.com or "
    "[2001:db8::1]:6443"
)


def _bad(text: str, problem: str, hint: str = _ENDPOINT_HINT) -> EndpointError:
    return EndpointError(f"invalid API server address {text!r}: {problem}", hint)


def _is_ipv4(host: str) -> bool:
    # Our own pattern: ipaddress's view of leading zeros changed between Python releases.
    return bool(_IPV4.fullmatch(host))


def _is_ipv6(host: str) -> bool:
    # Scope IDs (fe80::1%eth0) are refused: Python 3.8 cannot parse them and certificates cannot name them.
    if ":" not in host or "%" in host:
        return False
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


def is_ip(host: str) -> bool:
    """Return whether ``host`` (without brackets) is an IPv4 or IPv6 address rather than a DNS name."""
    return _is_ipv4(host) or _is_ipv6(host)


def _check_host(host: str, text: str) -> str:
    if not host:
        raise _bad(text, "the host is empty")
    if _is_ipv4(host):
        return host
    if _DIGITS_AND_DOTS.fullmatch(host):
        raise _bad(text, f"{host!r} is not a valid IPv4 address")
    name = host.lower()
    labels = name.split(".")
    if len(name) > 253 or not all(_DNS_LABEL.fullmatch(label) for label in labels):
        raise _bad(
            text,
            f"{host!r} is neither an IP address nor a DNS name",
            "DNS names are dot-separated labels of a-z, 0-9 and '-', each at most 63 characters",
        )
    return name


def _check_port(port: str, text: str) -> int:
    if not port:
        raise _bad(text, "the port after ':' is empty")
    if not _PORT.fullmatch(port) or not 1 <= int(port) <= 65535:
        raise _bad(text, "the port must be a number from 1 to 65535")
    return int(port)


def parse_endpoint(text: str, default_port: int = DEFAULT_PORT) -> Tuple[str, int]:
    """Parse an API server address ``HOST[:PORT]``; IPv6 hosts in brackets, ``https://`` accepted.

    Args:
        text: ``203.0.113.10``, ``api.example.com:443``, ``[2001:db8::1]:6443`` or a kubeconfig ``server``
            such as ``https://10.0.0.1:6443`` (no path).
        default_port: The port when the text has none.

    Returns:
        ``(host, port)``: the host without brackets, DNS names lowercased, IPv6 in compressed form.

    Raises:
        EndpointError: The text is not such an address; the message says which part is wrong.
    """
    rest = text
    scheme, separator, after = rest.partition("://")
    if separator:
        if scheme.lower() != "https":
            raise _bad(text, "only https:// is supported")
        rest = after[:-1] if after.endswith("/") else after
    if "/" in rest or "?" in rest or "#" in rest or "@" in rest:
        raise _bad(text, "expected only a host and a port")
    if rest.startswith("["):
        host, bracket, tail = rest[1:].partition("]")
        if not bracket:
            raise _bad(text, "'[' without a closing ']'")
        if not _is_ipv6(host):
            raise _bad(text, f"{host!r} in brackets is not an IPv6 address")
        if tail and not tail.startswith(":"):
            raise _bad(text, "expected ':PORT' after ']'")
        port = _check_port(tail[1:], text) if tail else default_port
        return str(ipaddress.IPv6Address(host)), port
    if rest.count(":") > 1:
        if _is_ipv6(rest):
            raise _bad(text, "an IPv6 address must be written in brackets", f"write [{rest}]:{default_port}")
        raise _bad(text, "too many ':'")
    host, colon, port_text = rest.partition(":")
    port = _check_port(port_text, text) if colon else default_port
    return _check_host(host, text), port


def format_endpoint(host: str, port: int) -> str:
    """Return ``HOST:PORT``, with an IPv6 host in brackets."""
    return f"[{host}]:{port}" if _is_ipv6(host) else f"{host}:{port}"


def endpoint_url(host: str, port: int) -> str:
    """Return the API server URL ``https://HOST:PORT`` for a kubeconfig ``server`` field."""
    return "https://" + format_endpoint(host, port)


def tls_server_name(host: str) -> Optional[str]:
    """The name TLS sends (SNI) when connecting to ``host``: the DNS name itself, none for an IP address."""
    return None if is_ip(host) else host
