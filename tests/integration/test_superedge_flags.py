"""SuperEdge's edgeadm flags where its users type them, against the real local cluster."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from clusterkit import (
    admin_request,
    audit_mark,
    persisted_writes_since,
    random_token,
    run_plugin,
    succeeded,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from edge_protocol import token as bootstrap_token

PKI_ENV = "KUBECTL_EDGE_KUBEADM_PKI"


def _dry_run(cluster: Any, *args: str, pki: Path) -> dict[str, Any]:
    result = succeeded(run_plugin(cluster.kubeconfig, "addon", "--dry-run", "-o", "json", *args,
                                  extra_env={PKI_ENV: str(pki)}))
    plan: dict[str, Any] = json.loads(result.stdout)
    return plan


def _sans(pem: str) -> tuple[list[str], list[str]]:
    names = x509.load_pem_x509_certificate(pem.encode()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    return names.get_values_for_type(x509.DNSName), [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]


def _other_ca(directory: Path) -> None:
    import datetime

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "another-cluster")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    directory.mkdir()
    (directory / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "ca.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))


def test_kubeadm_ca_files_are_the_default_only_when_they_are_the_clusters(bare_cluster: Any, tmp_path: Path) -> None:
    mark = audit_mark(bare_cluster)
    kubeadm_pki = tmp_path / "pki"
    kubeadm_pki.mkdir()
    shutil.copy(bare_cluster.ca_cert, kubeadm_pki / "ca.crt")
    shutil.copy(bare_cluster.ca_key, kubeadm_pki / "ca.key")
    plan = _dry_run(bare_cluster, pki=kubeadm_pki)
    assert any(f"--ca-key {kubeadm_pki / 'ca.key'}" in note for note in plan["notes"]), plan["notes"]
    lite = plan["helmValues"]["liteApiserver"]["cert"]
    assert lite, "the lite-apiserver certificate is made with the default CA key"
    issuer = x509.load_pem_x509_certificate(lite.encode()).issuer
    assert issuer == x509.load_pem_x509_certificate(Path(bare_cluster.ca_cert).read_bytes()).subject

    # Another cluster's CA in kubeadm's place: not used, and said so.
    other = tmp_path / "other"
    _other_ca(other)
    plan = _dry_run(bare_cluster, pki=other)
    assert plan["helmValues"]["liteApiserver"]["cert"] == ""
    assert any("is not the cluster's CA certificate" in note for note in plan["notes"]), plan["notes"]

    # No files there: nothing said, nothing made.
    plan = _dry_run(bare_cluster, pki=tmp_path / "absent")
    assert plan["helmValues"]["liteApiserver"]["cert"] == ""
    assert not any("ca.key" in note for note in plan["notes"])
    assert persisted_writes_since(bare_cluster, mark) == []


def test_superedge_addon_flags_map_onto_the_chart(bare_cluster: Any, tmp_path: Path) -> None:
    plan = _dry_run(bare_cluster, "--certSANs", "tunnel.example.test,198.18.7.7", "--certSANs", "edge.example.test",
                    "--edge-version", "0.9.1", "--edge-image-repository", "registry.example.test/mirror",
                    "--edge-virtual-addr", "169.254.20.42", "--ca.key", bare_cluster.ca_key, pki=tmp_path)
    values = plan["helmValues"]
    dns, ips = _sans(values["tunnelCloud"]["serverCert"])
    assert {"tunnel.example.test", "edge.example.test"} <= set(dns)
    assert "198.18.7.7" in ips
    assert values["images"]["tunnel"] == {"repository": "registry.example.test/mirror/tunnel", "tag": "v0.9.1"}
    assert values["images"]["applicationGridWrapper"]["tag"] == "v0.9.1"
    assert values["images"]["coredns"] == {"repository": "registry.example.test/mirror/coredns"}
    assert values["edgeVirtualAddr"] == "169.254.20.42"
    assert "169.254.20.42" in _sans(values["liteApiserver"]["cert"])[1]
    rendered = plan["rendered"]
    assert "image: registry.example.test/mirror/tunnel:v0.9.1" in rendered
    assert "bind 169.254.20.42" in rendered


def test_bad_superedge_flags_are_refused_before_any_request(bare_cluster: Any, tmp_path: Path) -> None:
    mark = audit_mark(bare_cluster)
    for args, words in ((("--edge-virtual-addr", "not-an-ip"), "is not an IP address"),
                        (("--edge-virtual-addr", "127.0.0.1"), "link-local"),
                        (("--edge-version", "v0.9.0; rm -rf /"), "is not an image tag"),
                        (("--edge-image-repository", "https://registry.example.test"), "not an image repository")):
        result = run_plugin(bare_cluster.kubeconfig, "addon", *args, extra_env={PKI_ENV: str(tmp_path)})
        assert result.returncode == 2, result
        assert words in result.stderr, result.stderr
    assert persisted_writes_since(bare_cluster, mark) == []


def test_detach_accepts_superedge_flags_and_says_they_are_not_needed(bare_cluster: Any) -> None:
    mark = audit_mark(bare_cluster)
    result = succeeded(run_plugin(bare_cluster.kubeconfig, "detach", "--dry-run", "--ca.cert", bare_cluster.ca_cert,
                                  "--ca.key", bare_cluster.ca_key, "--master-public-addr", "198.18.0.9",
                                  "--certSANs", "a.example.test"))
    assert "--ca.cert, --ca.key, --master-public-addr, --certSANs: not needed" in result.stderr
    assert persisted_writes_since(bare_cluster, mark) == []


def test_token_generate_and_list_jsonpath_as_in_kubeadm(bare_cluster: Any) -> None:
    mark = audit_mark(bare_cluster)
    generated = succeeded(run_plugin(bare_cluster.kubeconfig, "token", "generate")).stdout.strip()
    assert bootstrap_token.parse_token(generated).value == generated  # the whole output is one token
    assert persisted_writes_since(bare_cluster, mark, "kubectl-edge/") == []

    token_id, secret = random_token()
    body = {"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
            "metadata": {"name": f"bootstrap-token-{token_id}", "namespace": "kube-system"},
            "stringData": {"token-id": token_id, "token-secret": secret, "usage-bootstrap-authentication": "true",
                           "description": "jsonpath test"}}
    path = "/api/v1/namespaces/kube-system/secrets"
    assert admin_request(bare_cluster, path, method="POST", body=body).status == 201
    try:
        result = succeeded(run_plugin(bare_cluster.kubeconfig, "token", "list", "-o",
                                      'jsonpath={.token}{" "}{.description}{" "}{.usages[*]}{"\\n"}'))
        assert f"{token_id}.{secret} jsonpath test authentication\n" in result.stdout
        result = succeeded(run_plugin(bare_cluster.kubeconfig, "token", "list", "-o", "jsonpath={.kind}{\"\\n\"}"))
        assert "BootstrapToken\n" in result.stdout
        bad = run_plugin(bare_cluster.kubeconfig, "token", "list", "-o", "jsonpath={.token")
        assert bad.returncode == 2 and "unclosed" in bad.stderr
        bad = run_plugin(bare_cluster.kubeconfig, "token", "list", "-o", "xml")
        assert bad.returncode == 2 and "jsonpath=TEMPLATE" in bad.stderr
    finally:
        admin_request(bare_cluster, f"{path}/bootstrap-token-{token_id}", method="DELETE")
