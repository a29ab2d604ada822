"""Read what the prerequisites depend on off the live cluster and the flags (read requests only).

The one request that is not a read is a server-side dry run (``dryRun=All``, nothing is stored) that asks
the API server for its service range; it is sent only when neither a ServiceCIDR object nor kubeadm-config
names the range, which after addon's first run (it writes kubeadm-config's ``serviceSubnet``) is never, so a
second addon still sends no write request.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from edge_protocol import capin, contract
from edge_protocol.endpoint import DIRECT, HOSTS_MAPPING_NAME, endpoint_strategy
from edge_protocol.errors import ProtocolError
from edge_protocol.network import endpoint_url, format_endpoint, parse_endpoint, tls_server_name
from edge_protocol.versions import KubeVersion
from kubectl_edge import yamltext
from kubectl_edge.addon.prerequisites import ClusterFacts, dns_ip_for
from kubectl_edge.cluster.ca import ca_source, read_ca
from kubectl_edge.cluster.client import Cluster
from kubectl_edge.cluster.endpoint import serving_certificate
from kubectl_edge.cluster.kinds import CONFIG_MAP, SERVICE, SERVICE_CIDR, ObjectRef
from kubectl_edge.errors import ClusterError, ConfigError, PreconditionFailed

#: What the API server says when a requested ClusterIP is outside its range (ipallocator.ErrNotInRange).
_NOT_IN_RANGE = re.compile(r"[Tt]he range of valid IPs is ([0-9A-Fa-f.:]+/[0-9]+)")
#: OpenSSL verify results that say the chain is fine but the clock is not; not the CA's fault.
_TIME_ONLY = {9, 10}


@dataclass(frozen=True)
class AddonInputs:
    """The flags of ``kubectl edge addon`` that shape the prerequisites."""

    public_address: str | None = None
    ca_cert_file: str | None = None
    ca_key_file: str | None = None


@dataclass(frozen=True)
class ServiceRange:
    """The cluster's service range and where it came from; ``guessed`` when the cluster did not tell."""

    cidr: str
    source: str
    guessed: bool = False


def check_ca_key(ca_pem: str, ca_key_file: str | None, ca_cert_file: str | None = None) -> None:
    """Refuse a --ca-key that is not the private key of the CA certificate (from --ca-cert or the kubeconfig)."""
    if not ca_key_file:
        return
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(Path(ca_key_file).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"cannot read --ca-key {ca_key_file}: {exc}", "pass the CA's unencrypted PEM private key"
                          ) from exc
    certificate = x509.load_pem_x509_certificate(ca_pem.encode())
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, public) != \
            certificate.public_key().public_bytes(serialization.Encoding.DER, public):
        subject = certificate.subject.rfc4514_string()
        if ca_cert_file:
            hint = f"pass the private key that belongs to --ca-cert {ca_cert_file} ({subject})"
        else:
            hint = (f"no --ca-cert was given, so the CA is the kubeconfig's ({subject}): pass the private key of "
                    "that CA, or pass --ca-cert with the certificate that belongs to --ca-key")
        raise ConfigError(f"--ca-key {ca_key_file} is not the key of the CA certificate from "
                          f"{ca_source(ca_cert_file)}", hint)


def issuer_subject(certificate_der: bytes) -> str:
    """The issuer of a DER certificate as an RFC 4514 string (for messages)."""
    from cryptography import x509

    try:
        return x509.load_der_x509_certificate(certificate_der).issuer.rfc4514_string()
    except ValueError:
        return "(unreadable)"


