"""Shape checks for every value the node reads from the cluster, before it reaches a file, unit or flag.

The token proves cluster-info came from someone who knows the token; the CA pin proves the API server is
the cluster's. Neither says that what the cluster stores is well formed: whoever can write
``edge-system/edge-info`` (or a damaged object) decides its bytes. So each value is checked against the
one shape the node uses it in, and re-encoded from what was parsed where it can be (certificates, keys,
JSON), so the files join writes hold exactly what was checked. Anything else is refused with a message
naming the object and the key; join then stops before anything on the node changes.

All functions raise :class:`~edge_installer.errors.DiscoveryError` with reason ``bad-cluster-data``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
import urllib.parse
from typing import Any, Dict, List, Optional, Tuple

from edge_installer.errors import DiscoveryError
from edge_protocol import capin
from edge_protocol.errors import CertificateError

REASON = "bad-cluster-data"
#: Longest value accepted from the cluster; larger ones are refused rather than carried around.
MAX_VALUE = 1 << 20
_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_VERSION = re.compile(r"v[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]{1,100})?")
_DIGITS = re.compile(r"[0-9]{1,4}\+?")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: What separates fields in the files these values go to (glibc's hosts parser): spaces and tabs only.
_BLANKS = re.compile(r"[ \t]+")
_KEY_TYPES = ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY")
_PEM_KEY = re.compile(r"-----BEGIN ([A-Z ]+)-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END ([A-Z ]+)-----\r?\n?")
_PATH = re.compile(r"(/[A-Za-z0-9._-]+)+")
_KUBELET_KIND = re.compile(r"^kind:[ \t]*[\"']?KubeletConfiguration[\"']?[ \t]*(#.*)?$", re.MULTILINE)
_KUBELET_API = re.compile(r"^apiVersion:[ \t]*[\"']?kubelet\.config\.k8s\.io/v1(beta1)?[\"']?[ \t]*(#.*)?$",
                          re.MULTILINE)
_FIX = "fix the object in the cluster (kubectl -n {namespace} edit configmap {name}), then run join again"


def refuse(where: str, problem: str, hint: Optional[str] = None) -> DiscoveryError:
    """The error for a value of ``where`` (``edge-system/edge-info key host-config``) that has the wrong shape."""
    return DiscoveryError(REASON, f"{where} cannot be used: {problem}; nothing was changed",
                          hint or "fix that value in the cluster, then run join again")


def _shown(value: str) -> str:
    """A value for a message: quoted, escaped, cut."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def fix_hint(namespace: str, name: str) -> str:
    """``kubectl -n NS edit configmap NAME`` as a hint."""
    return _FIX.format(namespace=namespace, name=name)


def fields(line: str) -> List[str]:
    """The blank-separated words of a line (``str.split()`` would also split on Unicode spaces)."""
    return [word for word in _BLANKS.split(line) if word]


def lines(text: str) -> List[str]:
    """Lines split on ``\\n`` only (a trailing ``\\r`` dropped), as the files they end up in are read."""
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def check_text(value: Any, where: str, hint: Optional[str] = None) -> str:
    """A string of at most :data:`MAX_VALUE` characters without control characters other than tab and newline."""
    if not isinstance(value, str):
        raise refuse(where, f"it is a {type(value).__name__}, not a string", hint)
    if len(value) > MAX_VALUE:
        raise refuse(where, f"it has {len(value)} characters, more than {MAX_VALUE}", hint)
    found = _CONTROL.search(value.replace("\r\n", "\n"))
    if found:
        raise refuse(where, f"it holds the control character {found.group()!r}", hint)
    return value


def ip_address(value: str, where: str, hint: Optional[str] = None) -> str:
    """An IPv4 or IPv6 address, returned in canonical form.

    Raises:
        DiscoveryError: It is anything else (``169.254.20.11; touch /tmp/x`` included).
    """
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise refuse(where, f"{_shown(value)} is not an IP address", hint) from None


