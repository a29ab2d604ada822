"""Property-based tests (hypothesis) of the parsers that read untrusted bytes: PEM/DER and pins, the JWS,
durations, tokens, join lines and package member paths.

Each parser must, for any input, either return a value of its documented shape or raise its own
ProtocolError, never another exception; and what is built must parse back to itself. Example counts are
kept small so the suite stays quick.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_protocol import capin, jws
from edge_protocol import package as layout
from edge_protocol.duration import format_duration, parse_duration
from edge_protocol.errors import CertificateError, DurationError, JoinCommandError, PinError, ProtocolError, TokenError
from edge_protocol.joincommand import build_join_command, parse_join_command
from edge_protocol.token import TOKEN_CHARS, parse_token, token_id_of

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PEM_ALPHABET = st.sampled_from([*"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-\n\r \t:",
                                 "-----BEGIN ", "-----END ", "CERTIFICATE", "X509 ", "TRUSTED ", "-----", "\x00"])
PEM_TEXT = st.lists(PEM_ALPHABET, max_size=60).map("".join)
TOKEN_PART = st.text(alphabet=TOKEN_CHARS, min_size=6, max_size=6)
SECRET_PART = st.text(alphabet=TOKEN_CHARS, min_size=16, max_size=16)


def _certificate(names: list[str]) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now)
               .not_valid_after(now + datetime.timedelta(days=1)))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in names]),
                                        critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


CERTIFICATES = [_certificate([]), _certificate(["kubernetes.default", "a.example"])]


def _spki_pin(der: bytes) -> str:
    public = x509.load_der_x509_certificate(der).public_key()
    spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    import hashlib

    return "sha256:" + hashlib.sha256(spki).hexdigest()


# --- PEM/DER and pins ---------------------------------------------------------------------------------------------

@FAST
@given(st.binary(max_size=300))
def test_any_bytes_as_der_parse_or_raise_a_certificate_error(data: bytes) -> None:
    try:
        spki = capin.spki_of(data)
    except CertificateError:
        return
    assert spki and spki[0] == 0x30
    with contextlib.suppress(CertificateError):
        capin.subject_alt_names(data)


@FAST
@given(st.sampled_from(CERTIFICATES), st.integers(min_value=0, max_value=10_000), st.integers(min_value=0,
                                                                                                max_value=255))
def test_a_damaged_certificate_parses_or_raises_a_certificate_error(der: bytes, where: int, value: int) -> None:
    damaged = bytearray(der)
    damaged[where % len(damaged)] = value
    try:
        capin.spki_of(bytes(damaged))
        capin.subject_alt_names(bytes(damaged))
    except CertificateError:
        pass


@FAST
@given(st.sampled_from(CERTIFICATES), st.integers(min_value=0, max_value=10_000))
def test_a_cut_certificate_is_refused(der: bytes, length: int) -> None:
    with pytest.raises(CertificateError):
        capin.spki_of(der[:length % len(der)])


@FAST
@given(PEM_TEXT)
def test_any_pem_text_parses_or_raises_a_certificate_error(text: str) -> None:
    for parse in (capin.pem_to_der_list, capin.strict_pem_certificates, capin.pins_of):
        with contextlib.suppress(CertificateError):
            parse(text)


@FAST
@given(st.lists(st.sampled_from(CERTIFICATES), min_size=1, max_size=3), PEM_TEXT, PEM_TEXT)
def test_strict_pem_returns_exactly_the_certificates_and_re_encodes_stably(ders: list[bytes], before: str,
                                                                           after: str) -> None:
    text = before + "\n" + capin.der_to_pem(ders) + after
    try:
        parsed = capin.strict_pem_certificates(text)
    except CertificateError:
        # Only the surrounding noise may be at fault: a stray BEGIN line or another block.
        assert "-----BEGIN" in before + after
        return
    assert parsed == ders
    assert capin.strict_pem_certificates(capin.der_to_pem(parsed)) == ders
    assert capin.pins_of(capin.der_to_pem(parsed)) == [_spki_pin(der) for der in ders]


@FAST
@given(st.sampled_from(CERTIFICATES), st.sampled_from(CERTIFICATES),
       st.sampled_from(["X509 CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CRL", "PRIVATE KEY", "CERTIFICATE REQUEST"]))
def test_strict_pem_refuses_any_other_block_type(pinned: bytes, other: bytes, label: str) -> None:
    hidden = capin.der_to_pem([other]).replace("CERTIFICATE-----", f"{label}-----")
    with pytest.raises(CertificateError, match="only CERTIFICATE blocks are accepted"):
        capin.strict_pem_certificates(capin.der_to_pem([pinned]) + hidden)
    # The lenient reader (used where nothing is trusted from the text) skips it; the strict one is for trust.
    assert capin.pem_to_der_list(capin.der_to_pem([pinned]) + hidden) == [pinned]


@FAST
@given(st.text(max_size=80))
def test_any_pin_text_is_normalised_or_refused(text: str) -> None:
    try:
        pin = capin.parse_pin(text)
    except PinError:
        return
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", pin)
    assert capin.parse_pin(pin) == pin


@FAST
@given(st.sampled_from(CERTIFICATES))
def test_the_pin_is_the_spki_hash(der: bytes) -> None:
    assert capin.pin_of(der) == capin.pin_of(capin.der_to_pem([der])) == _spki_pin(der)


# --- the JWS ----------------------------------------------------------------------------------------------------

@FAST
@given(st.text(max_size=200), TOKEN_PART, SECRET_PART, SECRET_PART)
def test_a_signature_verifies_only_with_its_content_and_secret(content: str, token_id: str, secret: str,
                                                               other: str) -> None:
    signature = jws.sign_detached(content, token_id, secret)
    assert jws.verify_detached(content, signature, token_id, secret)
    assert jws.verify_detached(content, signature, token_id, other) == (other == secret)
    assert not jws.verify_detached(content + "x", signature, token_id, secret)


@FAST
@given(st.text(max_size=200), st.text(max_size=200), TOKEN_PART, SECRET_PART)
def test_any_signature_text_is_checked_without_raising(content: str, signature: str, token_id: str,
                                                       secret: str) -> None:
    assert jws.verify_detached(content, signature, token_id, secret) in (True, False)


@FAST
@given(st.binary(max_size=100), TOKEN_PART, SECRET_PART)
def test_a_forged_header_does_not_verify(payload: bytes, token_id: str, secret: str) -> None:
    # alg none, or any header of the attacker's, with whatever signature: never accepted.
    header = base64.urlsafe_b64encode(b'{"alg":"none","kid":"' + token_id.encode() + b'"}').rstrip(b"=").decode()
    forged = f"{header}..{base64.urlsafe_b64encode(payload).rstrip(b'=').decode()}"
    assert not jws.verify_detached("content", forged, token_id, secret)


# --- durations --------------------------------------------------------------------------------------------------

@FAST
@given(st.lists(st.sampled_from([*list("0123456789.+-hmsunµ"), "ms", "us", "ns", "µs", " ", "d"]),
                max_size=12).map("".join))
def test_any_duration_text_parses_or_raises_a_duration_error(text: str) -> None:
    try:
        seconds = parse_duration(text)
    except DurationError:
        return
    assert seconds >= 0


@FAST
@given(st.integers(min_value=0, max_value=292 * 365 * 24 * 3600 * 10**9))
def test_a_formatted_duration_parses_back(nanoseconds: int) -> None:
    text = format_duration(nanoseconds / 1e9)
    assert abs(parse_duration(text) - nanoseconds / 1e9) <= max(1e-9, nanoseconds / 1e9 * 1e-12)


# --- tokens -------------------------------------------------------------------------------------------------------

@FAST
@given(st.text(max_size=40))
def test_any_token_text_parses_or_raises_without_repeating_a_secret(text: str) -> None:
    try:
        token = parse_token(text)
    except TokenError as exc:
        if "." in text:
            secret = text.split(".", 1)[1]
            if len(secret) >= 4:
                assert secret not in exc.message + str(exc.hint)
        return
    assert token.value == text and len(token.id) == 6 and len(token.secret) == 16


@FAST
@given(st.text(alphabet=TOKEN_CHARS, min_size=7, max_size=40))
def test_a_token_without_its_dot_is_never_repeated(text: str) -> None:
    with pytest.raises(TokenError) as caught:
        token_id_of(text)
    assert text not in caught.value.message + str(caught.value.hint)


# --- join lines ----------------------------------------------------------------------------------------------

@FAST
@given(TOKEN_PART, SECRET_PART, st.lists(st.sampled_from(CERTIFICATES), min_size=1, max_size=2),
       st.one_of(st.none(), st.text(min_size=1, max_size=40).filter(lambda p: "\x00" not in p)),
       st.one_of(st.none(), st.text(alphabet="0123456789abcdefABCDEF", min_size=64, max_size=64)),
       st.integers(min_value=1, max_value=65535))
def test_a_join_line_parses_back_to_what_was_built(token_id: str, secret: str, ders: list[bytes], path: str | None,
                                                   digest: str | None, port: int) -> None:
    pins = [capin.pin_of(der) for der in ders]
    try:
        line = build_join_command(f"198.18.0.1:{port}", f"{token_id}.{secret}", pins, path,
                                  install_pkg_sha256=digest)
    except JoinCommandError:
        assert (digest is not None and path is None) or path == ""
        return
    parsed = parse_join_command(line)
    assert (parsed.host, parsed.port, parsed.token.value) == ("198.18.0.1", port, f"{token_id}.{secret}")
    assert parsed.ca_pins == list(dict.fromkeys(pins)) and parsed.install_pkg_path == path
    assert parsed.install_pkg_sha256 == (digest.lower() if digest else None)


@FAST
@given(st.text(max_size=120))
def test_any_join_line_parses_or_raises_a_protocol_error(line: str) -> None:
    with contextlib.suppress(ProtocolError):
        parse_join_command(line)


# --- package member paths ------------------------------------------------------------------------------------

MEMBER = st.lists(st.sampled_from(["..", ".", "", "edge-install", "bin", "cni", "a", "/", "\\", "C:", "x y"]),
                  max_size=8).map("/".join)


@FAST
@given(MEMBER)
def test_a_normalised_member_never_leaves_the_target(name: str) -> None:
    try:
        normal = layout.normalise_member(name)
    except layout.PackageFormatError:
        return
    assert not normal.startswith("/") and ".." not in normal.split("/")
    assert "" not in normal.split("/") or normal == ""


@FAST
@given(MEMBER, MEMBER, st.booleans())
def test_a_checked_link_never_leads_out(name: str, target: str, hard: bool) -> None:
    try:
        resolved = layout.check_link(name, target, hard)
    except layout.PackageFormatError:
        return
    assert not resolved.startswith(("/", "../")) and resolved not in ("..", ".")


@FAST
@given(st.text(max_size=30))
def test_only_the_allowed_binaries_pass(name: str) -> None:
    member = f"{layout.BIN}/{name}"
    try:
        layout.check_bin_name(member)
    except layout.PackageFormatError:
        return
    assert name.strip("/").split("/")[-1] in layout.INSTALLABLE_BINARIES
