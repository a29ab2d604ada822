"""edgeadm join against a hostile API server: every attack is refused with its message, and nothing changes.

The server (hostilecluster.py) is real TLS on 127.0.0.1 and serves a cluster-info signed with the token,
so what is tried is what a token holder on the path, or whoever can write edge-info, can do. Each test
compares the node root (every path, type, mode and content, ``/etc/hosts`` included) before and after.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from clusterkit import file_tree
from cryptography import x509
from edge_installer.cli import main
from hostilecluster import (
    EDGE_INFO,
    EDGE_INFO_SECRET,
    KUBELET_CONFIG,
    TOKEN,
    Authority,
    HostileServer,
    config_map,
    serve,
)

from edge_protocol import capin

HOSTS = b"127.0.0.1 localhost\r\n::1 ip6-localhost\x0bnot-a-line-break\n# end"  # CRLF, \x0b, no final newline


@pytest.fixture(scope="module")
def cluster_ca() -> Authority:
    """The cluster's real CA: the one the join line pins."""
    return Authority("kubernetes")


@pytest.fixture(scope="module")
def attacker_ca() -> Authority:
    """A CA of the attacker's own."""
    return Authority("kubernetes")  # the same name as the real one, as an attacker would choose


@pytest.fixture
def node(tmp_path: Path) -> Path:
    """A node root with an /etc/hosts of odd bytes."""
    root = tmp_path / "node"
    (root / "etc").mkdir(parents=True)
    (root / "etc/hosts").write_bytes(HOSTS)
    return root


@pytest.fixture
def server(tmp_path: Path, cluster_ca: Authority) -> Iterator[HostileServer]:
    """The cluster's API server as it should be (certificate from the cluster CA, cluster-info signed)."""
    yield from serve(tmp_path, cluster_ca, cluster_ca.pem)


def _join(server: HostileServer, node: Path, pin: str, capsys: pytest.CaptureFixture[str], *extra: str
          ) -> tuple[int, str]:
    code = main(["join", f"127.0.0.1:{server.port}", "--token", TOKEN, "--discovery-token-ca-cert-hash", pin,
                 "--root", str(node), "--node-name", "edge-1", "--skip-phases", "start", *extra])
    return code, capsys.readouterr().err


