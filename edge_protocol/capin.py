"""CA pins (``--discovery-token-ca-cert-hash``) and the little X.509 parsing they need, in pure Python.

A pin is ``sha256:<hex>``: the SHA-256 of the DER ``SubjectPublicKeyInfo`` of a CA certificate (RFC 7469
style), as kubeadm prints and checks it. The node installer has no X.509 library, so this module walks the DER
itself: just far enough to find the ``SubjectPublicKeyInfo`` and the subject alternative names, and strictly
enough (definite, minimal lengths; nothing trailing) that malformed input is refused rather than misread.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import re
from dataclasses import dataclass
from typing import Iterable, List, Sequence, Tuple, Union

from edge_protocol.errors import CertificateError, PinError

PIN_PREFIX = "sha256:"

_SEQUENCE = 0x30
_INTEGER = 0x02
_BIT_STRING = 0x03
_OCTET_STRING = 0x04
_OID = 0x06
_BOOLEAN = 0x01
_VERSION = 0xA0  # [0] EXPLICIT
_EXTENSIONS = 0xA3  # [3] EXPLICIT
_DNS_NAME = 0x82  # [2] IMPLICIT IA5String
_IP_ADDRESS = 0x87  # [7] IMPLICIT OCTET STRING
_SAN_OID = b"\x55\x1d\x11"  # 2.5.29.17, contents of the OID's encoding

_PEM_BLOCK = re.compile(r"-----BEGIN ([^-\r\n]*)-----(.*?)-----END ([^-\r\n]*)-----", re.DOTALL)
_PEM_BEGIN_CERTIFICATE = "-----BEGIN CERTIFICATE-----"
_HEX = re.compile(r"[0-9a-fA-F]*")
_PIN_HINT = "a pin looks like sha256:<64 hex digits>; kubectl edge token create --print-join-command prints it"


_Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


@dataclass(frozen=True)
class _Element:
    """One DER element: identifier octet, and offsets of its start, its contents and its end in the input."""

    tag: int
    start: int
    body: int
    end: int


def _read(data: bytes, pos: int, limit: int, what: str) -> _Element:
    if pos >= limit:
        raise CertificateError(f"not a certificate: {what} is missing (the data ends early)")
    tag = data[pos]
    cursor = pos + 1
    if tag & 0x1F == 0x1F:
        # High tag numbers never occur where this walker compares tags; skip their base-128 digits.
        while cursor < limit and data[cursor] & 0x80:
            cursor += 1
        cursor += 1
    if cursor >= limit:
        raise CertificateError(f"not a certificate: {what} is truncated")
    first = data[cursor]
    cursor += 1
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise CertificateError(f"not a certificate: {what} uses an indefinite length, which DER forbids")
    else:
        count = first & 0x7F
        if count > 8 or cursor + count > limit:
            raise CertificateError(f"not a certificate: {what} has a truncated or oversized length")
        length = int.from_bytes(data[cursor:cursor + count], "big")
        if length < 0x80 or data[cursor] == 0:
            raise CertificateError(f"not a certificate: {what} has a non-minimal length, which DER forbids")
        cursor += count
    end = cursor + length
    if end > limit:
        left = limit - cursor
        raise CertificateError(f"not a certificate: {what} is truncated ({length} bytes announced, {left} left)")
    return _Element(tag, pos, cursor, end)


def _expect(data: bytes, pos: int, limit: int, tag: int, what: str) -> _Element:
    element = _read(data, pos, limit, what)
    if element.tag != tag:
        raise CertificateError(f"not a certificate: expected {what} (tag 0x{tag:02x}), found tag 0x{element.tag:02x}")
    return element


def _children(data: bytes, parent: _Element, what: str) -> List[_Element]:
    items = []
    pos = parent.body
    while pos < parent.end:
        item = _read(data, pos, parent.end, f"an element of {what}")
        items.append(item)
        pos = item.end
    return items


def _tbs_fields(der: bytes) -> Tuple[List[_Element], int]:
    """Return the fields of tbsCertificate and the index of subjectPublicKeyInfo among them."""
    if not der:
        raise CertificateError("not a certificate: the data is empty")
    certificate = _expect(der, 0, len(der), _SEQUENCE, "the Certificate SEQUENCE")
    if certificate.end != len(der):
        raise CertificateError(f"not a certificate: {len(der) - certificate.end} bytes follow the certificate")
    tbs = _expect(der, certificate.body, certificate.end, _SEQUENCE, "the tbsCertificate SEQUENCE")
    fields = _children(der, tbs, "tbsCertificate")
    index = 1 if fields and fields[0].tag == _VERSION else 0
    expected = (
        (_INTEGER, "serialNumber"),
        (_SEQUENCE, "the signature AlgorithmIdentifier"),
        (_SEQUENCE, "issuer"),
        (_SEQUENCE, "validity"),
        (_SEQUENCE, "subject"),
        (_SEQUENCE, "subjectPublicKeyInfo"),
    )
    for offset, (tag, what) in enumerate(expected):
        if index + offset >= len(fields):
            raise CertificateError(f"not a certificate: tbsCertificate has no {what}")
        found = fields[index + offset].tag
        if found != tag:
            raise CertificateError(f"not a certificate: expected {what} (tag 0x{tag:02x}), found tag 0x{found:02x}")
    spki_index = index + len(expected) - 1
    spki = fields[spki_index]
    algorithm = _expect(der, spki.body, spki.end, _SEQUENCE, "the public key's AlgorithmIdentifier")
    key = _expect(der, algorithm.end, spki.end, _BIT_STRING, "the public key BIT STRING")
    if key.end != spki.end:
        raise CertificateError("not a certificate: subjectPublicKeyInfo has extra elements")
    return fields, spki_index


def spki_of(der: bytes) -> bytes:
    """Return the DER SubjectPublicKeyInfo (tag, length and contents) of a DER certificate.

    Raises:
        CertificateError: The data is not a well-formed certificate.
    """
    fields, index = _tbs_fields(der)
    spki = fields[index]
    return der[spki.start:spki.end]


def pem_to_der_list(pem: Union[str, bytes]) -> List[bytes]:
    """Decode every ``CERTIFICATE`` block of a PEM bundle, in order; other block types are skipped.

    Text around the blocks (comments, ``openssl x509 -text`` output) is ignored, as Go's PEM decoder does.

    Raises:
        CertificateError: No certificate block, a block without its END line, a body that is not base64,
            or a block that is not a well-formed certificate.
    """
    # latin-1 maps every byte to a character, so non-ASCII garbage reaches the base64 check instead of failing here.
    text = pem.decode("latin-1") if isinstance(pem, bytes) else pem
    ders: List[bytes] = []
    blocks = 0
    for match in _PEM_BLOCK.finditer(text):
        label, body, end_label = match.group(1), match.group(2), match.group(3)
        if label != "CERTIFICATE":
            continue
        blocks += 1
        if "-----BEGIN" in body or end_label != label:
            raise CertificateError(f"bad PEM: certificate {blocks} has no END CERTIFICATE line")
        compact = "".join(body.split())
        try:
            der = base64.b64decode(compact.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise CertificateError(f"bad PEM: the body of certificate {blocks} is not valid base64") from None
        try:
            spki_of(der)
        except CertificateError as err:
            raise CertificateError(f"bad PEM: certificate {blocks}: {err.message}") from None
        ders.append(der)
    if text.count(_PEM_BEGIN_CERTIFICATE) != blocks:
        raise CertificateError("bad PEM: a BEGIN CERTIFICATE line has no matching END CERTIFICATE line")
    if not ders:
        raise CertificateError(
            "bad PEM: no certificate found",
            "expected one or more blocks between -----BEGIN CERTIFICATE----- and -----END CERTIFICATE-----",
        )
    return ders


def strict_pem_certificates(pem: Union[str, bytes], what: str = "the CA data") -> List[bytes]:
    """Decode a PEM bundle that must hold ``CERTIFICATE`` blocks and nothing else a PEM reader would take.

    OpenSSL loads more than ``CERTIFICATE`` blocks (``X509 CERTIFICATE``, ``TRUSTED CERTIFICATE``, CRLs)
    from the same text, so a bundle whose other blocks were skipped here could make a TLS context trust
    a certificate that no pin vouched for. Any ``-----BEGIN`` that does not open a certificate block read
    here is refused; callers trust only :func:`der_to_pem` of what this returns, never the text itself.

    Raises:
        CertificateError: Another PEM block type, a stray BEGIN line, or no well-formed certificate.
    """
    text = pem.decode("latin-1") if isinstance(pem, bytes) else pem
    for match in _PEM_BLOCK.finditer(text):
        if match.group(1) != "CERTIFICATE":
            raise CertificateError(
                f"{what} holds a PEM block of type {match.group(1)[:40]!r}; only CERTIFICATE blocks are accepted",
                "the data was altered, or is not a CA bundle: regenerate it (kubectl edge addon writes cluster-info)")
    ders = pem_to_der_list(text)
    if text.count("-----BEGIN") != len(ders):
        raise CertificateError(f"{what} holds a -----BEGIN line that does not start a certificate block",
                               "the data was altered, or is not a CA bundle")
    return ders


def der_to_pem(ders: Sequence[bytes]) -> str:
    """PEM text of DER certificates: ``CERTIFICATE`` blocks, 64 base64 characters a line, nothing else."""
    blocks = []
    for der in ders:
        body = base64.b64encode(der).decode("ascii")
        lines = "".join(body[index:index + 64] + "\n" for index in range(0, len(body), 64))
        blocks.append(f"-----BEGIN CERTIFICATE-----\n{lines}-----END CERTIFICATE-----\n")
    return "".join(blocks)


def der_list(der_or_pem: Union[str, bytes]) -> List[bytes]:
    """Return the DER certificates in ``der_or_pem``: one DER certificate, or PEM text or bytes.

    Bytes starting with a SEQUENCE tag are taken as DER, anything else as PEM.

    Raises:
        CertificateError: The data holds no well-formed certificate.
    """
    if isinstance(der_or_pem, bytes) and der_or_pem[:1] == bytes([_SEQUENCE]):
        spki_of(der_or_pem)
        return [der_or_pem]
    return pem_to_der_list(der_or_pem)


def format_pin(spki: bytes) -> str:
    """Return the pin ``sha256:<hex>`` of a DER SubjectPublicKeyInfo."""
    return PIN_PREFIX + hashlib.sha256(spki).hexdigest()


def pin_of(der_or_pem: Union[str, bytes]) -> str:
    """Return the pin of one certificate, given as DER or PEM.

    Raises:
        CertificateError: The data is not exactly one well-formed certificate (use :func:`pins_of` for
            bundles).
    """
    certificates = der_list(der_or_pem)
    if len(certificates) != 1:
        raise CertificateError(
            f"expected one certificate, found {len(certificates)}", "pin every certificate of a bundle with pins_of"
        )
    return format_pin(spki_of(certificates[0]))


def pins_of(der_or_pem: Union[str, bytes]) -> List[str]:
    """Return the pin of every certificate in a DER certificate or PEM bundle, in order.

    Raises:
        CertificateError: The data holds no well-formed certificate.
    """
    return [format_pin(spki_of(der)) for der in der_list(der_or_pem)]


def parse_pin(text: str) -> str:
    """Check a pin as kubeadm does and return it normalised to ``sha256:<lowercase hex>``.

    The ``sha256`` prefix and the hex digits are case-insensitive.

    Raises:
        PinError: The text is not ``sha256:`` followed by 64 hex digits; the message says which part is wrong.
    """
    if ":" not in text:
        if len(text) == 64 and _HEX.fullmatch(text):
            raise PinError(f"invalid CA pin {text!r}: the 'sha256:' prefix is missing", f"use sha256:{text.lower()}")
        raise PinError(f"invalid CA pin {text!r}: expected 'sha256:<hex>'", _PIN_HINT)
    algorithm, _, value = text.partition(":")
    if algorithm.lower() != "sha256":
        raise PinError(f"invalid CA pin {text!r}: unknown hash type {algorithm!r}, only sha256 is supported", _PIN_HINT)
    if not _HEX.fullmatch(value):
        raise PinError(f"invalid CA pin {text!r}: the hash contains characters other than hex digits", _PIN_HINT)
    if len(value) != 64:
        raise PinError(f"invalid CA pin {text!r}: a SHA-256 hash has 64 hex digits, this has {len(value)}", _PIN_HINT)
    return PIN_PREFIX + value.lower()


def matches(pins: Iterable[str], ders: Iterable[bytes]) -> bool:
    """Return whether any of the DER certificates has one of the pins (kubeadm's ``CheckAny``).

    No pins match nothing: skipping the check is the caller's explicit decision.

    Raises:
        PinError: A pin is malformed.
        CertificateError: A certificate is malformed.
    """
    wanted = {parse_pin(pin) for pin in pins}
    return any(format_pin(spki_of(der)) in wanted for der in ders)


def subject_alt_names(der: bytes) -> Tuple[List[str], List[str]]:
    """Return the DNS names and IP addresses of a DER certificate's SubjectAltName extension.

    Returns:
        ``(dns_names, ip_addresses)`` in the certificate's order; IPs in Python's canonical text form
        (IPv6 compressed). Both empty when the certificate has no SubjectAltName.

    Raises:
        CertificateError: The certificate, its extensions or the SubjectAltName are malformed.
    """
    fields, spki_index = _tbs_fields(der)
    dns: List[str] = []
    ips: List[str] = []
    seen = False
    for field in fields[spki_index + 1:]:
        if field.tag != _EXTENSIONS:
            continue
        extensions = _expect(der, field.body, field.end, _SEQUENCE, "the Extensions SEQUENCE")
        for extension in _children(der, extensions, "Extensions"):
            if extension.tag != _SEQUENCE:
                raise CertificateError(f"not a certificate: an Extension has tag 0x{extension.tag:02x}")
            parts = _children(der, extension, "an Extension")
            if len(parts) not in (2, 3) or parts[0].tag != _OID:
                raise CertificateError("not a certificate: an Extension is not OID, [critical], value")
            if der[parts[0].body:parts[0].end] != _SAN_OID:
                continue
            if seen:
                raise CertificateError("not a certificate: it has two SubjectAltName extensions")
            seen = True
            if len(parts) == 3 and parts[1].tag != _BOOLEAN:
                raise CertificateError("not a certificate: the SubjectAltName's critical flag is not a BOOLEAN")
            value = parts[-1]
            if value.tag != _OCTET_STRING:
                raise CertificateError("not a certificate: the SubjectAltName value is not an OCTET STRING")
            names = _expect(der, value.body, value.end, _SEQUENCE, "the GeneralNames SEQUENCE")
            if names.end != value.end:
                raise CertificateError("not a certificate: data follows the SubjectAltName's GeneralNames")
            for name in _children(der, names, "GeneralNames"):
                content = der[name.body:name.end]
                if name.tag == _DNS_NAME:
                    try:
                        dns.append(content.decode("ascii"))
                    except UnicodeDecodeError:
                        raise CertificateError("not a certificate: a SAN DNS name is not ASCII") from None
                elif name.tag == _IP_ADDRESS:
                    if len(content) not in (4, 16):
                        raise CertificateError(f"not a certificate: a SAN IP address has {len(content)} bytes")
                    ips.append(str(ipaddress.ip_address(content)))
    return dns, ips


def _dns_matches(pattern: str, host: str) -> bool:
    pattern_labels = pattern.lower().rstrip(".").split(".")
    host_labels = host.lower().rstrip(".").split(".")
    if len(pattern_labels) != len(host_labels) or "" in host_labels or "" in pattern_labels:
        return False
    # As Go's crypto/x509: a wildcard is only a whole leftmost label and stands for exactly one label.
    if pattern_labels[0] == "*":
        return pattern_labels[1:] == host_labels[1:]
    return pattern_labels == host_labels


def san_covers(host: str, dns: Sequence[str], ips: Sequence[str]) -> bool:
    """Return whether a certificate with these SANs is valid for ``host``, as Go's TLS client decides.

    An IP address (IPv6 with or without brackets) must equal an IP SAN; a DNS name must match a DNS SAN,
    case-insensitively, where ``*.example.com`` covers exactly one more label. The subject's CN is not
    considered, as Go has ignored it since 1.15.
    """
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        return any(_dns_matches(pattern, bare) for pattern in dns)
    for text in ips:
        candidate = ipaddress.ip_address(text)
        if candidate == address or _unmapped(candidate) == _unmapped(address):
            return True
    return False


def _unmapped(address: _Address) -> _Address:
    # Go treats an IPv4 address and its IPv4-mapped IPv6 form as equal.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
