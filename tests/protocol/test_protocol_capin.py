"""CA pins and the stdlib DER walk, checked against fixed answers and against the cryptography package."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import textwrap
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from edge_protocol import capin
from edge_protocol.errors import CertificateError, PinError

# An EC P-256 certificate made with the cryptography package; the pin and SANs below are cryptography's
# answers for it, so these tests compare against an independent implementation even where it is not installed.
FIXTURE_PEM = """\
-----BEGIN CERTIFICATE-----
MIIBnzCCAUWgAwIBAgIFEjRWeJAwCgYIKoZIzj0EAwIwFTETMBEGA1UEAwwKa3Vi
ZXJuZXRlczAeFw0yNTAxMDEwMDAwMDBaFw0zNDEyMzAwMDAwMDBaMBkxFzAVBgNV
BAMMDmt1YmUtYXBpc2VydmVyMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE9w96
mEQHFIpjJ6PZd/rq6QrwuHBj6Wk1+qTbdAgaA1pTvj9Ov9XxMKEpQCYdzr55rfop
CPc4B1c9D0aEGxeR0qN+MHwwDAYDVR0TAQH/BAIwADBsBgNVHREEZTBjggprdWJl
cm5ldGVzgiRrdWJlcm5ldGVzLmRlZmF1bHQuc3ZjLmNsdXN0ZXIubG9jYWyCESou
YXBpLmV4YW1wbGUuY29thwQKYAABhwR/AAABhxAgAQ24AAAAAAAAAAAAAAAQMAoG
CCqGSM49BAMCA0gAMEUCIQC72ETIhxWBQmoh3TibwA6H2JTStkUYz8WvLN/UEw/2
mwIgevIUGvqrWQ1kGvylV29hxRUy8WeE7UvJey5k0HxPwuA=
-----END CERTIFICATE-----
"""
FIXTURE_PIN = "sha256:675f5e64ca11d1a15d2232d4d4222c80dfceae4b9837b7c940aebcacdfa0ad9c"
FIXTURE_DNS = ["kubernetes", "kubernetes.default.svc.cluster.local", "*.api.example.com"]
FIXTURE_IPS = ["10.96.0.1", "127.0.0.1", "2001:db8::10"]
FIXTURE_DER = base64.b64decode("".join(FIXTURE_PEM.strip().splitlines()[1:-1]))

SAN_OID = b"\x55\x1d\x11"
OTHER_PIN = "sha256:" + "ab" * 32


# A DER encoder written for the tests, so synthetic certificates do not depend on the code under test.
def tlv(tag: int | bytes, content: bytes) -> bytes:
    identifier = tag if isinstance(tag, bytes) else bytes([tag])
    if len(content) < 0x80:
        length = bytes([len(content)])
    else:
        raw = len(content).to_bytes((len(content).bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return identifier + length + content


def seq(*parts: bytes) -> bytes:
    return tlv(0x30, b"".join(parts))


def name(common_name: str) -> bytes:
    return seq(tlv(0x31, seq(tlv(0x06, b"\x55\x04\x03"), tlv(0x0C, common_name.encode()))))


def extension(oid: bytes, value: bytes, critical: bool | None = None) -> bytes:
    flag = b"" if critical is None else tlv(0x01, b"\xff" if critical else b"\x00")
    return seq(tlv(0x06, oid), flag, tlv(0x04, value))


def synthetic(version: bool = True, subject: str = "kubernetes", extensions: list[bytes] | None = None,
              unique_ids: bool = False) -> tuple[bytes, bytes]:
    """Return (certificate DER, its SubjectPublicKeyInfo DER)."""
    algorithm = seq(tlv(0x06, b"\x2a\x86\x48\xce\x3d\x04\x03\x02"))
    spki = seq(
        seq(tlv(0x06, b"\x2a\x86\x48\xce\x3d\x02\x01"), tlv(0x06, b"\x2a\x86\x48\xce\x3d\x03\x01\x07")),
        tlv(0x03, b"\x00\x04" + bytes(range(64))),
    )
    tbs = [tlv(0xA0, tlv(0x02, b"\x02"))] if version else []
    validity = seq(tlv(0x17, b"250101000000Z"), tlv(0x17, b"350101000000Z"))
    tbs += [tlv(0x02, b"\x01\x02"), algorithm, name("ca"), validity, name(subject), spki]
    if unique_ids:
        tbs += [tlv(0x81, b"\x00\x01"), tlv(0x82, b"\x00\x02")]
    if extensions is not None:
        tbs.append(tlv(0xA3, seq(*extensions)))
    return seq(seq(*tbs), algorithm, tlv(0x03, b"\x00" + b"\x01" * 70)), spki


def pem(der: bytes, label: str = "CERTIFICATE") -> str:
    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"


def pin(spki: bytes) -> str:
    return "sha256:" + hashlib.sha256(spki).hexdigest()


# --- known answers without cryptography -------------------------------------------------------------------------


def test_fixture_pin_matches_cryptography_in_every_input_form() -> None:
    assert capin.pin_of(FIXTURE_PEM) == FIXTURE_PIN
    assert capin.pin_of(FIXTURE_PEM.encode()) == FIXTURE_PIN
    assert capin.pin_of(FIXTURE_DER) == FIXTURE_PIN
    assert capin.pins_of(FIXTURE_PEM) == [FIXTURE_PIN]
    assert capin.format_pin(capin.spki_of(FIXTURE_DER)) == FIXTURE_PIN


def test_fixture_sans_match_cryptography() -> None:
    assert capin.subject_alt_names(FIXTURE_DER) == (FIXTURE_DNS, FIXTURE_IPS)


def test_synthetic_certificate_spki_and_sans() -> None:
    names = seq(tlv(0x82, b"api.example.com"), tlv(0x86, b"https://ignored.example"),
                tlv(0x87, bytes([198, 18, 0, 1])), tlv(0x87, ipaddress.IPv6Address("fd00::1").packed),
                tlv(b"\x9f\x21", b"high tag, ignored"), tlv(b"\xbf\x81\x01", b"\x05\x00"), tlv(0x82, b"*.example.org"))
    der, spki = synthetic(extensions=[extension(b"\x55\x1d\x13", seq(), critical=True), extension(SAN_OID, names)])
    assert capin.spki_of(der) == spki
    assert capin.pin_of(der) == pin(spki)
    assert capin.subject_alt_names(der) == (["api.example.com", "*.example.org"], ["198.18.0.1", "fd00::1"])


def test_critical_san_and_unique_ids_are_walked_past() -> None:
    der, spki = synthetic(unique_ids=True, extensions=[extension(SAN_OID, seq(tlv(0x82, b"a.example")), critical=True)])
    assert capin.spki_of(der) == spki
    assert capin.subject_alt_names(der) == (["a.example"], [])


def test_version_1_certificate_without_extensions() -> None:
    der, spki = synthetic(version=False)
    assert capin.spki_of(der) == spki
    assert capin.subject_alt_names(der) == ([], [])


def test_long_form_lengths() -> None:
    # A 300-character subject pushes the subject, tbsCertificate and Certificate to two-byte lengths.
    der, spki = synthetic(subject="x" * 300, extensions=[extension(SAN_OID, seq(tlv(0x82, b"b.example")))])
    assert der[:2] == b"\x30\x82"
    assert capin.pin_of(der) == pin(spki)
    assert capin.subject_alt_names(der) == (["b.example"], [])
    huge, huge_spki = synthetic(subject="y" * 70000)
    assert huge[:2] == b"\x30\x83"
    assert capin.spki_of(huge) == huge_spki


def test_bundle_with_other_blocks_and_text() -> None:
    second, second_spki = synthetic()
    bundle = ("# cluster CAs\n" + FIXTURE_PEM + "\n" + pem(b"\x01\x02", "PRIVATE KEY") + "some text\n"
              + pem(second).replace("\n", "\r\n"))
    assert capin.pem_to_der_list(bundle) == [FIXTURE_DER, second]
    assert capin.pins_of(bundle) == [FIXTURE_PIN, pin(second_spki)]
    assert capin.pins_of(bundle.encode()) == [FIXTURE_PIN, pin(second_spki)]
    with pytest.raises(CertificateError) as info:
        capin.pin_of(bundle)
    assert "found 2" in info.value.message


# --- malformed certificates --------------------------------------------------------------------------------------


def test_every_truncation_is_refused() -> None:
    long_der, _ = synthetic(subject="x" * 300, extensions=[extension(SAN_OID, seq(tlv(0x82, b"b.example")))])
    for der in (FIXTURE_DER, long_der):
        for size in range(len(der)):
            with pytest.raises(CertificateError) as info:
                capin.spki_of(der[:size])
            assert info.value.message.startswith("not a certificate")


def test_trailing_data_is_refused() -> None:
    with pytest.raises(CertificateError, match="1 bytes follow"):
        capin.spki_of(FIXTURE_DER + b"\x00")


def test_non_der_lengths_are_refused() -> None:
    body = FIXTURE_DER[4:]
    assert FIXTURE_DER[:4] == b"\x30\x82" + len(body).to_bytes(2, "big")
    with pytest.raises(CertificateError, match="non-minimal"):
        capin.spki_of(b"\x30\x83\x00" + len(body).to_bytes(2, "big") + body)
    with pytest.raises(CertificateError, match="indefinite"):
        capin.spki_of(b"\x30\x80" + body + b"\x00\x00")
    small = seq(seq(tlv(0x02, b"\x01")))
    with pytest.raises(CertificateError, match="non-minimal"):
        capin.spki_of(b"\x30\x81" + small[1:])
    with pytest.raises(CertificateError, match="oversized"):
        capin.spki_of(b"\x30\x89" + b"\x01" * 9)


@pytest.mark.parametrize(
    ("der", "problem"),
    [
        (b"", "empty"),
        (b"\x31\x00", "expected the Certificate SEQUENCE"),
        (seq(tlv(0x02, b"\x01")), "expected the tbsCertificate SEQUENCE"),
        (seq(seq(tlv(0xA0, tlv(0x02, b"\x02")))), "no serialNumber"),
        (seq(seq(tlv(0x02, b"\x01"), seq(), seq(), seq(), seq())), "no subjectPublicKeyInfo"),
        (seq(seq(tlv(0x02, b"\x01"), seq(), tlv(0x04, b""), seq(), seq(), seq())), "expected issuer"),
        (seq(seq(tlv(0x02, b"\x01"), seq(), seq(), seq(), seq(), seq(seq()))), "public key BIT STRING"),
        (seq(seq(tlv(0x02, b"\x01"), seq(), seq(), seq(), seq(), seq(tlv(0x03, b"")))),
         "public key's AlgorithmIdentifier"),
        (seq(seq(tlv(0x02, b"\x01"), seq(), seq(), seq(), seq(), seq(seq(), tlv(0x03, b"\x00"), seq()))),
         "extra elements"),
    ],
)
def test_structurally_wrong_certificates(der: bytes, problem: str) -> None:
    with pytest.raises(CertificateError) as info:
        capin.spki_of(der)
    assert problem in info.value.message


@pytest.mark.parametrize(
    ("extensions", "problem"),
    [
        ([extension(SAN_OID, seq(tlv(0x82, b"a")))] * 2, "two SubjectAltName"),
        ([tlv(0x31, b"")], "an Extension has tag 0x31"),
        ([seq(tlv(0x06, SAN_OID))], "not OID, [critical], value"),
        ([seq(tlv(0x02, b"\x01"), tlv(0x04, seq()))], "not OID, [critical], value"),
        ([seq(tlv(0x06, SAN_OID), tlv(0x02, b"\x01"), tlv(0x04, seq()))], "critical flag"),
        ([seq(tlv(0x06, SAN_OID), tlv(0x03, seq()))], "not an OCTET STRING"),
        ([extension(SAN_OID, tlv(0x31, b""))], "GeneralNames"),
        ([extension(SAN_OID, seq() + b"\x00")], "data follows"),
        ([extension(SAN_OID, seq(tlv(0x87, b"\x01\x02\x03")))], "3 bytes"),
        ([extension(SAN_OID, seq(tlv(0x82, "\u00e9".encode())))], "not ASCII"),
    ],
)
def test_malformed_subject_alt_names(extensions: list[bytes], problem: str) -> None:
    der, _ = synthetic(extensions=extensions)
    with pytest.raises(CertificateError) as info:
        capin.subject_alt_names(der)
    assert problem in info.value.message


def test_extensions_must_be_a_sequence() -> None:
    _, spki = synthetic()
    algorithm = seq(tlv(0x06, b"\x2a\x86\x48\xce\x3d\x04\x03\x02"))
    tbs = seq(tlv(0x02, b"\x01"), algorithm, name("ca"), seq(), name("x"), spki, tlv(0xA3, tlv(0x31, b"")))
    with pytest.raises(CertificateError, match="Extensions SEQUENCE"):
        capin.subject_alt_names(seq(tbs, algorithm, tlv(0x03, b"\x00")))


# --- PEM ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "no certificate found"),
        ("just some text", "no certificate found"),
        (pem(b"\x01\x02", "PRIVATE KEY"), "no certificate found"),
        ("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", "not valid base64"),
        ("-----BEGIN CERTIFICATE-----\nMIIB\u00e9\n-----END CERTIFICATE-----\n", "not valid base64"),
        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "certificate 1: not a certificate"),
        ("-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n", "certificate 1: not a certificate"),
        (FIXTURE_PEM.replace("-----END CERTIFICATE-----", ""), "no matching END CERTIFICATE"),
        (FIXTURE_PEM.replace("END CERTIFICATE", "END PRIVATE KEY"), "certificate 1 has no END CERTIFICATE"),
        (FIXTURE_PEM.replace("-----END CERTIFICATE-----\n", "") + FIXTURE_PEM, "certificate 1 has no END"),
        (FIXTURE_PEM + FIXTURE_PEM.replace("mwIgevIU", "mwIg*vIU"), "certificate 2 is not valid base64"),
    ],
)
def test_bad_pem(text: str, problem: str) -> None:
    with pytest.raises(CertificateError) as info:
        capin.pem_to_der_list(text)
    assert problem in info.value.message
    assert info.value.message.startswith("bad PEM")


def test_bad_pem_bytes_and_der_detection() -> None:
    with pytest.raises(CertificateError, match="no certificate found"):
        capin.pin_of(b"\xff\xfe garbage")
    with pytest.raises(CertificateError, match="not a certificate"):
        capin.pin_of(b"\x30\x03\x02\x01\x01")
    with pytest.raises(CertificateError):
        capin.pins_of(FIXTURE_DER[:-1])


# --- pins --------------------------------------------------------------------------------------------------------


def test_parse_pin_normalises_case() -> None:
    upper = "SHA256:" + FIXTURE_PIN[len("sha256:"):].upper()
    assert capin.parse_pin(upper) == FIXTURE_PIN
    assert capin.parse_pin(FIXTURE_PIN) == FIXTURE_PIN


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "expected 'sha256:<hex>'"),
        (FIXTURE_PIN[len("sha256:"):], "'sha256:' prefix is missing"),
        ("md5:" + "ab" * 16, "unknown hash type 'md5'"),
        ("sha1:" + "ab" * 32, "unknown hash type 'sha1'"),
        ("sha256:", "this has 0"),
        ("sha256:" + "ab" * 31, "this has 62"),
        ("sha256:" + "ab" * 33, "this has 66"),
        ("sha256:" + "zz" * 32, "other than hex digits"),
        ("sha256:" + "ab" * 31 + ":a", "other than hex digits"),
        ("sha256: " + "ab" * 32, "other than hex digits"),
    ],
)
def test_bad_pins(text: str, problem: str) -> None:
    with pytest.raises(PinError) as info:
        capin.parse_pin(text)
    assert problem in info.value.message
    assert info.value.hint


def test_missing_prefix_hint_gives_the_corrected_pin() -> None:
    with pytest.raises(PinError) as info:
        capin.parse_pin(FIXTURE_PIN[len("sha256:"):].upper())
    assert info.value.hint == f"use {FIXTURE_PIN}"


def test_matches() -> None:
    other, _ = synthetic()
    assert capin.matches([OTHER_PIN, FIXTURE_PIN.upper().replace("SHA256", "sha256")], [other, FIXTURE_DER])
    assert capin.matches([FIXTURE_PIN], [FIXTURE_DER])
    assert not capin.matches([OTHER_PIN], [FIXTURE_DER, other])
    assert not capin.matches([], [FIXTURE_DER])
    assert not capin.matches([FIXTURE_PIN], [])
    with pytest.raises(PinError):
        capin.matches(["sha256:bad"], [FIXTURE_DER])
    with pytest.raises(CertificateError):
        capin.matches([FIXTURE_PIN], [b"\x30\x00"])


# --- host names --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "covered"),
    [
        ("10.96.0.1", True),
        ("127.0.0.1", True),
        ("198.18.0.1", False),
        ("2001:db8::10", True),
        ("[2001:db8::10]", True),
        ("2001:0db8:0:0::10", True),
        ("::ffff:10.96.0.1", True),
        ("2001:db8::11", False),
        ("kubernetes", True),
        ("KUBERNETES", True),
        ("kubernetes.", True),
        ("kubernetes.default.svc.cluster.local", True),
        ("kubernetes.default", False),
        ("x.api.example.com", True),
        ("X.API.Example.COM", True),
        ("x.y.api.example.com", False),
        ("api.example.com", False),
        (".api.example.com", False),
        ("", False),
    ],
)
def test_san_covers(host: str, covered: bool) -> None:
    assert capin.san_covers(host, FIXTURE_DNS, FIXTURE_IPS) is covered


def test_san_covers_ipv4_mapped_san() -> None:
    assert capin.san_covers("10.0.0.1", [], ["::ffff:10.0.0.1"])
    assert not capin.san_covers("10.0.0.1", ["10.0.0.1"], [])


# --- against the cryptography package ----------------------------------------------------------------------------


def _certificate(key: Any, sans: list[Any] | None) -> Any:
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.now(timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now)
               .not_valid_after(now + timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True))
    if sans is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, hashes.SHA256())


def _keys() -> list[Any]:
    pytest.importorskip("cryptography")
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    return [rsa.generate_private_key(public_exponent=65537, key_size=2048), ec.generate_private_key(ec.SECP256R1())]


def _sans() -> list[Any]:
    x509 = pytest.importorskip("cryptography.x509")
    return [x509.DNSName("kubernetes.default"), x509.DNSName("api.example.com"),
            x509.IPAddress(ipaddress.ip_address("198.18.0.1")), x509.IPAddress(ipaddress.ip_address("::1")),
            x509.UniformResourceIdentifier("spiffe://cluster/ns/x"), x509.DNSName("*.edge.example")]


@pytest.mark.parametrize("key_index", [0, 1], ids=["rsa-2048", "ec-p256"])
def test_pin_equals_cryptography(key_index: int) -> None:
    pytest.importorskip("cryptography")
    from cryptography.hazmat.primitives import serialization

    certificate = _certificate(_keys()[key_index], _sans())
    der = certificate.public_bytes(serialization.Encoding.DER)
    expected_spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    expected_pin = "sha256:" + hashlib.sha256(expected_spki).hexdigest()
    assert capin.spki_of(der) == expected_spki
    assert capin.pin_of(der) == expected_pin
    assert capin.pin_of(certificate.public_bytes(serialization.Encoding.PEM).decode()) == expected_pin
    assert capin.matches([expected_pin], [der])


@pytest.mark.parametrize("key_index", [0, 1], ids=["rsa-2048", "ec-p256"])
def test_sans_equal_cryptography(key_index: int) -> None:
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import serialization

    certificate = _certificate(_keys()[key_index], _sans())
    parsed = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    expected_dns = parsed.get_values_for_type(x509.DNSName)
    expected_ips = [str(ip) for ip in parsed.get_values_for_type(x509.IPAddress)]
    dns, ips = capin.subject_alt_names(certificate.public_bytes(serialization.Encoding.DER))
    assert (dns, ips) == (expected_dns, expected_ips)
    assert dns == ["kubernetes.default", "api.example.com", "*.edge.example"]
    assert ips == ["198.18.0.1", "::1"]


def test_certificate_without_sans_and_bundle_match_cryptography() -> None:
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import serialization

    rsa_key, ec_key = _keys()
    plain = _certificate(rsa_key, None)
    with pytest.raises(x509.ExtensionNotFound):
        plain.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert capin.subject_alt_names(plain.public_bytes(serialization.Encoding.DER)) == ([], [])

    other = _certificate(ec_key, _sans())
    bundle = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (plain, other))
    loaded = x509.load_pem_x509_certificates(bundle)
    assert capin.pem_to_der_list(bundle) == [c.public_bytes(serialization.Encoding.DER) for c in loaded]
    expected = ["sha256:" + hashlib.sha256(c.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest() for c in loaded]
    assert capin.pins_of(bundle) == expected
