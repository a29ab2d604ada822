"""Helpers of the chart tests: the real helm 3 and 4 from the binary cache, isolated from ~, and values as
``kubectl edge addon`` computes them."""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "hack"))
from clusterkit import required_binary_dir  # noqa: E402

from kubectl_edge.addon import certs  # noqa: E402
from kubectl_edge.addon.helm import Helm, helm_version  # noqa: E402
from kubectl_edge.addon.values import ChartFacts, certificate_names, compute_values  # noqa: E402

HELMS = ("helm3", "helm4")

#: A kube-proxy DaemonSet and ConfigMap as ``kubeadm init phase addon kube-proxy`` writes them (trimmed).
KUBEADM_KUBE_PROXY_DAEMONSET: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "DaemonSet",
    "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": {"k8s-app": "kube-proxy"}},
    "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}}, "template": {
        "metadata": {"labels": {"k8s-app": "kube-proxy"}},
        "spec": {
            "containers": [{
                "name": "kube-proxy", "image": "registry.k8s.io/kube-proxy:v1.37.2",
                "command": ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf",
                            "--hostname-override=$(NODE_NAME)"],
                "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                "securityContext": {"privileged": True},
                "volumeMounts": [{"mountPath": "/var/lib/kube-proxy", "name": "kube-proxy"},
                                 {"mountPath": "/run/xtables.lock", "name": "xtables-lock"},
                                 {"mountPath": "/lib/modules", "name": "lib-modules", "readOnly": True}]}],
            "hostNetwork": True, "nodeSelector": {"kubernetes.io/os": "linux"},
            "priorityClassName": "system-node-critical", "serviceAccountName": "kube-proxy",
            "tolerations": [{"operator": "Exists"}],
            "volumes": [{"name": "kube-proxy", "configMap": {"name": "kube-proxy", "defaultMode": 420}},
                        {"name": "xtables-lock", "hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"}},
                        {"name": "lib-modules", "hostPath": {"path": "/lib/modules", "type": ""}}]}}}}
KUBEADM_KUBE_PROXY_CONFIGMAP: dict[str, Any] = {
    "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
    "data": {
        "config.conf": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
                       "clientConnection:\n  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf\n"
                       "clusterCIDR: 198.19.64.0/18\nmode: iptables\n",
        "kubeconfig.conf": "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://localhost:6443\n"
                           "  name: default\n"}}


def binary(name: str) -> str:
    """A helm binary from the cache; skipped (failed in CI) when the cache is not built."""
    return str(required_binary_dir() / name)


def helm_env(home: Path, kubeconfig: str | None = None) -> dict[str, str]:
    """An environment where helm keeps its cache, config and data under ``home``, never in ~."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("HELM_")}
    for kind in ("CACHE", "CONFIG", "DATA"):
        directory = home / kind.lower()
        directory.mkdir(parents=True, exist_ok=True)
        env[f"HELM_{kind}_HOME"] = str(directory)
    env.pop("KUBECONFIG", None)
    if kubeconfig:
        env["KUBECONFIG"] = kubeconfig
    return env


def helm(name: str, home: Path) -> Helm:
    """The cached helm ``name`` (helm3/helm4), with its version asked from it."""
    return helm_version(binary(name), helm_env(home))


def ca_pair() -> tuple[str, str]:
    """A throwaway cluster CA (certificate, key), made as kubeadm makes one."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    key = rsa.generate_private_key(65537, 2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
    return (certificate.public_bytes(serialization.Encoding.PEM).decode(),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode())


def facts(ca_pem: str, kube_proxy: bool = True, **changes: Any) -> ChartFacts:
    """Cluster facts like those of the local kubeadm-flavoured cluster."""
    base = ChartFacts(
        public_address="203.0.113.10:6443", ca_pem=ca_pem, service_cidr="198.19.0.0/20",
        kube_proxy_daemonset=copy.deepcopy(KUBEADM_KUBE_PROXY_DAEMONSET) if kube_proxy else None,
        kube_proxy_configmap=copy.deepcopy(KUBEADM_KUBE_PROXY_CONFIGMAP) if kube_proxy else None)
    return ChartFacts(**{**base.__dict__, **changes})


def computed(chart_facts: ChartFacts, ca_key: str | None, existing: certs.Existing | None = None
             ) -> tuple[dict[str, Any], certs.Material]:
    """Values as the components phase computes them: material first, then the values."""
    result = certs.ensure_material(chart_facts.ca_pem, ca_key, existing or certs.Existing(),
                                   certificate_names(chart_facts))
    return compute_values(chart_facts, result.material).values, result.material
