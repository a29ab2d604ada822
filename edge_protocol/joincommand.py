"""The join command line printed by ``kubectl edge token create --print-join-command``.

The line is ``./edgeadm join <HOST:PORT> --token <id>.<secret> --discovery-token-ca-cert-hash sha256:<hex>
[--discovery-token-ca-cert-hash ...] [--install-pkg-path <path> [--install-pkg-sha256 <hex>]]``: the same
flags as ``kubeadm join``, so admins recognise it, with one pin per cluster CA. Values are shell-quoted where
needed so the line can be pasted into a POSIX shell as is.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Union

from edge_protocol.capin import parse_pin
from edge_protocol.errors import JoinCommandError
from edge_protocol.network import format_endpoint, parse_endpoint
from edge_protocol.token import BootstrapToken, parse_token

DEFAULT_PROGRAM = "./edgeadm"
SUBCOMMAND = "join"
FLAG_TOKEN = "--token"
FLAG_CA_PIN = "--discovery-token-ca-cert-hash"
FLAG_INSTALL_PKG_PATH = "--install-pkg-path"
FLAG_INSTALL_PKG_SHA256 = "--install-pkg-sha256"
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


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