def is_dns_name(name: str) -> bool:
    """Whether ``name`` is a DNS name: labels of letters, digits and inner ``-``, at most 253 characters.

    An IP address is not a name.
    """
    if not name or len(name) > 253 or not all(_LABEL.fullmatch(label) for label in name.split(".")):
        return False
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return True
    return False


def dns_name(value: str, where: str, hint: Optional[str] = None) -> str:
    """A DNS name (see :func:`is_dns_name`).

    Raises:
        DiscoveryError: It is not one.
    """
    if not is_dns_name(value):
        raise refuse(where, f"{_shown(value)} is not a DNS name (letters, digits, '-' and '.')", hint)
    return value


def host_lines(text: str, where: str, hint: Optional[str] = None) -> List[str]:
    """``host-config``: lines ``IP name [name...]``, returned as ``IP name...`` with single spaces.

    Empty lines and ``#`` comment lines are dropped.

    Raises:
        DiscoveryError: A line is not an IP address followed by DNS names.
    """
    result = []
    for number, line in enumerate(lines(check_text(text, where, hint)), 1):
        words = fields(line)
        if not words or words[0].startswith("#"):
            continue
        if len(words) < 2:
            raise refuse(where, f"line {number} {_shown(line)} is not 'IP name [name...]'", hint)
        address = ip_address(words[0], f"{where} line {number}", hint)
        names = [dns_name(name, f"{where} line {number}", hint) for name in words[1:]]
        result.append(" ".join([address, *names]))
    return result


def name_list(text: str, where: str, hint: Optional[str] = None) -> List[str]:
    """``node-delay-domain``: DNS names, one a line (blank lines and ``#`` comments dropped)."""
    names = []
    for line in lines(check_text(text, where, hint)):
        for word in fields(line):
            if word.startswith("#"):
                break
            names.append(dns_name(word, where, hint))
    return names


def registry_list(text: str, where: str, hint: Optional[str] = None) -> List[str]:
    """``insecure-registries``: ``host[:port]`` (host a DNS name or IP, IPv6 in brackets), one a line."""
    registries = []
    for line in lines(check_text(text, where, hint)):
        word = line.strip()
        if not word or word.startswith("#"):
            continue
        host, port = _split_host_port(word)
        if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
            raise refuse(where, f"{_shown(word)} has an invalid port", hint)
        if not is_dns_name(host):
            ip_address(host, where, hint)
        registries.append(word)
    return registries


def _split_host_port(text: str) -> Tuple[str, Optional[str]]:
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return text, None
        return host, rest[1:] if rest else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, port
    return text, None


def certificates(text: str, where: str, hint: Optional[str] = None) -> str:
    """PEM certificates, re-encoded from the parsed DER (only ``CERTIFICATE`` blocks are accepted).

    Raises:
        DiscoveryError: Another block type, or a certificate that does not parse.
    """
    try:
        ders = capin.strict_pem_certificates(check_text(text, where, hint), where)
    except CertificateError as exc:
        raise refuse(where, exc.message, hint) from None
    return capin.der_to_pem(ders)


def _der_fits(der: bytes) -> bool:
    """Whether ``der`` is exactly one DER SEQUENCE with a definite length."""
    if len(der) < 2 or der[0] != 0x30:
        return False
    first = der[1]
    if first < 0x80:
        return 2 + first == len(der)
    count = first & 0x7F
    if count == 0 or count > 4 or len(der) < 2 + count:
        return False
    return 2 + count + int.from_bytes(der[2:2 + count], "big") == len(der)


