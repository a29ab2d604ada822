"""The cluster's CA certificate: from a file the user names (``--ca-cert``), else from the kubeconfig.

Every reader of the CA goes through here: the standard-library transport (what it trusts), ``addon``
(the CA it pins and signs with) and the join command (the pins it prints). So a CA that cannot be used is
refused the same way everywhere, before anything is changed: a ConfigError that names the file or the
kubeconfig entry and says what to pass instead. Only certificate blocks count; text around them is ignored,
as Go's PEM decoder ignores it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_protocol import capin
from edge_protocol.errors import ProtocolError
from kubectl_edge.cluster.kubeconfig import ResolvedConfig, decode_data
from kubectl_edge.errors import ConfigError

CA_FLAG = "--ca-cert"
KUBECONFIG_SOURCE = "the kubeconfig"
_FLAG_HINT = f"pass {CA_FLAG} FILE with the cluster CA certificate in PEM (e.g. /etc/kubernetes/pki/ca.crt)"


@dataclass(frozen=True)
class ClusterCa:
    """A CA bundle that holds at least one well-formed certificate."""

    pem: str
    #: How messages name where it came from: ``--ca-cert FILE`` or ``the kubeconfig``.
    source: str
    #: The DER certificates of ``pem``, in order (what TLS is given: no text, no other PEM blocks).
    certificates: tuple[bytes, ...]


def ca_source(ca_cert_file: str | None) -> str:
    """How messages name where the CA came from."""
    return f"{CA_FLAG} {ca_cert_file}" if ca_cert_file else KUBECONFIG_SOURCE


def _kubeconfig_hint(resolved: ResolvedConfig, offer_flag: bool) -> str:
    hint = f"fix certificate-authority(-data) of the cluster of context {resolved.context_name} in the kubeconfig"
    return f"{hint}, or {_FLAG_HINT}" if offer_flag else hint


def _kubeconfig_pem(resolved: ResolvedConfig, offer_flag: bool) -> str | None:
    """The kubeconfig's CA text (data before file, as client-go), None when it names none."""
    entry: dict[str, Any] = resolved.config["clusters"][0]["cluster"] or {}
    hint = _kubeconfig_hint(resolved, offer_flag)
    if entry.get("certificate-authority-data"):
        try:
            return decode_data(entry, "certificate-authority-data", "cluster").decode(errors="replace")
        except ValueError as exc:
            raise ConfigError(f"the CA certificate of the kubeconfig context {resolved.context_name} cannot be "
                              f"read: {exc}", hint) from None
    if entry.get("certificate-authority"):
        path = str(entry["certificate-authority"])
        try:
            return Path(path).read_bytes().decode(errors="replace")
        except OSError as exc:
            raise ConfigError(f"cannot read the CA certificate file {path} of the kubeconfig context "
                              f"{resolved.context_name}: {exc.strerror or exc}", hint) from exc
    return None


def load_ca(resolved: ResolvedConfig, ca_cert_file: str | None = None, *, offer_flag: bool = True
            ) -> ClusterCa | None:
    """The CA from ``ca_cert_file`` when given, else the kubeconfig's; None when neither names one.

    ``offer_flag`` says whether the command takes ``--ca-cert`` (then the hints offer it).

    Raises:
        ConfigError: The file cannot be read, ``certificate-authority-data`` is not base64, or the text
            holds no well-formed PEM certificate.
    """
    if ca_cert_file:
        try:
            pem: str | None = Path(ca_cert_file).read_bytes().decode(errors="replace")
        except OSError as exc:
            raise ConfigError(f"cannot read {CA_FLAG} {ca_cert_file}: {exc.strerror or exc}", _FLAG_HINT) from exc
        hint = _FLAG_HINT
    else:
        pem = _kubeconfig_pem(resolved, offer_flag)
        hint = _kubeconfig_hint(resolved, offer_flag)
    if pem is None:
        return None
    source = ca_source(ca_cert_file)
    try:
        certificates = capin.pem_to_der_list(pem)
    except ProtocolError as exc:
        raise ConfigError(f"the CA certificate from {source} is not a PEM certificate ({exc.message})", hint
                          ) from exc
    return ClusterCa(pem, source, tuple(certificates))


def read_ca(resolved: ResolvedConfig, ca_cert_file: str | None = None) -> ClusterCa:
    """The CA as :func:`load_ca` reads it, for commands that cannot go on without one.

    Raises:
        ConfigError: As :func:`load_ca`, and when neither ``ca_cert_file`` nor the kubeconfig names a CA.
    """
    ca = load_ca(resolved, ca_cert_file)
    if ca is None:
        raise ConfigError("the kubeconfig carries no CA certificate for the cluster",
                          f"pass {CA_FLAG} FILE (the cluster CA, e.g. /etc/kubernetes/pki/ca.crt)")
    return ca
