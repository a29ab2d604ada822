"""The oldest supported minor (v1.30, built by hack/build_kubernetes.py): a bare cluster without the
ServiceCIDR API, and the kubeadm flavour made by kubeadm v1.30.

On such a cluster addon must take the ClusterIP of default/kubernetes as it reads it (edge-info and the
lite-apiserver certificate), and the service range from the API server itself, not a guess.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from clusterkit import (
    admin_request,
    audit_mark,
    persisted_writes_since,
    required_oldest_binary_dir,
    run_plugin,
    succeeded,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hack"))
import build_kubernetes
import localcluster

CONFIG_MAPS = "/api/v1/namespaces/{namespace}/configmaps/{name}"


@pytest.fixture
def oldest_bare(tmp_path: Path) -> Iterator[localcluster.LocalCluster]:
    with localcluster.running(tmp_path / "cluster", "bare", bin_dir=required_oldest_binary_dir()) as cluster:
        yield cluster


def _config_map(cluster: Any, namespace: str, name: str) -> dict[str, str]:
    answer = admin_request(cluster, CONFIG_MAPS.format(namespace=namespace, name=name))
    assert answer.status == 200, answer.body
    return dict(answer.body["data"])


def test_addon_on_the_oldest_minor_uses_the_clusterip_it_read_and_the_range_the_server_named(
        oldest_bare: Any) -> None:
    cluster = oldest_bare
    assert admin_request(cluster, "/version").body["gitVersion"] == build_kubernetes.OLDEST
    # No ServiceCIDR API before 1.33: the range is not in any object.
    assert admin_request(cluster, "/apis/networking.k8s.io/v1/servicecidrs").status == 404

    result = succeeded(run_plugin(cluster.kubeconfig, "addon", "--ca-cert", cluster.ca_cert,
                                  "--ca-key", cluster.ca_key, "-o", "json"))
    notes = json.loads(result.stdout)["notes"]
    assert any(f"service CIDR {localcluster.SERVICE_CIDR} as the API server named it" in note for note in notes)
    assert not any(note.startswith("GUESS") for note in notes), notes

    edge_info = _config_map(cluster, "edge-system", "edge-info")
    assert edge_info["kube-api-cluster-ip"] == localcluster.KUBERNETES_SERVICE_IP
    from cryptography import x509

    lite = x509.load_pem_x509_certificate(edge_info["lite-apiserver.crt"].encode())
    ips = {str(ip) for ip in lite.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
           .get_values_for_type(x509.IPAddress)}
    assert localcluster.KUBERNETES_SERVICE_IP in ips
    kubeadm = yaml.safe_load(_config_map(cluster, "kube-system", "kubeadm-config")["ClusterConfiguration"])
    assert kubeadm["apiVersion"] == "kubeadm.k8s.io/v1beta3"
    assert kubeadm["networking"]["serviceSubnet"] == localcluster.SERVICE_CIDR
    kubelet = yaml.safe_load(_config_map(cluster, "kube-system", "kubelet-config")["kubelet"])
    assert kubelet["clusterDNS"] == [localcluster.DNS_SERVICE_IP]

    # A second addon reads the range from kubeadm-config: no request that writes, not even a dry run.
    mark = audit_mark(cluster)
    again = succeeded(run_plugin(cluster.kubeconfig, "addon", "--ca-cert", cluster.ca_cert,
                                 "--ca-key", cluster.ca_key))
    assert "(0 write requests)" in again.stdout
    assert persisted_writes_since(cluster, mark) == []
    lines = Path(cluster.audit_log).read_text().splitlines()[mark:]
    assert not [line for line in lines if "dryRun" in line and "kubectl-edge/" in line]
    succeeded(run_plugin(cluster.kubeconfig, "detach"))


def test_the_kubeadm_flavour_with_kubeadm_of_the_oldest_minor(tmp_path: Path) -> None:
    with localcluster.running(tmp_path / "cluster", "kubeadm", bin_dir=required_oldest_binary_dir()) as cluster:
        kubeadm = yaml.safe_load(_config_map(cluster, "kube-system", "kubeadm-config")["ClusterConfiguration"])
        assert kubeadm["apiVersion"] == "kubeadm.k8s.io/v1beta3"
        assert kubeadm["kubernetesVersion"] == build_kubernetes.OLDEST
        assert "kubelet" in _config_map(cluster, "kube-system", "kubelet-config")
        # The stand-in control-plane Node upload-config waited for is gone again.
        assert admin_request(cluster, "/api/v1/nodes").body["items"] == []