def private_key(text: str, where: str, hint: Optional[str] = None) -> str:
    """One PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC), re-encoded from its decoded DER."""
    text = check_text(text, where, hint).strip() + "\n"
    match = _PEM_KEY.fullmatch(text)
    if not match or match.group(1) != match.group(3) or match.group(1) not in _KEY_TYPES:
        raise refuse(where, "it is not exactly one PEM private key (BEGIN PRIVATE KEY, RSA PRIVATE KEY or EC "
                            "PRIVATE KEY)", hint)
    try:
        der = base64.b64decode("".join(match.group(2).split()), validate=True)
    except (binascii.Error, ValueError):
        raise refuse(where, "the key's body is not valid base64", hint) from None
    if not _der_fits(der):
        raise refuse(where, "the key's body is not one DER structure", hint)
    body = base64.b64encode(der).decode("ascii")
    wrapped = "".join(body[index:index + 64] + "\n" for index in range(0, len(body), 64))
    return f"-----BEGIN {match.group(1)}-----\n{wrapped}-----END {match.group(1)}-----\n"


def tls_json(text: str, where: str, hint: Optional[str] = None) -> str:
    """lite-apiserver's ``tls.json``: a list of ``{"key": PATH, "cert": PATH}`` with absolute plain paths.

    Returned re-encoded (compact JSON, a final newline).
    """
    try:
        document = json.loads(check_text(text, where, hint))
    except ValueError as exc:
        raise refuse(where, f"it is not JSON ({exc})", hint) from None
    if not isinstance(document, list) or not document:
        raise refuse(where, "it is not a non-empty JSON list", hint)
    entries = []
    for item in document:
        if not isinstance(item, dict) or set(item) != {"key", "cert"}:
            raise refuse(where, 'each entry must be an object with exactly "key" and "cert"', hint)
        for field in ("key", "cert"):
            value = item[field]
            if not isinstance(value, str) or not _PATH.fullmatch(value) or "/../" in value + "/" or \
                    "/./" in value + "/":
                raise refuse(where, f"{field} {_shown(str(value))} is not an absolute path of plain names", hint)
        entries.append({"key": item["key"], "cert": item["cert"]})
    return json.dumps(entries, separators=(",", ":")) + "\n"


def kubelet_config(text: Any, where: str, hint: Optional[str] = None) -> str:
    """The KubeletConfiguration YAML: text that names ``kind: KubeletConfiguration`` and its API group.

    It is written as stored (kubelet parses it; edgeadm has no YAML library to re-encode it with), so it
    must be plain text a YAML reader takes: no control characters.
    """
    checked = check_text(text, where, hint)
    if not _KUBELET_KIND.search(checked) or not _KUBELET_API.search(checked):
        raise refuse(where, "it is not a KubeletConfiguration (no top-level 'kind: KubeletConfiguration' and "
                            "'apiVersion: kubelet.config.k8s.io/v1beta1')", hint)
    return checked


def server_url(value: str, where: str, hint: Optional[str] = None) -> str:
    """An ``https://HOST[:PORT]`` URL (HOST a DNS name or IP), without user, path, query or fragment."""
    text = check_text(value, where, hint)
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError:
        raise refuse(where, f"{_shown(text)} is not a URL", hint) from None
    host = parts.hostname or ""
    if parts.scheme != "https" or not host or parts.username or parts.password or parts.path not in ("", "/") or \
            parts.query or parts.fragment or (port is not None and port == 0) or any(ch.isspace() for ch in text):
        raise refuse(where, f"{_shown(text)} is not an https://HOST[:PORT] URL", hint)
    if not is_dns_name(host):
        ip_address(host, where, hint)
    return text


def version(document: Any) -> Dict[str, str]:
    """The ``/version`` fields join uses (``gitVersion``, ``major``, ``minor``), those that have their shape.

    A field of any other shape is dropped: the version only feeds the skew check and messages.
    """
    if not isinstance(document, dict):
        return {}
    kept: Dict[str, str] = {}
    git = document.get("gitVersion")
    if isinstance(git, str) and _VERSION.fullmatch(git):
        kept["gitVersion"] = git
    for key in ("major", "minor"):
        value = document.get(key)
        if isinstance(value, str) and _DIGITS.fullmatch(value):
            kept[key] = value
    return kept
