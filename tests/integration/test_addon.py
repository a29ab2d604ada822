"""kubectl edge addon and detach against real control planes: effects, idempotence, exact revert, bad input."""

from __future__ import annotations

import base64
import datetime
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
    diff_snapshots,
    persisted_writes_since,
    random_token,
    request,
    run_plugin,
    settled_differences,
    snapshot,
    succeeded,
    wait_for,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hack"))
import localcluster

PREREQUISITES = [
    "/api/v1/namespaces/kube-public/configmaps/cluster-info",
    "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-public/roles/kubeadm:bootstrap-signer-clusterinfo",
    "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-public/rolebindings/kubeadm:bootstrap-signer-clusterinfo",
    "/api/v1/namespaces/kube-system/configmaps/kubeadm-config",
    "/api/v1/namespaces/kube-system/configmaps/kubelet-config",
    "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/roles/kubeadm:nodes-kubeadm-config",
    "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/rolebindings/kubeadm:nodes-kubeadm-config",
    "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/roles/kubeadm:kubelet-config",
    "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/rolebindings/kubeadm:kubelet-config",
    "/apis/rbac.authorization.k8s.io/v1/clusterroles/kubeadm:get-nodes",
    "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/kubeadm:get-nodes",
    "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/kubeadm:kubelet-bootstrap",
    "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/kubeadm:node-autoapprove-bootstrap",
    "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/kubeadm:node-autoapprove-certificate-rotation",
]
DEFAULT_GROUP = "system:bootstrappers:kubeadm:default-node-token"
STATE = "/api/v1/namespaces/kube-system/configmaps/kubectl-edge"


@pytest.fixture
def fresh_bare(tmp_path: Path) -> Iterator[localcluster.LocalCluster]:
    """A cluster of this test's own, for tests that change cluster-wide objects."""
    with localcluster.running(tmp_path / "cluster", "bare") as cluster:
        yield cluster


@pytest.fixture
def fresh_kubeadm(tmp_path: Path) -> Iterator[localcluster.LocalCluster]:
    """A kubeadm-flavoured cluster of this test's own."""
    with localcluster.running(tmp_path / "cluster", "kubeadm") as cluster:
        yield cluster




def _create_token(cluster: Any) -> tuple[str, str]:
    token_id, secret = random_token()
    body = {"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
            "metadata": {"name": f"bootstrap-token-{token_id}", "namespace": "kube-system"},
            "stringData": {"token-id": token_id, "token-secret": secret, "usage-bootstrap-authentication": "true",
                           "usage-bootstrap-signing": "true", "auth-extra-groups": DEFAULT_GROUP}}
    assert admin_request(cluster, "/api/v1/namespaces/kube-system/secrets", method="POST", body=body).status == 201
    return token_id, secret


def _node_csr(node: str) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
        x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{node}")])).sign(key, hashes.SHA256())
    return base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()