def _refused(server: HostileServer, node: Path, pin: str, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    before = file_tree(node)
    code, errors = _join(server, node, pin, capsys, *extra)
    assert code == 3, errors
    assert file_tree(node) == before
    assert (node / "etc/hosts").read_bytes() == HOSTS
    return errors


def _relabel(pem: str, label: str) -> str:
    return pem.replace("BEGIN CERTIFICATE", f"BEGIN {label}").replace("END CERTIFICATE", f"END {label}")


# --- the baseline: the same server, well behaved, is joined ---------------------------------------------------

def test_a_well_behaved_cluster_is_joined_and_ca_crt_holds_the_pinned_ca_re_encoded(
        server: HostileServer, node: Path, cluster_ca: Authority, capsys: pytest.CaptureFixture[str]) -> None:
    # Text around the block (openssl x509 -text output) is not carried into ca.crt.
    server.sign_cluster_info("Certificate:\n    Data: ...\n" + cluster_ca.pem + "trailing words\n")
    code, errors = _join(server, node, cluster_ca.pin, capsys)
    assert code == 0, errors
    assert "the cluster CA matches the pin" in errors
    written = (node / "etc/kubernetes/pki/ca.crt").read_text()
    assert written == capin.der_to_pem([cluster_ca.der])
    assert x509.load_pem_x509_certificate(written.encode()) == cluster_ca.certificate
    kubeconfig = (node / "etc/kubernetes/bootstrap-kubelet.conf").read_text()
    assert base64.b64encode(written.encode()).decode() in kubeconfig


# --- 1. the CA pin bypass ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("label", ["X509 CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CRL"])
def test_another_ca_in_a_pem_block_openssl_would_load_is_refused(
        tmp_path: Path, node: Path, cluster_ca: Authority, attacker_ca: Authority, label: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The real CA (which the pin names) plus the attacker's in another block type; the attacker serves TLS."""
    for hostile in serve(tmp_path, attacker_ca, cluster_ca.pem + _relabel(attacker_ca.pem, label)):
        errors = _refused(hostile, node, cluster_ca.pin, capsys)
        assert f"cluster-info's CA data holds a PEM block of type '{label}'; only CERTIFICATE blocks are accepted" \
            in errors
        # Nothing was asked with the token of a server that is not the cluster.
        assert KUBELET_CONFIG not in hostile.requests and EDGE_INFO not in hostile.requests


def test_an_unpinned_second_certificate_is_refused(tmp_path: Path, node: Path, cluster_ca: Authority,
                                                   attacker_ca: Authority, capsys: pytest.CaptureFixture[str]) -> None:
    for hostile in serve(tmp_path, attacker_ca, cluster_ca.pem + attacker_ca.pem):
        errors = _refused(hostile, node, cluster_ca.pin, capsys)
        assert "holds 2 certificates, and 1 of them has no pin" in errors
        assert attacker_ca.pin in errors
        assert KUBELET_CONFIG not in hostile.requests


def test_a_cluster_info_of_only_the_attackers_ca_does_not_match_the_pin(
        tmp_path: Path, node: Path, cluster_ca: Authority, attacker_ca: Authority,
        capsys: pytest.CaptureFixture[str]) -> None:
    for hostile in serve(tmp_path, attacker_ca, attacker_ca.pem):
        errors = _refused(hostile, node, cluster_ca.pin, capsys)
        assert "the cluster's CA does not match --discovery-token-ca-cert-hash" in errors


# --- 2. values read from the cluster ----------------------------------------------------------------------------

def _edge_info(cluster_ca: Authority, **changes: Any) -> dict[str, Any]:
    certificate, key = cluster_ca.leaf_pair()
    data: dict[str, Any] = {"edge-virtual-addr": "169.254.20.11", "kube-api-ca.crt": cluster_ca.pem,
                            "lite-apiserver.crt": certificate, "lite-apiserver.key": key,
                            "host-config": "198.18.0.5 registry.edge.local mirror.edge.local\n",
                            "node-delay-domain": "delay.example.test\n", "insecure-registries": "198.18.0.5:5000\n",
                            "tls.json": '[{"key":"/var/lib/kubelet/pki/kubelet-client-current.pem",'
                                        '"cert":"/var/lib/kubelet/pki/kubelet-client-current.pem"}]'}
    data.update(changes)
    return data


def test_a_well_formed_edge_info_is_read_and_its_host_config_mapped(
        server: HostileServer, node: Path, cluster_ca: Authority, capsys: pytest.CaptureFixture[str]) -> None:
    server.answers[EDGE_INFO] = (200, config_map("edge-info", _edge_info(cluster_ca)))
    code, errors = _join(server, node, cluster_ca.pin, capsys)
    assert code == 0, errors
    assert "edge-system/edge-info: read; every value has its shape" in errors
    assert b"\n198.18.0.5 registry.edge.local mirror.edge.local\n" in (node / "etc/hosts").read_bytes()


@pytest.mark.parametrize(("key", "value", "message"), [
    ("edge-virtual-addr", "169.254.20.11; touch /tmp/x #", "'169.254.20.11; touch /tmp/x #' is not an IP address"),
    ("edge-virtual-addr", "169.254.20.11\nExecStartPre=/bin/sh -c id", "is not an IP address"),
    ("edge-virtual-addr", "0.0.0.0", "0.0.0.0 cannot be a node's own address"),
    ("host-config", "198.18.0.5 registry.edge.local\n198.18.0.6 evil\x0bname\n", "control character '\\x0b'"),
    ("host-config", "198.18.0.5 registry\x85local\n", "control character '\\x85'"),
    ("host-config", "198.18.0.5 bad_name!\n", "'bad_name!' is not a DNS name"),
    ("host-config", "registry.edge.local 198.18.0.5\n", "'registry.edge.local' is not an IP address"),
    ("host-config", "198.18.0.5\n", "line 1 '198.18.0.5' is not 'IP name [name...]'"),
    ("host-config", "198.18.0.5 a.example\r\r\n", "control character '\\r'"),
    ("node-delay-domain", "delay.example.test\n$(reboot)\n", "'$(reboot)' is not a DNS name"),
    ("insecure-registries", "registry.example:99999\n", "'registry.example:99999' has an invalid port"),
    ("insecure-registries", "http://registry.example/\n", "'http://registry.example/' has an invalid port"),
    ("lite-apiserver.crt", "not a certificate", "no certificate found"),
    ("tls.json", '[{"key":"/etc/shadow; rm -rf /","cert":"/x"}]', "is not an absolute path of plain names"),
    ("tls.json", '[{"key":"/var/lib/../../etc/shadow","cert":"/x"}]', "is not an absolute path of plain names"),
    ("tls.json", '{"key":"/a","cert":"/b"}', "it is not a non-empty JSON list"),
    ("lite-apiserver.key", "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
     "is not exactly one PEM private key"),
    ("lite-apiserver.key", "-----BEGIN PRIVATE KEY-----\nMAMCAQ==\n-----END PRIVATE KEY-----\n",
     "the key's body is not one DER structure"),
])
def test_a_malformed_edge_info_value_is_refused_before_anything_is_written(
        server: HostileServer, node: Path, cluster_ca: Authority, capsys: pytest.CaptureFixture[str], key: str,
        value: str, message: str) -> None:
    server.answers[EDGE_INFO] = (200, config_map("edge-info", _edge_info(cluster_ca, **{key: value})))
    errors = _refused(server, node, cluster_ca.pin, capsys)
    assert f"edge-system/edge-info key {key}" in errors or f"edge-system/edge-info {key}" in errors, errors
    assert message in errors, errors
    assert "nothing was changed" in errors
    assert "kubectl -n edge-system edit configmap edge-info" in errors


def test_kube_api_ca_must_be_the_pinned_cluster_ca(server: HostileServer, node: Path, cluster_ca: Authority,
                                                  attacker_ca: Authority, capsys: pytest.CaptureFixture[str]) -> None:
    server.answers[EDGE_INFO] = (200, config_map("edge-info", _edge_info(cluster_ca, **{
        "kube-api-ca.crt": attacker_ca.pem})))
    errors = _refused(server, node, cluster_ca.pin, capsys)
    assert "kube-api-ca.crt cannot be used: it is not the cluster CA that cluster-info and the pin verified" in errors
    server.answers[EDGE_INFO] = (200, config_map("edge-info", _edge_info(cluster_ca, **{
        "kube-api-ca.crt": cluster_ca.pem + _relabel(attacker_ca.pem, "X509 CERTIFICATE")})))
    assert "holds a PEM block of type 'X509 CERTIFICATE'" in _refused(server, node, cluster_ca.pin, capsys)


def test_a_lite_apiserver_key_secret_that_is_not_base64_is_refused(
        server: HostileServer, node: Path, cluster_ca: Authority, capsys: pytest.CaptureFixture[str]) -> None:
    data = _edge_info(cluster_ca)
    del data["lite-apiserver.key"]
    server.answers[EDGE_INFO] = (200, config_map("edge-info", data))
    server.answers[EDGE_INFO_SECRET] = (200, {"kind": "Secret", "data": {"lite-apiserver.key": "not base64 !"}})
    errors = _refused(server, node, cluster_ca.pin, capsys)
    assert "edge-system/edge-info Secret key lite-apiserver.key cannot be used: it is not base64" in errors


@pytest.mark.parametrize(("text", "message"), [
    ("apiVersion: v1\nkind: ConfigMap\n", "it is not a KubeletConfiguration"),
    ("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nx: \x1b[2J\n",
     "control character '\\x1b'"),
])
def test_a_kubelet_config_that_is_not_one_is_refused(server: HostileServer, node: Path, cluster_ca: Authority,
                                                     capsys: pytest.CaptureFixture[str], text: str,
                                                     message: str) -> None:
    server.answers[KUBELET_CONFIG] = (200, config_map("kubelet-config", {"kubelet": text}))
    errors = _refused(server, node, cluster_ca.pin, capsys)
    assert "kube-system/kubelet-config key kubelet cannot be used" in errors and message in errors


@pytest.mark.parametrize("server_url", ["https://127.0.0.1:6443/; rm -rf /", "http://127.0.0.1:6443",
                                        "https://user@127.0.0.1:6443", "https://bad_host!:6443"])
def test_a_cluster_info_server_that_is_not_an_https_url_is_refused(
        server: HostileServer, node: Path, cluster_ca: Authority, capsys: pytest.CaptureFixture[str],
        server_url: str) -> None:
    server.sign_cluster_info(cluster_ca.pem, server=server_url)
    errors = _refused(server, node, cluster_ca.pin, capsys)
    assert "kube-public/cluster-info's kubeconfig server cannot be used" in errors


def test_a_version_of_another_shape_is_dropped_not_used(server: HostileServer, node: Path, cluster_ca: Authority,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    server.answers["/version"] = (200, {"major": "1; id", "minor": "31", "gitVersion": "v1.31.2\n$(id)"})
    code, errors = _join(server, node, cluster_ca.pin, capsys)
    assert code == 0, errors
    assert "the cluster runs Kubernetes unknown version" in errors
    assert "$(id)" not in errors


# --- 4. another mapping of a name edgeadm maps --------------------------------------------------------------------

@pytest.fixture
def mapped_server(tmp_path: Path, cluster_ca: Authority) -> Iterator[HostileServer]:
    """The cluster's API server with a certificate that does not name 127.0.0.1 (join maps kubernetes.default)."""
    server = HostileServer(tmp_path, cluster_ca, cluster_ca.pem)
    server.cert_file, server.key_file = cluster_ca.issue(tmp_path, ip="198.18.0.1")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("line", [b"203.0.113.9 kubernetes.default\n", b"203.0.113.9 other KUBERNETES.default # x\n",
                                  b"\t203.0.113.9\tkubernetes.default\r\n"])
def test_an_earlier_mapping_of_kubernetes_default_is_refused(mapped_server: HostileServer, node: Path,
                                                             cluster_ca: Authority, line: bytes,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    hosts = line + HOSTS
    (node / "etc/hosts").write_bytes(hosts)
    before = file_tree(node)
    code, errors = _join(mapped_server, node, cluster_ca.pin, capsys)
    assert code == 3, errors
    assert "maps names edgeadm is about to map elsewhere (line 1 " in errors
    assert "to 203.0.113.9" in errors and "remove or comment out those lines" in errors
    assert file_tree(node) == before and (node / "etc/hosts").read_bytes() == hosts


def test_the_same_mapping_elsewhere_is_no_conflict_and_reset_restores_hosts_byte_for_byte(
        mapped_server: HostileServer, node: Path, cluster_ca: Authority, capsys: pytest.CaptureFixture[str]) -> None:
    hosts = b"127.0.0.1 kubernetes.default\n#198.18.0.9 kubernetes.default\n" + HOSTS
    (node / "etc/hosts").write_bytes(hosts)
    before = file_tree(node)
    code, errors = _join(mapped_server, node, cluster_ca.pin, capsys)
    assert code == 0, errors
    assert b"\n127.0.0.1 kubernetes.default\n# end edgeadm" in (node / "etc/hosts").read_bytes()
    assert main(["reset", "--root", str(node), "--force"]) == 0
    assert file_tree(node) == before


def test_an_edge_info_name_mapped_elsewhere_is_refused(server: HostileServer, node: Path, cluster_ca: Authority,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    hosts = HOSTS + b"\n198.18.0.77 mirror.edge.local\n"
    (node / "etc/hosts").write_bytes(hosts)
    server.answers[EDGE_INFO] = (200, config_map("edge-info", _edge_info(cluster_ca)))
    before = file_tree(node)
    code, errors = _join(server, node, cluster_ca.pin, capsys)
    assert code == 3, errors
    assert "maps mirror.edge.local to 198.18.0.77" in errors
    assert file_tree(node) == before


# --- the Status of a token read is never trusted beyond its shape ---------------------------------------------------

def test_config_map_values_that_are_not_strings_are_dropped(server: HostileServer, node: Path, cluster_ca: Authority,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    server.answers[EDGE_INFO] = (200, config_map("edge-info", {"edge-virtual-addr": ["169.254.20.11"],
                                                               "host-config": {"a": 1}}))
    code, errors = _join(server, node, cluster_ca.pin, capsys)
    assert code == 0, errors
    assert json.dumps(["169.254.20.11"]) not in (node / "etc/hosts").read_text("latin-1")


def test_answers_of_another_shape_are_taken_as_nothing(server: HostileServer, node: Path, cluster_ca: Authority,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    server.answers["/api/v1/nodes/edge-1"] = (200, [{"status": "Ready"}])
    server.answers[EDGE_INFO] = (200, b"[" * 100_000)  # nested deeper than a JSON parser goes
    code, errors = _join(server, node, cluster_ca.pin, capsys)
    assert code == 0, errors
    assert "unexpected" not in errors


def test_an_answer_too_large_for_an_api_server_is_refused(server: HostileServer, node: Path, cluster_ca: Authority,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    server.answers[EDGE_INFO] = (200, config_map("edge-info", {"host-config": "x" * (17 << 20)}))
    errors = _refused(server, node, cluster_ca.pin, capsys)
    assert "the answer is larger than 16 MiB" in errors
