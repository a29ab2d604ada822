"""The cluster CA where kubeadm keeps it (``/etc/kubernetes/pki/ca.{crt,key}``), as SuperEdge's edgeadm defaults to.

On a kubeadm control-plane node the CA key lies next to its certificate, and SuperEdge users never pass
``--ca.key`` there. addon takes those files only when they are the cluster's CA (the certificate is the one
the cluster is verified with, the key belongs to it) and says so; anything else is left alone with a note.
``KUBECTL_EDGE_KUBEADM_PKI`` names another directory (tests use a temporary one).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from edge_protocol import capin
from edge_protocol.errors import ProtocolError

PKI_DIR_ENV = "KUBECTL_EDGE_KUBEADM_PKI"
DEFAULT_PKI_DIR = "/etc/kubernetes/pki"


def pki_dir() -> Path:
    """kubeadm's certificate directory (``$KUBECTL_EDGE_KUBEADM_PKI``, else /etc/kubernetes/pki)."""
    return Path(os.environ.get(PKI_DIR_ENV) or DEFAULT_PKI_DIR)


@dataclass(frozen=True)
class CaDefaults:
    """The CA files to use after defaulting, and what the plan should say about it."""

    ca_cert_file: str | None
    ca_key_file: str | None
    notes: tuple[str, ...] = ()


def _public_key_der(pem: bytes, private: bool) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if private:
        key = serialization.load_pem_private_key(pem, password=None)
        return key.public_key().public_bytes(serialization.Encoding.DER, public)
    return x509.load_pem_x509_certificate(pem).public_key().public_bytes(serialization.Encoding.DER, public)


def default_ca_files(cluster_ca_pem: str, ca_cert_file: str | None, ca_key_file: str | None,
                     directory: Path | None = None) -> CaDefaults:
    """Fill in ``--ca-key`` (and nothing else) from kubeadm's directory when it holds the cluster's CA.

    ``cluster_ca_pem`` is the CA addon verifies the cluster with (``--ca-cert`` or the kubeconfig's). The
    default applies only when no ``--ca-key`` was given; the certificate stays the one already chosen, since
    the key is taken only when ``ca.crt`` there is that very certificate.
    """
    if ca_key_file:
        return CaDefaults(ca_cert_file, ca_key_file)
    directory = directory or pki_dir()
    cert_path, key_path = directory / "ca.crt", directory / "ca.key"
    if not (cert_path.exists() and key_path.exists()):
        return CaDefaults(ca_cert_file, None)
    try:
        cert_pem, key_pem = cert_path.read_bytes(), key_path.read_bytes()
    except OSError as exc:
        return CaDefaults(ca_cert_file, None, (
            f"{key_path} exists but cannot be read ({exc.strerror}): no lite-apiserver certificate for edge autonomy; "
            "run addon as a user who may read it, or pass --ca-key",))
    try:
        in_cluster = set(capin.pem_to_der_list(cluster_ca_pem))
        local = capin.pem_to_der_list(cert_pem.decode(errors="replace"))
    except ProtocolError:
        local, in_cluster = [], set()
    if not local or local[0] not in in_cluster:
        return CaDefaults(ca_cert_file, None, (
            f"{cert_path} is not the cluster's CA certificate (this is not its control-plane node): its key is not "
            "used; pass --ca-key for edge autonomy",))
    try:
        matches = _public_key_der(key_pem, private=True) == _public_key_der(cert_pem, private=False)
    except (ValueError, TypeError):
        matches = False
    if not matches:
        return CaDefaults(ca_cert_file, None, (
            f"{key_path} is not the private key of {cert_path}: not used; pass --ca-key for edge autonomy",))
    return CaDefaults(ca_cert_file, str(key_path), (
        f"--ca-key {key_path}: kubeadm's CA key on this control-plane node, the key of the cluster's CA "
        "(used to sign lite-apiserver's certificate for edge autonomy)",))