def test_bare_addon_makes_a_joinable_cluster_and_detach_restores_it(fresh_bare) -> None:  # type: ignore[no-untyped-def]
    cluster = fresh_bare
    before = snapshot(cluster)
    succeeded(run_plugin(cluster.kubeconfig, "addon"))
    for path in PREREQUISITES:
        live = admin_request(cluster, path)
        assert live.status == 200, path
        assert live.body["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kubectl-edge", path
    kubelet = yaml.safe_load(admin_request(cluster, PREREQUISITES[4]).body["data"]["kubelet"])
    assert kubelet["clusterDNS"] == ["198.19.0.10"] and kubelet["clusterDomain"] == "cluster.local"
    kubeadm = yaml.safe_load(admin_request(cluster, PREREQUISITES[3]).body["data"]["ClusterConfiguration"])
    server = admin_request(cluster, "/version").body["gitVersion"]
    # The configuration version kubeadm of that release stores (the tests run the oldest minor too).
    assert kubeadm["apiVersion"] == localcluster.kubeadm_api_version(server)
    assert kubeadm["networking"]["serviceSubnet"] == "198.19.0.0/20"
    assert kubeadm["kubernetesVersion"] == server
    findings = json.loads(admin_request(cluster, STATE).body["data"]["preflight"])
    # What preflight measured (this cluster's controller manager signs cluster-info and cleans expired tokens).
    assert findings == {"server_version": server, "signer": True, "cleaner": True}

    # Idempotence: the second run sends no write of any kind, neither kubectl-edge nor helm.
    mark = audit_mark(cluster)
    succeeded(run_plugin(cluster.kubeconfig, "addon"))
    events = [e for e in (json.loads(line) for line in Path(cluster.audit_log).read_text().splitlines()[mark:])
              if e.get("userAgent", "").startswith(("kubectl-edge/", "Helm/"))]
    assert not [e for e in events if e["verb"] in ("create", "update", "patch", "delete")]

    # What a joining node does with a bootstrap token now works.
    token_id, secret = _create_token(cluster)
    cluster_info = "/api/v1/namespaces/kube-public/configmaps/cluster-info"
    signed = wait_for(lambda: f"jws-kubeconfig-{token_id}" in (
        request(cluster.server, cluster_info, ca_file=cluster.ca_cert).body.get("data") or {}), timeout=30)
    assert signed, "anonymous read of a signed cluster-info"
    bearer = f"{token_id}.{secret}"
    for path in (PREREQUISITES[3], PREREQUISITES[4]):
        assert request(cluster.server, path, ca_file=cluster.ca_cert, token=bearer).status == 200, path
    csr = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
           "metadata": {"name": f"node-csr-{token_id}"},
           "spec": {"request": _node_csr("edge-a"), "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
                    "usages": ["digital signature", "client auth"]}}
    posted = request(cluster.server, "/apis/certificates.k8s.io/v1/certificatesigningrequests",
                     ca_file=cluster.ca_cert, token=bearer, method="POST", body=csr)
    assert posted.status == 201, posted.body
    issued = wait_for(lambda: (admin_request(
        cluster, f"/apis/certificates.k8s.io/v1/certificatesigningrequests/node-csr-{token_id}").body.get("status")
        or {}).get("certificate"), timeout=30)
    assert issued, "the CSR was auto-approved and signed"
    admin_request(cluster, f"/api/v1/namespaces/kube-system/secrets/bootstrap-token-{token_id}", method="DELETE")

    succeeded(run_plugin(cluster.kubeconfig, "detach"))
    assert settled_differences(cluster, before) == []
    mark = audit_mark(cluster)
    succeeded(run_plugin(cluster.kubeconfig, "detach"))
    assert persisted_writes_since(cluster, mark) == []


def test_preflight_finds_a_controller_manager_that_neither_signs_nor_cleans(tmp_path: Path) -> None:
    with localcluster.running(tmp_path / "cluster", "bare", signer=False) as cluster:
        before = snapshot(cluster)
        result = succeeded(run_plugin(cluster.kubeconfig, "addon"))
        assert "bootstrap signer: not running; kubectl-edge signs cluster-info itself" in result.stderr
        assert "token cleaner: not running" in result.stderr
        findings = json.loads(admin_request(cluster, STATE).body["data"]["preflight"])
        assert (findings["signer"], findings["cleaner"]) == (False, False)
        # The probe tokens are gone even though no cleaner runs.
        secrets = admin_request(cluster, "/api/v1/namespaces/kube-system/secrets").body["items"]
        assert not [s for s in secrets if s["type"] == "bootstrap.kubernetes.io/token"]
        succeeded(run_plugin(cluster.kubeconfig, "detach"))
        assert settled_differences(cluster, before) == []


def test_detach_removes_the_signatures_kubectl_edge_made_in_an_existing_cluster_info(tmp_path: Path) -> None:
    """Without a signer, kubectl-edge signs the owner's cluster-info; detach takes those signatures out again."""
    with localcluster.running(tmp_path / "cluster", "kubeadm", signer=False) as cluster:
        before = snapshot(cluster)
        succeeded(run_plugin(cluster.kubeconfig, "addon"))
        made = json.loads(succeeded(run_plugin(cluster.kubeconfig, "token", "create", "-o", "json")).stdout)
        info = admin_request(cluster, "/api/v1/namespaces/kube-public/configmaps/cluster-info").body
        assert f"jws-kubeconfig-{made['id']}" in info["data"], "kubectl-edge signed it"
        succeeded(run_plugin(cluster.kubeconfig, "detach"))
        assert settled_differences(cluster, before) == []


