"""The join command line printed by ``kubectl edge token create --print-join-command`` and its endpoint.

The line is ``./edgeadm join <HOST:PORT> --token <id>.<secret> --discovery-token-ca-cert-hash sha256:<hex>
[--discovery-token-ca-cert-hash ...] [--install-pkg-path <path> [--install-pkg-sha256 <hex>]]``: the same
flags as ``kubeadm join``, so admins recognise it, with one pin per cluster CA. Values are shell-quoted where
needed so the line can be pasted into a POSIX shell as is.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

from edge_protocol.capin import parse_pin
from edge_protocol.errors import EndpointError, JoinCommandError
from edge_protocol.token import BootstrapToken, parse_token

#: kube-apiserver's usual secure port; kubeadm's default too.
DEFAULT_PORT = 6443
DEFAULT_PROGRAM = "./edgeadm"
SUBCOMMAND = "join"
FLAG_TOKEN = "--token"
FLAG_CA_PIN = "--discovery-token-ca-cert-hash"
FLAG_INSTALL_PKG_PATH = "--install-pkg-path"
FLAG_INSTALL_PKG_SHA256 = "--install-pkg-sha256"
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")

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


@dataclass(frozen=True)
class JoinCommand:
    """A parsed join command line; its ``repr`` hides the token secret.

    Attributes:
        host: API server host (no brackets).
        port: API server port.
        token: The bootstrap token.
        ca_pins: One or more pins ``sha256:<hex>``, normalised, without duplicates.
        install_pkg_path: Local path or URL of the static install package, if given.
        program: How the installer is invoked, e.g. ``./edgeadm``.
        install_pkg_sha256: The package's SHA-256 (lower-case hex), the node's integrity anchor for it.
    """

    host: str
    port: int
    token: BootstrapToken
    ca_pins: List[str]
    install_pkg_path: Optional[str] = None
    program: str = DEFAULT_PROGRAM
    install_pkg_sha256: Optional[str] = None

    @property
    def endpoint(self) -> str:
        """``HOST:PORT`` as written on the line."""
        return format_endpoint(self.host, self.port)

    def to_line(self) -> str:
        """Return the command line, quoted for a POSIX shell."""
        words = [self.program, SUBCOMMAND, self.endpoint, FLAG_TOKEN, self.token.value]
        for pin in self.ca_pins:
            words += [FLAG_CA_PIN, pin]
        if self.install_pkg_path is not None:
            words += [FLAG_INSTALL_PKG_PATH, self.install_pkg_path]
        if self.install_pkg_sha256 is not None:
            words += [FLAG_INSTALL_PKG_SHA256, self.install_pkg_sha256]
        return " ".join(shlex.quote(word) for word in words)


def _unique_pins(pins: Sequence[str]) -> List[str]:
    checked: List[str] = []
    for pin in pins:
        normalised = parse_pin(pin)
        if normalised not in checked:
            checked.append(normalised)
    return checked


def build_join_command(
    endpoint: str,
    token: Union[str, BootstrapToken],
    ca_pins: Sequence[str],
    install_pkg_path: Optional[str] = None,
    program: str = DEFAULT_PROGRAM,
    install_pkg_sha256: Optional[str] = None,
) -> str:
    """Build the join line an admin pastes on an edge node.

    Args:
        endpoint: ``HOST[:PORT]`` the node reaches the API server at (see :func:`parse_endpoint`).
        token: The bootstrap token.
        ca_pins: Pins of the cluster CAs, one ``--discovery-token-ca-cert-hash`` each; at least one.
        install_pkg_path: Path or URL of the static install package, if any.
        program: How the installer is invoked on the node.
        install_pkg_sha256: The package's SHA-256, when it is known (it needs ``install_pkg_path``).

    Returns:
        The line, shell-quoted where needed, with the port always written out.

    Raises:
        EndpointError: The endpoint is malformed.
        TokenError: The token is malformed.
        PinError: A pin is malformed.
        JoinCommandError: No pin was given, the package path is empty, or the sha256 is malformed or
            given without a path.
    """
    host, port = parse_endpoint(endpoint)
    parsed_token = parse_token(token) if isinstance(token, str) else token
    pins = _unique_pins(ca_pins)
    if not pins:
        raise JoinCommandError("a join command needs at least one CA pin", "pin every CA of the cluster's kubeconfig")
    if install_pkg_path is not None and not install_pkg_path:
        raise JoinCommandError("the install package path is empty")
    digest = _check_sha256(install_pkg_sha256, install_pkg_path)
    return JoinCommand(host, port, parsed_token, pins, install_pkg_path, program, digest).to_line()


def _check_sha256(digest: Optional[str], install_pkg_path: Optional[str]) -> Optional[str]:
    if digest is None:
        return None
    if not _SHA256_HEX.fullmatch(digest):
        raise JoinCommandError(f"{FLAG_INSTALL_PKG_SHA256} is not 64 hex digits")
    if install_pkg_path is None:
        raise JoinCommandError(f"{FLAG_INSTALL_PKG_SHA256} needs {FLAG_INSTALL_PKG_PATH}")
    return digest.lower()


def parse_join_command(line: str) -> JoinCommand:
    """Parse a line built by :func:`build_join_command`; ``--flag=value`` is accepted as well.

    Raises:
        JoinCommandError: The line is not ``PROGRAM join ENDPOINT --token ... --discovery-token-ca-cert-hash
            ...``, has an unknown or repeated flag, or a flag without a value.
        EndpointError: The endpoint is malformed.
        TokenError: The token is malformed.
        PinError: A pin is malformed.
    """
    try:
        words = shlex.split(line)
    except ValueError as err:
        raise JoinCommandError(f"cannot split the join command into words: {err}") from None
    if len(words) < 2 or words[1] != SUBCOMMAND:
        raise JoinCommandError("a join command starts with the installer and 'join', e.g. ./edgeadm join ...")
    values: Dict[str, List[str]] = {FLAG_TOKEN: [], FLAG_CA_PIN: [], FLAG_INSTALL_PKG_PATH: [],
                                    FLAG_INSTALL_PKG_SHA256: []}
    positional: List[str] = []
    index = 2
    while index < len(words):
        word = words[index]
        index += 1
        if not word.startswith("-"):
            positional.append(word)
            continue
        flag, equals, value = word.partition("=")
        if flag not in values:
            raise JoinCommandError(f"unknown flag {flag!r} in the join command")
        if not equals:
            if index >= len(words):
                raise JoinCommandError(f"the flag {flag} has no value")
            value = words[index]
            index += 1
        values[flag].append(value)
    if len(positional) != 1:
        raise JoinCommandError(f"a join command has exactly one API server address, found {len(positional)}")
    for flag in (FLAG_TOKEN, FLAG_INSTALL_PKG_PATH, FLAG_INSTALL_PKG_SHA256):
        if len(values[flag]) > 1:
            raise JoinCommandError(f"the flag {flag} is given {len(values[flag])} times")
    if not values[FLAG_TOKEN]:
        raise JoinCommandError(f"the join command has no {FLAG_TOKEN}")
    pins = _unique_pins(values[FLAG_CA_PIN])
    if not pins:
        raise JoinCommandError(f"the join command has no {FLAG_CA_PIN}")
    host, port = parse_endpoint(positional[0])
    install_pkg_path = values[FLAG_INSTALL_PKG_PATH][0] if values[FLAG_INSTALL_PKG_PATH] else None
    digest = _check_sha256(values[FLAG_INSTALL_PKG_SHA256][0] if values[FLAG_INSTALL_PKG_SHA256] else None,
                           install_pkg_path)
    return JoinCommand(host, port, parse_token(values[FLAG_TOKEN][0]), pins, install_pkg_path, words[0], digest)
