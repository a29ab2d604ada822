"""X.509 with ``cryptography``: reading and checking certificates and keys, and making them.

What ``certs.ensure_material`` decides with: why an existing certificate cannot be kept (``pair_problem``,
``ca_problem``), and how a CA, a leaf and a random secret are made. The subjects carry SuperEdge's
organisation; a leaf never outlives its issuer.
"""

from __future__ import annotations

import datetime
import ipaddress
import secrets
import string
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubectl_edge.errors import ConfigError

ORGANISATION = "superedge"
LEAF_VALIDITY = datetime.timedelta(days=3650)
CA_VALIDITY = datetime.timedelta(days=3650)
RENEW_BEFORE = datetime.timedelta(days=30)
_ALPHANUMERIC = string.ascii_letters + string.digits
_SIGNING_KEYS = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey,
                 dsa.DSAPrivateKey)


@dataclass(frozen=True)
class KeyPair:
    """A PEM certificate and its PEM private key."""

    cert: str
    key: str


@dataclass(frozen=True)
class LeafSpec:
    """What a leaf certificate must be."""

    common_name: str
    dns_names: tuple[str, ...]
    ips: tuple[str, ...]
    client_auth: bool


# --- inspection ------------------------------------------------------------------------------------------

def load_certificate(pem: str, what: str) -> x509.Certificate:
    """Parse the first certificate of a PEM text; ConfigError when it is none."""
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError as exc:
        raise ConfigError(f"{what} is not a PEM certificate", "pass the PEM file of the certificate") from exc


def load_private_key(pem: str, what: str) -> CertificateIssuerPrivateKeyTypes:
    """Parse an unencrypted PEM private key that can sign certificates; ConfigError otherwise."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{what} is not an unencrypted PEM private key", "pass the CA's PEM private key") from exc
    if not isinstance(key, _SIGNING_KEYS):
        raise ConfigError(f"{what} is a key type that cannot sign certificates", "pass an RSA, ECDSA or Ed25519 key")
    return key


def public_der(key: object) -> bytes:
    public = key.public_key()  # type: ignore[attr-defined]
    return bytes(public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


def _names_of(certificate: x509.Certificate) -> tuple[set[str], set[str]]:
    try:
        sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set(), set()
    return set(sans.get_values_for_type(x509.DNSName)), {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}


def _expiry_problem(certificate: x509.Certificate, now: datetime.datetime, renew_before: datetime.timedelta
                    ) -> str | None:
    if certificate.not_valid_after_utc <= now:
        return f"expired on {certificate.not_valid_after_utc:%Y-%m-%d}"
    if certificate.not_valid_after_utc - now < renew_before:
        return f"expires on {certificate.not_valid_after_utc:%Y-%m-%d}, within {renew_before.days} days"
    return None


def ca_problem(pem: str | None, now: datetime.datetime, renew_before: datetime.timedelta) -> str | None:
    if not pem:
        return "missing"
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return "not a PEM certificate"
    return _expiry_problem(certificate, now, renew_before)


def pair_problem(pair: KeyPair | None, issuer_pem: str | None, want: LeafSpec, now: datetime.datetime,
                 renew_before: datetime.timedelta = RENEW_BEFORE) -> str | None:
    """Why an existing certificate cannot be kept (None when it can)."""
    if pair is None or not pair.cert or not pair.key:
        return "missing"
    try:
        certificate = x509.load_pem_x509_certificate(pair.cert.encode())
        # Only the public half is compared here; checking an RSA key's primes costs tens of milliseconds a key
        # on every run, and these keys are ones addon generated and stored in the release's Secrets.
        key = serialization.load_pem_private_key(pair.key.encode(), password=None,
                                                 unsafe_skip_rsa_key_validation=True)
    except (ValueError, TypeError):
        return "not a PEM certificate and key"
    if public_der(key) != certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
        return "the key does not belong to the certificate"
    if not issuer_pem:
        return "its CA is missing"
    try:
        certificate.verify_directly_issued_by(x509.load_pem_x509_certificate(issuer_pem.encode()))
    except (ValueError, TypeError, InvalidSignature):
        return "not issued by the expected CA"
    dns_names, ips = _names_of(certificate)
    missing = [name for name in want.dns_names if name not in dns_names]
    missing += [ip for ip in want.ips if str(ipaddress.ip_address(ip)) not in ips]
    if missing:
        return f"does not name {', '.join(missing)}"
    return _expiry_problem(certificate, now, renew_before)


# --- generation ------------------------------------------------------------------------------------------

def _new_key() -> rsa.RSAPrivateKey:
    # RSA 2048 as SuperEdge makes them: its components load keys with Go's PKCS#1/PKCS#8 helpers.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


def _cert_pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _usage(ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, key_encipherment=True, key_cert_sign=ca, crl_sign=ca,
                         content_commitment=False, data_encipherment=False, key_agreement=False,
                         encipher_only=False, decipher_only=False)


def new_ca(common_name: str, now: datetime.datetime) -> tuple[str, rsa.RSAPrivateKey]:
    """A self-signed CA (O superedge): its PEM and its key."""
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _cert_pem(certificate), key


def sign_leaf(want: LeafSpec, issuer_pem: str, issuer_key: CertificateIssuerPrivateKeyTypes, now: datetime.datetime
              ) -> KeyPair:
    """A new key and a certificate for it, signed by the issuer and never valid longer than the issuer."""
    issuer = x509.load_pem_x509_certificate(issuer_pem.encode())
    key = _new_key()
    usages = [ExtendedKeyUsageOID.SERVER_AUTH] + ([ExtendedKeyUsageOID.CLIENT_AUTH] if want.client_auth else [])
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in want.dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in want.ips]
    not_before = max(now - datetime.timedelta(minutes=5), issuer.not_valid_before_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
                                 x509.NameAttribute(NameOID.COMMON_NAME, want.common_name)]))
        .issuer_name(issuer.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(min(now + LEAF_VALIDITY, issuer.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
    )
    try:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                                        critical=False)
    except x509.ExtensionNotFound:
        pass
    return KeyPair(_cert_pem(builder.sign(issuer_key, hashes.SHA256())), _key_pem(key))


def random_secret(length: int) -> str:
    """Letters and digits from the CSPRNG, as SuperEdge's tokens are."""
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))