def _edit_configmap_text(cluster: Any, name: str, key: str, edit: Any) -> str:
    path = f"/api/v1/namespaces/kube-system/configmaps/{name}"
    body = admin_request(cluster, path).body
    body["data"][key] = edit(body["data"][key])
    assert admin_request(cluster, path, method="PUT", body=body).status == 200
    return str(body["data"][key])


def _drop_lines(*prefixes: str) -> Any:
    return lambda text: "".join(line for line in text.splitlines(keepends=True) if not line.startswith(prefixes))


def test_kubeadm_cluster_gets_only_missing_fields_recorded_and_reverted(fresh_kubeadm) -> None:  # type: ignore[no-untyped-def]
    cluster = fresh_kubeadm
    # The owner's objects differ from what kubectl-edge would write and lack a few fields.
    owner_kubelet = _edit_configmap_text(cluster, "kubelet-config", "kubelet",
                                         _drop_lines("rotateCertificates:", "staticPodPath:"))
    owner_kubeadm = _edit_configmap_text(cluster, "kubeadm-config", "ClusterConfiguration",
                                         _drop_lines("controlPlaneEndpoint:"))
    before = snapshot(cluster)

    succeeded(run_plugin(cluster.kubeconfig, "addon"))
    after = snapshot(cluster)
    kubelet_key = "/api/v1/configmaps kube-system/kubelet-config"
    kubeadm_key = "/api/v1/configmaps kube-system/kubeadm-config"
    kubelet_text = after[kubelet_key]["data"]["kubelet"]
    assert kubelet_text.startswith(owner_kubelet), "the owner's bytes are kept"
    added = yaml.safe_load(kubelet_text[len(owner_kubelet):])
    assert added == {"rotateCertificates": True, "staticPodPath": "/etc/kubernetes/manifests"}
    kubeadm_text = after[kubeadm_key]["data"]["ClusterConfiguration"]
    assert kubeadm_text.startswith(owner_kubeadm)
    assert list(yaml.safe_load(kubeadm_text[len(owner_kubeadm):])) == ["controlPlaneEndpoint"]
    # Nothing else that existed was touched (kube-proxy gets the node affinity that keeps it off edge nodes);
    # cluster-info keeps kubeadm's server.
    kube_proxy_key = "/apis/apps/v1/daemonsets kube-system/kube-proxy"
    # default/kubernetes' Endpoints and EndpointSlice (the API server's) get SuperEdge's local-endpoint annotations.
    endpoint_keys = ["/api/v1/endpoints default/kubernetes",
                     "/apis/discovery.k8s.io/v1/endpointslices default/kubernetes"]
    changed = [key for key in before.keys() & after.keys() if before[key] != after[key]]
    assert sorted(changed) == sorted([kubelet_key, kubeadm_key, kube_proxy_key, *endpoint_keys])
    assert "https://localhost:" in after["/api/v1/configmaps kube-public/cluster-info"]["data"]["kubeconfig"]
    # What is new is kubectl-edge's record, its edge-system namespace and CRDs, and the release's objects.
    for key in sorted(after.keys() - before.keys()):
        metadata = after[key]["metadata"]
        managed = (metadata.get("labels") or {}).get("app.kubernetes.io/managed-by")
        assert metadata.get("namespace") == "edge-system" or managed in ("kubectl-edge", "Helm"), key
    inventory = json.loads(after["/api/v1/configmaps kube-system/kubectl-edge"]["data"]["inventory"])
    assert sorted((c["kind"], c["name"]) for c in inventory["created"]) == [
        ("CustomResourceDefinition", "deploymentgrids.superedge.io"),
        ("CustomResourceDefinition", "servicegrids.superedge.io"),
        ("CustomResourceDefinition", "statefulsetgrids.superedge.io"), ("Namespace", "edge-system")]
    assert {(p["name"], tuple(sorted(c["path"] for c in p["changes"]))) for p in inventory["patches"]} == {
        ("kubelet-config", ("/data/kubelet",)), ("kubeadm-config", ("/data/ClusterConfiguration",)),
        ("kube-proxy", ("/spec/template/spec/affinity",)), ("kubernetes", ("/metadata/annotations",))}
    for patch in inventory["patches"]:
        assert patch["forward"][0]["op"] == "test" and patch["inverse"][0]["op"] == "test"

    succeeded(run_plugin(cluster.kubeconfig, "detach"))
    assert settled_differences(cluster, before) == []


