"""Reading cluster-info's kubeconfig without a YAML library, and writing kubelet's bootstrap kubeconfig."""

from __future__ import annotations

import base64
import json

import pytest
from edge_installer.errors import InstallerError
from edge_installer.kubeconfig import bootstrap_kubeconfig, parse_cluster_info, read_kubelet_kubeconfig

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
CA_DATA = base64.b64encode(PEM.encode()).decode()
# As kubeadm (Go's yaml) writes cluster-info.
KUBEADM = (f"apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {CA_DATA}\n"
           "    server: https://203.0.113.10:6443\n  name: \"\"\ncontexts: null\ncurrent-context: \"\"\n"
           "kind: Config\npreferences: {}\nusers: null\n")
# As PyYAML's safe_dump(sort_keys=True) writes it (kubectl-edge addon), with quoted scalars.
PYYAML = (f"apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: '{CA_DATA}'\n"
          "    server: \"https://kubernetes.default:6443\"\n  name: ''\ncontexts: null\ncurrent-context: ''\n"
          "kind: Config\npreferences: {}\nusers: null\n")


def test_kubeadm_yaml() -> None:
    entry = parse_cluster_info(KUBEADM)
    assert entry.server == "https://203.0.113.10:6443"
    assert entry.ca_pem == PEM


def test_quoted_scalars() -> None:
    entry = parse_cluster_info(PYYAML)
    assert entry.server == "https://kubernetes.default:6443"
    assert entry.ca_pem == PEM


def test_json_kubeconfig() -> None:
    text = json.dumps({"apiVersion": "v1", "kind": "Config", "clusters": [
        {"name": "", "cluster": {"server": "https://[2001:db8::1]:6443", "certificate-authority-data": CA_DATA}}]})
    entry = parse_cluster_info(text)
    assert entry.server == "https://[2001:db8::1]:6443"
    assert entry.ca_pem == PEM


@pytest.mark.parametrize(("text", "problem"), [
    (KUBEADM.replace("- cluster:", "- cluster:\n    server: https://x:1\n- cluster:"), "2 servers"),
    (KUBEADM.replace(f"certificate-authority-data: {CA_DATA}", "certificate-authority: /etc/ca.crt"), "CA file"),
    (KUBEADM.replace(f"    certificate-authority-data: {CA_DATA}\n", ""), "no certificate-authority-data"),
    (KUBEADM.replace(CA_DATA, "not*base64"), "not base64"),
    ("{not json", "not valid JSON"),
])
def test_what_cannot_be_read_unambiguously_is_refused(text: str, problem: str) -> None:
    with pytest.raises(InstallerError) as caught:
        parse_cluster_info(text)
    assert problem in caught.value.message


def test_bootstrap_kubeconfig_reads_back() -> None:
    text = bootstrap_kubeconfig("https://kubernetes.default:6443", PEM, "abcdef.0123456789abcdef")
    entry = parse_cluster_info(text)
    assert entry.server == "https://kubernetes.default:6443"
    assert entry.ca_pem == PEM
    assert "    token: abcdef.0123456789abcdef\n" in text
    assert "current-context: tls-bootstrap-token-user@kubernetes\n" in text


def test_kubelet_kubeconfig_fields() -> None:
    text = ("apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: QQ==\n    server: https://a:1\n"
            "  name: default-cluster\nusers:\n- name: default-auth\n  user:\n"
            "    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem\n"
            "    client-key: /var/lib/kubelet/pki/kubelet-client-current.pem\n")
    fields = read_kubelet_kubeconfig(text)
    assert fields["server"] == "https://a:1"
    assert fields["client-certificate"] == fields["client-key"] == "/var/lib/kubelet/pki/kubelet-client-current.pem"