def chain_problem(host: str, port: int, ca_pem: str, server_name: str | None = None, timeout: float = 5.0
                  ) -> str | None:
    """Why the CA does not verify the chain the API server at host:port serves; None when it does.

    One TLS handshake that trusts only ``ca_pem`` (names are not checked here: edge nodes may reach the
    server by a name the certificate lacks). An intermediate CA counts as an anchor, as Go's verifier does.

    Raises:
        OSError: The address does not answer, or the handshake fails for a reason other than trust.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    try:
        context.load_verify_locations(cadata=ca_pem)
    except ssl.SSLError as exc:
        return f"the CA cannot be loaded ({exc.reason})"
    sni = server_name or tls_server_name(host)
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=sni):
            return None
    except ssl.SSLCertVerificationError as exc:
        if exc.verify_code in _TIME_ONLY:
            return None  # the chain is built from this CA; only a validity period is off
        return str(exc.verify_message)


def check_ca_verifies_server(ca_pem: str, ca_cert_file: str | None, host: str, port: int,
                             served_der: bytes) -> None:
    """Refuse a CA that does not verify the API server's certificate: nodes pin it and verify the server with it."""
    try:
        problem = chain_problem(host, port, ca_pem)
    except OSError as exc:
        raise PreconditionFailed(f"cannot check the API server certificate at {host}:{port}: {exc}",
                                 "check that the cluster is reachable") from exc
    if problem is None:
        return
    issuer = issuer_subject(served_der)
    message = (f"the CA certificate from {ca_source(ca_cert_file)} does not verify the certificate the API server "
               f"at {host}:{port} serves ({problem}); edge nodes would pin it and then fail to trust the server")
    hint = (f"pass --ca-cert with the CA that signed the API server's serving certificate (its issuer: {issuer}); "
            "on clusters with separate server and client CAs (k3s, RKE2) that is the server CA, not the client CA")
    if ca_cert_file:
        raise ConfigError(message, hint)
    raise PreconditionFailed(message, hint)


#: Where the API server publishes the CA(s) it trusts for client certificates (its --client-ca-file).
AUTHENTICATION_CONFIG = ObjectRef(CONFIG_MAP, "extension-apiserver-authentication", "kube-system")


def _certificates(pem: str) -> list[bytes]:
    try:
        return capin.pem_to_der_list(pem)
    except ProtocolError:
        return []


def separate_client_ca(ca_pem: str, client_ca_pem: str | None) -> str:
    """The client CA bundle when it holds a certificate the serving CA bundle lacks; "" when there is none.

    A kubelet given only the serving CA rejects the API server's kubelet-client certificate when that comes
    from another CA, as on k3s and RKE2.
    """
    client = _certificates(client_ca_pem or "")
    if not client or set(client) <= set(_certificates(ca_pem)):
        return ""
    return "".join(ssl.DER_cert_to_PEM_cert(der) for der in client)


def _yaml_key(body: dict[str, Any] | None, key: str) -> dict[str, Any]:
    if not body:
        return {}
    try:
        document = yamltext.load((body.get("data") or {}).get(key) or "")
    except yaml.YAMLError:
        return {}
    return document if isinstance(document, dict) else {}