def test_detach_leaves_a_field_the_owner_changed_and_says_so(fresh_kubeadm) -> None:  # type: ignore[no-untyped-def]
    cluster = fresh_kubeadm
    _edit_configmap_text(cluster, "kubelet-config", "kubelet", _drop_lines("rotateCertificates:"))
    _edit_configmap_text(cluster, "kubeadm-config", "ClusterConfiguration", _drop_lines("controlPlaneEndpoint:"))
    before = snapshot(cluster)
    succeeded(run_plugin(cluster.kubeconfig, "addon"))
    owner_edit = _edit_configmap_text(cluster, "kubelet-config", "kubelet",
                                      lambda text: text.replace("rotateCertificates: true", "rotateCertificates: no"))
    result = succeeded(run_plugin(cluster.kubeconfig, "detach"))
    assert "kube-system/kubelet-config /data/kubelet: changed since addon" in result.stderr
    after = snapshot(cluster)
    assert after["/api/v1/configmaps kube-system/kubelet-config"]["data"]["kubelet"] == owner_edit
    key = "/api/v1/configmaps kube-system/kubeadm-config"
    assert after[key] == before[key], "the unchanged patch was reverted"
    assert STATE.rsplit("/", 1)[1] not in {k.rsplit("/", 1)[1] for k in after if "configmaps" in k}


def test_detach_refuses_while_nodes_carry_the_edge_label(fresh_bare) -> None:  # type: ignore[no-untyped-def]
    cluster = fresh_bare
    succeeded(run_plugin(cluster.kubeconfig, "addon"))
    node = {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "edge-7", "labels": {"superedge.io/node-edge": "enable"}}}
    assert admin_request(cluster, "/api/v1/nodes", method="POST", body=node).status == 201
    before = snapshot(cluster)
    mark = audit_mark(cluster)
    refused = run_plugin(cluster.kubeconfig, "detach")
    assert refused.returncode == 3
    assert "edge-7" in refused.stderr and "--force" in refused.stderr
    assert persisted_writes_since(cluster, mark) == []
    assert diff_snapshots(before, snapshot(cluster)) == []
    succeeded(run_plugin(cluster.kubeconfig, "detach", "--force"))
    for path in PREREQUISITES:
        assert admin_request(cluster, path).status == 404, path
    assert admin_request(cluster, "/api/v1/nodes/edge-7").status == 200, "nodes are not detach's to delete"


def _normalised_result(cluster: Any) -> dict[str, Any]:
    """The cluster after addon, with the record's uids and the preflight findings set aside."""
    objects = snapshot(cluster)
    for key, item in objects.items():
        item["metadata"].pop("uid", None)
        if key.endswith("kube-system/kubectl-edge"):
            inventory = json.loads(item["data"]["inventory"])
            for entry in inventory["created"]:
                entry.pop("uid", None)
            item["data"] = {"inventory": inventory, "keys": sorted(item["data"])}
    return objects


def test_addon_killed_after_each_write_resumes_and_detach_restores(fresh_bare) -> None:  # type: ignore[no-untyped-def]
    """Preflight and prerequisites; the components phase has a test of its own (helm makes it slow)."""
    cluster = fresh_bare
    original = snapshot(cluster)
    mark = audit_mark(cluster)
    succeeded(run_plugin(cluster.kubeconfig, "addon", "--skip-phases", "components"))
    total_writes = len(persisted_writes_since(cluster, mark))
    reference = _normalised_result(cluster)
    succeeded(run_plugin(cluster.kubeconfig, "detach"))
    assert settled_differences(cluster, original) == []
    assert total_writes > 10

    for kill_after in range(1, total_writes):
        fault = {"KUBECTL_EDGE_FAULT_KILL_AFTER_WRITES": str(kill_after)}
        killed = run_plugin(cluster.kubeconfig, "addon", "--skip-phases", "components", extra_env=fault)
        assert killed.returncode == -9, f"k={kill_after}: {killed.stderr}"
        succeeded(run_plugin(cluster.kubeconfig, "detach"))
        assert settled_differences(cluster, original) == [], f"detach after a kill at write {kill_after}"

        killed = run_plugin(cluster.kubeconfig, "addon", "--skip-phases", "components", extra_env=fault)
        assert killed.returncode == -9
        succeeded(run_plugin(cluster.kubeconfig, "addon", "--skip-phases", "components"))
        assert _normalised_result(cluster) == reference, f"addon resumed after a kill at write {kill_after}"
        succeeded(run_plugin(cluster.kubeconfig, "detach"))
        assert settled_differences(cluster, original) == [], f"detach after a resumed addon (k={kill_after})"


