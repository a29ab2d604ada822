"""Read what the prerequisites depend on off the live cluster and the flags (read requests only)."""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from edge_protocol import capin
from edge_protocol.endpoint import DIRECT, HOSTS_MAPPING_NAME, endpoint_strategy
from edge_protocol.errors import ProtocolError
from edge_protocol.joincommand import endpoint_url, format_endpoint, parse_endpoint
from kubectl_edge import yamltext
from kubectl_edge.addon.prerequisites import ClusterFacts, dns_ip_for
from kubectl_edge.cluster.client import Cluster
from kubectl_edge.cluster.endpoint import serving_certificate
from kubectl_edge.cluster.kinds import CONFIG_MAP, SERVICE, SERVICE_CIDR, ObjectRef
from kubectl_edge.errors import ConfigError, PreconditionFailed


@dataclass(frozen=True)
class AddonInputs:
    """The flags of ``kubectl edge addon`` that shape the prerequisites."""

    public_address: str | None = None
    ca_cert_file: str | None = None
    ca_key_file: str | None = None


def read_ca(cluster: Cluster, ca_cert_file: str | None) -> str:
    """The cluster CA certificate (PEM): from --ca-cert, else from the kubeconfig."""
    if ca_cert_file:
        try:
            pem = Path(ca_cert_file).read_text()
        except OSError as exc:
            raise ConfigError(f"cannot read --ca-cert {ca_cert_file}: {exc.strerror}", "pass the CA certificate file"
                              ) from exc
        source = f"--ca-cert {ca_cert_file}"
    else:
        cluster_entry = cluster.resolved.config["clusters"][0]["cluster"]
        if cluster_entry.get("certificate-authority-data"):
            pem = base64.b64decode(cluster_entry["certificate-authority-data"]).decode(errors="replace")
        elif cluster_entry.get("certificate-authority"):
            pem = Path(cluster_entry["certificate-authority"]).read_text()
        else:
            raise ConfigError("the kubeconfig carries no CA certificate for the cluster",
                              "pass --ca-cert FILE (the cluster CA, e.g. /etc/kubernetes/pki/ca.crt)")
        source = "the kubeconfig"
    try:
        if not capin.pem_to_der_list(pem):
            raise ProtocolError("no certificate in it")
    except ProtocolError as exc:
        raise ConfigError(f"the CA certificate from {source} is not a PEM certificate ({exc.message})",
                          "pass --ca-cert FILE with the cluster CA certificate") from exc
    return pem


def check_ca_key(ca_pem: str, ca_key_file: str | None) -> None:
    """Refuse a --ca-key that is not the private key of the CA certificate."""
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
        raise ConfigError(f"--ca-key {ca_key_file} is not the key of the CA certificate",
                          "pass the private key that belongs to --ca-cert")


def _yaml_key(body: dict[str, Any] | None, key: str) -> dict[str, Any]:
    if not body:
        return {}
    try:
        document = yamltext.load((body.get("data") or {}).get(key) or "")
    except yaml.YAMLError:
        return {}
    return document if isinstance(document, dict) else {}


def gather(cluster: Cluster, inputs: AddonInputs) -> ClusterFacts:
    """Every fact the prerequisites need, with a note for each value that had to be derived."""
    notes: list[str] = []
    version = cluster.server_version()
    major = int("".join(ch for ch in str(version.get("major", "1")) if ch.isdigit()) or 1)
    minor = int("".join(ch for ch in str(version.get("minor", "0")) if ch.isdigit()) or 0)
    kubeadm_config = _yaml_key(cluster.get(ObjectRef(CONFIG_MAP, "kubeadm-config", "kube-system")),
                               "ClusterConfiguration")
    kubelet_name = "kubelet-config" if (major, minor) >= (1, 24) else f"kubelet-config-{major}.{minor}"
    kubelet_config = _yaml_key(cluster.get(ObjectRef(CONFIG_MAP, kubelet_name, "kube-system")), "kubelet")
    networking = kubeadm_config.get("networking") or {}

    service_cidr_object = cluster.get(ObjectRef(SERVICE_CIDR, "kubernetes")) if (major, minor) >= (1, 33) else None
    if service_cidr_object and (service_cidr_object.get("spec") or {}).get("cidrs"):
        service_cidr = ",".join(service_cidr_object["spec"]["cidrs"])
    elif networking.get("serviceSubnet"):
        service_cidr = str(networking["serviceSubnet"])
    else:
        kubernetes_service = cluster.get(ObjectRef(SERVICE, "kubernetes", "default")) or {}
        cluster_ip = (kubernetes_service.get("spec") or {}).get("clusterIP")
        if not cluster_ip:
            raise PreconditionFailed("cannot tell the cluster's service CIDR",
                                     "the Service default/kubernetes has no clusterIP; is this a Kubernetes cluster?")
        # kubeadm's default range around the kubernetes Service IP; said in the plan, never silently.
        service_cidr = str(ipaddress.ip_network(f"{cluster_ip}/12", strict=False))
        notes.append(f"service CIDR {service_cidr} derived from the kubernetes Service IP {cluster_ip}")

    dns = cluster.get(ObjectRef(SERVICE, "kube-dns", "kube-system"))
    dns_ip = (dns or {}).get("spec", {}).get("clusterIP")
    if not dns_ip:
        dns_ip = dns_ip_for(service_cidr)
        notes.append(f"no kube-system/kube-dns Service: cluster DNS IP {dns_ip} is kubeadm's choice for the range")

    domain = kubelet_config.get("clusterDomain") or networking.get("dnsDomain") or "cluster.local"
    cgroup_driver = kubelet_config.get("cgroupDriver") or "systemd"
    ca_pem = read_ca(cluster, inputs.ca_cert_file)
    check_ca_key(ca_pem, inputs.ca_key_file)

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
    dns_names, ip_addresses = capin.subject_alt_names(certificate)
    try:
        strategy = endpoint_strategy(public_host, dns_names, ip_addresses)
    except ProtocolError as exc:
        raise PreconditionFailed(f"--public-address {public_host}: {exc.message}", exc.hint) from exc
    reach_host = public_host if strategy == DIRECT else HOSTS_MAPPING_NAME
    return ClusterFacts(
        version_major=major, version_minor=minor, git_version=str(version.get("gitVersion", f"v{major}.{minor}.0")),
        service_cidr=service_cidr, dns_service_ip=str(dns_ip), cluster_domain=str(domain),
        cgroup_driver=str(cgroup_driver), ca_pem=ca_pem,
        cluster_info_server=endpoint_url(reach_host, public_port),
        control_plane_endpoint=format_endpoint(public_host, public_port), notes=tuple(notes),
    )