def _networks(cidrs: Sequence[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for text in cidrs:
        try:
            networks.append(ipaddress.ip_network(str(text).strip(), strict=False))
        except ValueError:
            continue
    return networks


def contains(cidrs: Sequence[str], address: str) -> bool:
    """True when one of the ranges holds the address."""
    ip = ipaddress.ip_address(address)
    return any(ip.version == network.version and ip in network for network in _networks(cidrs))


def _primary_first(cidrs: Sequence[str], cluster_ip: str) -> str:
    """The ranges joined by commas, the one holding the kubernetes Service IP first (its family is primary)."""
    holding = [c for c in cidrs if contains([c], cluster_ip)]
    return ",".join([*holding, *(c for c in cidrs if c not in holding)])


def out_of_range_probe(cluster_ip: str) -> str:
    """An address no service range around ``cluster_ip`` can hold: the ClusterIP with its top bit flipped.

    A range holding both would be the whole address space, which no API server accepts. Only sent as the
    requested ClusterIP of a dry-run Service; nothing is ever addressed there.
    """
    ip = ipaddress.ip_address(cluster_ip)
    top = 1 << (ip.max_prefixlen - 1)
    return str(ipaddress.ip_address(int(ip) ^ top))


def parse_not_in_range(message: str) -> str | None:
    """The range named in the API server's "not in the valid range" error, or None."""
    found = _NOT_IN_RANGE.search(message)
    if not found:
        return None
    try:
        return str(ipaddress.ip_network(found.group(1), strict=False))
    except ValueError:
        return None


def range_by_dry_run(cluster: Cluster, cluster_ip: str) -> str | None:
    """Ask the API server for its range: a dry-run Service with a ClusterIP outside any range is refused, and
    the refusal names the range. None when the server does not say (no permission, another error)."""
    body = {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubectl-edge-service-range-probe", "namespace": "default"},
            "spec": {"type": "ClusterIP", "clusterIP": out_of_range_probe(cluster_ip),
                     "ports": [{"port": 443, "protocol": "TCP"}]}}
    try:
        cluster.create(body, dry_run=True)
    except ClusterError as exc:
        return parse_not_in_range(exc.message)
    return None  # accepted (dry run, nothing stored): the server did not tell


def guess_range(cluster_ip: str) -> str:
    """A range for a cluster that does not tell its own: the kubernetes Service IP is the range's first address,
    so the network address is the one before it; the size is kubeadm's default (/12, ::/108) or smaller when
    that address is not aligned to it."""
    ip = ipaddress.ip_address(cluster_ip)
    network_address = int(ip) - 1
    default_prefix = 12 if ip.version == 4 else 108
    trailing = (network_address & -network_address).bit_length() - 1 if network_address else ip.max_prefixlen
    prefix = max(default_prefix, ip.max_prefixlen - trailing)
    return str(ipaddress.ip_network((network_address, prefix), strict=False))


def decide_service_range(cluster_ip: str, service_cidrs: Sequence[str], kubeadm_subnet: str | None,
                         ask_server: Any) -> tuple[ServiceRange, list[str]]:
    """The service range from what the cluster tells, in order of authority; a guess only when nothing does.

    ``ask_server`` is called (with no arguments) only when neither ServiceCIDR nor kubeadm-config gives a range
    that holds ``cluster_ip``; it returns the range the API server named, or None. A source naming a range
    that does not hold the kubernetes Service IP is not believed, and said so.
    """
    notes: list[str] = []
    if service_cidrs:
        if contains(service_cidrs, cluster_ip):
            return ServiceRange(_primary_first(service_cidrs, cluster_ip), "ServiceCIDR kubernetes"), notes
        notes.append(f"ServiceCIDR kubernetes ({', '.join(service_cidrs)}) does not hold the kubernetes Service IP "
                     f"{cluster_ip}; not used")
    if kubeadm_subnet:
        subnets = [s.strip() for s in kubeadm_subnet.split(",") if s.strip()]
        if contains(subnets, cluster_ip):
            return ServiceRange(_primary_first(subnets, cluster_ip), "kubeadm-config"), notes
        notes.append(f"kubeadm-config's serviceSubnet {kubeadm_subnet} does not hold the kubernetes Service IP "
                     f"{cluster_ip}; not used")
    answered = ask_server()
    if answered and contains([answered], cluster_ip):
        notes.append(f"service CIDR {answered} as the API server named it (a server-side dry run; nothing stored)")
        return ServiceRange(answered, "the API server (dry run)"), notes
    guessed = guess_range(cluster_ip)
    notes.append(f"GUESS: service CIDR {guessed}: the cluster did not tell its service range (no ServiceCIDR, no "
                 f"serviceSubnet in kubeadm-config, the API server did not name it); it only fills kubeadm-config's "
                 f"serviceSubnet, the kubernetes Service IP {cluster_ip} is the one read from default/kubernetes")
    return ServiceRange(guessed, "guess", guessed=True), notes


def _service_cidrs(cluster: Cluster) -> list[str]:
    # Servers before 1.33 have no such API: the GET is a 404, read as "no object".
    service_cidr_object = cluster.get(ObjectRef(SERVICE_CIDR, "kubernetes"))
    return [str(c) for c in ((service_cidr_object or {}).get("spec") or {}).get("cidrs") or []]


def kubernetes_service_ip(cluster: Cluster) -> str:
    """The ClusterIP of default/kubernetes, as the API server assigned it."""
    kubernetes_service = cluster.get(ObjectRef(SERVICE, "kubernetes", "default")) or {}
    cluster_ip = (kubernetes_service.get("spec") or {}).get("clusterIP")
    try:
        return str(ipaddress.ip_address(str(cluster_ip)))
    except ValueError:
        raise PreconditionFailed("cannot tell the cluster's service range: the Service default/kubernetes has no "
                                 f"ClusterIP ({cluster_ip!r})", "is this a Kubernetes cluster?") from None


def gather(cluster: Cluster, inputs: AddonInputs) -> ClusterFacts:
    """Every fact the prerequisites need, with a note for each value that had to be derived."""
    notes: list[str] = []
    version = cluster.server_version()
    server_version = KubeVersion.from_version_info(version) or KubeVersion(1, 0)
    major, minor = server_version.major, server_version.minor
    # The CA and the addresses first: a wrong flag is refused before any request but reads.
    ca_pem = read_ca(cluster.resolved, inputs.ca_cert_file).pem
    check_ca_key(ca_pem, inputs.ca_key_file, inputs.ca_cert_file)
    server_host, server_port = parse_endpoint(cluster.server, 443)
    try:
        public_host, public_port = parse_endpoint(inputs.public_address or cluster.server, server_port)
    except ProtocolError as exc:
        raise ConfigError(f"--public-address: {exc.message}", exc.hint) from exc
    try:
        certificate = serving_certificate(server_host, server_port)
    except OSError as exc:
        raise PreconditionFailed(f"cannot fetch the API server certificate from {server_host}:{server_port}: {exc}",
                                 "check that the cluster is reachable") from exc
    check_ca_verifies_server(ca_pem, inputs.ca_cert_file, server_host, server_port, certificate)
    dns_names, ip_addresses = capin.subject_alt_names(certificate)
    try:
        strategy = endpoint_strategy(public_host, dns_names, ip_addresses)
    except ProtocolError as exc:
        raise PreconditionFailed(f"--public-address {public_host}: {exc.message}", exc.hint) from exc
    reach_host = public_host if strategy == DIRECT else HOSTS_MAPPING_NAME

    kubeadm_config = _yaml_key(cluster.get(ObjectRef(CONFIG_MAP, "kubeadm-config", "kube-system")),
                               "ClusterConfiguration")
    # The one name this version's kubelet-config has (the one addon creates, and nodes read first).
    kubelet_ref = ObjectRef(CONFIG_MAP, contract.kubelet_config_name(server_version), contract.KUBELET_CONFIG_NAMESPACE)
    kubelet_config = _yaml_key(cluster.get(kubelet_ref), contract.KUBELET_CONFIG_KEY)
    networking = kubeadm_config.get("networking") or {}

    cluster_ip = kubernetes_service_ip(cluster)
    service_range, range_notes = decide_service_range(
        cluster_ip, _service_cidrs(cluster), str(networking.get("serviceSubnet") or "") or None,
        lambda: range_by_dry_run(cluster, cluster_ip))
    notes.extend(range_notes)

    dns = cluster.get(ObjectRef(SERVICE, "kube-dns", "kube-system"))
    dns_ip = (dns or {}).get("spec", {}).get("clusterIP")
    if not dns_ip:
        dns_ip = dns_ip_for(service_range.cidr)
        guess = "GUESS: " if service_range.guessed else ""
        notes.append(f"{guess}no kube-system/kube-dns Service: cluster DNS IP {dns_ip} is kubeadm's choice for the "
                     f"range {service_range.cidr}")

    authentication = cluster.get(AUTHENTICATION_CONFIG) or {}
    client_ca = separate_client_ca(ca_pem, (authentication.get("data") or {}).get("client-ca-file"))
    if client_ca:
        notes.append("the API server's client CA (kube-system/extension-apiserver-authentication client-ca-file) is "
                     "not the cluster CA: edge nodes get it for their kubelet's client CA file, so that logs and "
                     "exec work")
    elif not authentication:
        notes.append("kube-system/extension-apiserver-authentication is missing: the API server's client CA is taken "
                     "to be the cluster CA")

    domain = kubelet_config.get("clusterDomain") or networking.get("dnsDomain") or "cluster.local"
    cgroup_driver = kubelet_config.get("cgroupDriver") or "systemd"
    return ClusterFacts(
        version_major=major, version_minor=minor, git_version=str(version.get("gitVersion", f"v{major}.{minor}.0")),
        service_cidr=service_range.cidr, dns_service_ip=str(dns_ip), cluster_domain=str(domain),
        cgroup_driver=str(cgroup_driver), ca_pem=ca_pem,
        cluster_info_server=endpoint_url(reach_host, public_port),
        control_plane_endpoint=format_endpoint(public_host, public_port), notes=tuple(notes),
        kubernetes_service_ip=cluster_ip, kubelet_client_ca_pem=client_ca,
    )