# --- bad input: a clear message, a non-zero exit, nothing changed ---------------------------------------------

def test_unreachable_cluster(tmp_path: Path, bare_cluster) -> None:  # type: ignore[no-untyped-def]
    config = json.loads(Path(bare_cluster.kubeconfig).read_text())
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{localcluster.free_port()}"
    kubeconfig = tmp_path / "unreachable"
    kubeconfig.write_text(json.dumps(config))
    result = run_plugin(str(kubeconfig), "addon")
    assert result.returncode == 1
    assert "cannot reach the API server" in result.stderr and "hint:" in result.stderr
    assert "Traceback" not in result.stderr


def _user_kubeconfig(cluster: Any, tmp_path: Path, user: str) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    ca_cert = x509.load_pem_x509_certificate(Path(cluster.ca_cert).read_bytes())
    ca_key = serialization.load_pem_private_key(Path(cluster.ca_key).read_bytes(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1)).not_valid_after(now + datetime.timedelta(hours=1))
            .sign(ca_key, hashes.SHA256()))  # type: ignore[arg-type]
    config = json.loads(Path(cluster.kubeconfig).read_text())
    config["users"][0]["user"] = {
        "client-certificate-data": base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode(),
        "client-key-data": base64.b64encode(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())).decode()}
    path = tmp_path / f"{user}.kubeconfig"
    path.write_text(json.dumps(config))
    return str(path)


def test_user_without_the_rights_is_told_which_ones_and_nothing_changes(tmp_path: Path, bare_cluster) -> None:  # type: ignore[no-untyped-def]
    user = "viewer-" + random_token()[0]
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": f"test-{user}"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]}
    assert admin_request(bare_cluster, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", method="POST",
                         body=binding).status == 201
    kubeconfig = _user_kubeconfig(bare_cluster, tmp_path, user)
    try:
        before = snapshot(bare_cluster)
        mark = audit_mark(bare_cluster)
        result = run_plugin(kubeconfig, "addon")
        assert result.returncode == 3, result.stderr
        assert "lacks permissions" in result.stderr
        assert "create configmaps in namespace kube-public" in result.stderr
        assert "create clusterrolebindings (cluster-wide)" in result.stderr
        assert "hint:" in result.stderr
        assert persisted_writes_since(bare_cluster, mark) == []
        assert diff_snapshots(before, snapshot(bare_cluster)) == []
    finally:
        admin_request(bare_cluster, f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/test-{user}",
                      method="DELETE")


def test_cluster_rejecting_bootstrap_tokens_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    root = tmp_path / "no-bootstrap-auth"
    cluster = localcluster.start(root, "bare", bootstrap_token_auth=False)
    try:
        before = snapshot(cluster)
        mark = audit_mark(cluster)
        result = run_plugin(cluster.kubeconfig, "addon")
        assert result.returncode == 3, result.stderr
        assert "does not accept bootstrap tokens" in result.stderr and "hint:" in result.stderr
        # The probe token is the one measurement that must write: it is created, then deleted.
        writes = persisted_writes_since(cluster, mark)
        assert {(e["verb"], e["objectRef"]["resource"]) for e in writes} == {("create", "secrets"),
                                                                              ("delete", "secrets")}
        assert diff_snapshots(before, snapshot(cluster)) == []
    finally:
        localcluster.stop(root)


@pytest.mark.parametrize(("args", "expected", "code"), [
    (["--public-address", "api.example.invalid:6443"], "does not name api.example.invalid", 3),
    (["--skip-phases", "preflight,bogus"], "unknown phase(s) in --skip-phases: bogus", 1),
    (["--ca-cert", "/nonexistent/ca.crt"], "cannot read --ca-cert /nonexistent/ca.crt", 1),
    (["--public-address", "http://[::1"], "--public-address", 1),
    (["edge-things"], "unknown target", 2),
])
def test_bad_flags_change_nothing(bare_cluster, args: list[str], expected: str, code: int) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(bare_cluster)
    mark = audit_mark(bare_cluster)
    result = run_plugin(bare_cluster.kubeconfig, "addon", *args)
    assert result.returncode == code, result.stderr
    assert expected in result.stderr
    assert persisted_writes_since(bare_cluster, mark) == []
    assert diff_snapshots(before, snapshot(bare_cluster)) == []


def test_a_ca_key_that_does_not_belong_to_the_ca_is_refused(tmp_path: Path, bare_cluster) -> None:  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    stray = tmp_path / "stray.key"
    stray.write_bytes(rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    mark = audit_mark(bare_cluster)
    result = run_plugin(bare_cluster.kubeconfig, "addon", "--ca-cert", bare_cluster.ca_cert, "--ca-key", str(stray))
    assert result.returncode == 1
    assert "is not the key of the CA certificate" in result.stderr
    assert persisted_writes_since(bare_cluster, mark) == []


def test_dry_run_prints_the_plan_and_changes_nothing(bare_cluster) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(bare_cluster)
    mark = audit_mark(bare_cluster)
    result = succeeded(run_plugin(bare_cluster.kubeconfig, "addon", "--dry-run", "-o", "json"))
    plan = json.loads(result.stdout)
    assert plan["dryRun"] is True
    actions = {(o["kind"], o["namespace"], o["name"]): o["action"] for o in plan["objects"]}
    assert actions[("ConfigMap", "kube-system", "kubelet-config")] == "create"
    assert actions[("Namespace", None, "kube-public")] == "keep"
    assert persisted_writes_since(bare_cluster, mark) == []
    assert diff_snapshots(before, snapshot(bare_cluster)) == []


def _foreign_ca(tmp_path: Path, common_name: str) -> tuple[Path, Path]:
    """A CA (and its key) that did not sign the API server's certificate, such as a cluster's client CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=30))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / f"{common_name}.crt", tmp_path / f"{common_name}.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_a_ca_that_did_not_sign_the_serving_certificate_is_refused_and_nothing_changes(  # type: ignore[no-untyped-def]
        tmp_path: Path, bare_cluster) -> None:
    client_ca, client_key = _foreign_ca(tmp_path, "cluster-client-ca")
    before = snapshot(bare_cluster)
    mark = audit_mark(bare_cluster)
    result = run_plugin(bare_cluster.kubeconfig, "addon", "--ca-cert", str(client_ca), "--ca-key", str(client_key))
    assert result.returncode == 1, result.stderr
    assert f"the CA certificate from --ca-cert {client_ca} does not verify the certificate the API server" \
        in result.stderr
    # The hint names the CA that did sign it (the local cluster's CA is CN=kubernetes).
    assert "its issuer: CN=kubernetes" in result.stderr
    assert persisted_writes_since(bare_cluster, mark) == []
    assert diff_snapshots(before, snapshot(bare_cluster)) == []


def test_a_ca_key_without_ca_cert_is_checked_against_the_kubeconfigs_ca(tmp_path: Path, bare_cluster) -> None:  # type: ignore[no-untyped-def]
    _, stray_key = _foreign_ca(tmp_path, "stray")
    mark = audit_mark(bare_cluster)
    result = run_plugin(bare_cluster.kubeconfig, "addon", "--ca-key", str(stray_key))
    assert result.returncode == 1
    assert "is not the key of the CA certificate from the kubeconfig" in result.stderr
    assert "no --ca-cert was given, so the CA is the kubeconfig's (CN=kubernetes)" in result.stderr
    assert "belongs to --ca-cert" not in result.stderr
    assert persisted_writes_since(bare_cluster, mark) == []


def test_the_api_server_names_its_service_range_to_a_dry_run_and_stores_nothing(bare_cluster) -> None:  # type: ignore[no-untyped-def]
    from kubectl_edge.addon.facts import kubernetes_service_ip, range_by_dry_run
    from kubectl_edge.cluster.client import connect
    from kubectl_edge.cluster.kubeconfig import ConnectionOverrides

    before = snapshot(bare_cluster)
    with connect(ConnectionOverrides(kubeconfig=bare_cluster.kubeconfig)) as cluster:
        cluster_ip = kubernetes_service_ip(cluster)
        assert cluster_ip == localcluster.KUBERNETES_SERVICE_IP
        assert range_by_dry_run(cluster, cluster_ip) == localcluster.SERVICE_CIDR
        assert cluster.writes == 0
    assert diff_snapshots(before, snapshot(bare_cluster)) == []
