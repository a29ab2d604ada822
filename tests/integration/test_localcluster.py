"""The local control plane behaves like a real cluster in the ways every later feature relies on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from clusterkit import admin_request, random_token, request, wait_for

REPO = Path(__file__).resolve().parents[2]


def _running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting to be reaped by whoever inherited it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _bootstrap_secret(token_id: str, secret: str, expiration: str | None = None) -> dict[str, object]:
    data = {"token-id": token_id, "token-secret": secret, "usage-bootstrap-authentication": "true",
            "usage-bootstrap-signing": "true"}
    if expiration:
        data["expiration"] = expiration
    return {"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
            "metadata": {"name": f"bootstrap-token-{token_id}", "namespace": "kube-system"}, "stringData": data}


def _ensure_cluster_info(cluster) -> None:  # type: ignore[no-untyped-def]
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cluster-info", "namespace": "kube-public"},
            "data": {"kubeconfig": "apiVersion: v1\nkind: Config\nclusters: []\n"}}
    response = admin_request(cluster, "/api/v1/namespaces/kube-public/configmaps", method="POST", body=body)
    assert response.status in (201, 409), response.body


def _signature(cluster, token_id: str) -> str | None:  # type: ignore[no-untyped-def]
    response = admin_request(cluster, "/api/v1/namespaces/kube-public/configmaps/cluster-info")
    return (response.body.get("data") or {}).get(f"jws-kubeconfig-{token_id}")


def test_readyz_and_server_version(bare_cluster) -> None:  # type: ignore[no-untyped-def]
    assert bare_cluster.kubectl("get", "--raw", "/readyz").stdout.strip() == "ok"
    versions = json.loads(bare_cluster.kubectl("version", "-o", "json").stdout)
    assert versions["serverVersion"]["gitVersion"].startswith("v1.37.")
    assert versions["clientVersion"]["gitVersion"].startswith("v1.37.")


def test_bootstrap_signer_signs_cluster_info(bare_cluster) -> None:  # type: ignore[no-untyped-def]
    _ensure_cluster_info(bare_cluster)
    token_id, secret = random_token()
    created = admin_request(bare_cluster, "/api/v1/namespaces/kube-system/secrets", method="POST",
                            body=_bootstrap_secret(token_id, secret))
    assert created.status == 201, created.body
    assert wait_for(lambda: _signature(bare_cluster, token_id), timeout=30)


def test_no_signer_never_signs_and_never_cleans(nosigner_cluster) -> None:  # type: ignore[no-untyped-def]
    _ensure_cluster_info(nosigner_cluster)
    token_id, secret = random_token()
    expired = "2020-01-01T00:00:00Z"
    created = admin_request(nosigner_cluster, "/api/v1/namespaces/kube-system/secrets", method="POST",
                            body=_bootstrap_secret(token_id, secret, expired))
    assert created.status == 201, created.body
    # The signer acts within a second or two when it runs; give it ten times that.
    assert wait_for(lambda: _signature(nosigner_cluster, token_id), timeout=20) is None
    still_there = admin_request(nosigner_cluster, f"/api/v1/namespaces/kube-system/secrets/bootstrap-token-{token_id}")
    assert still_there.status == 200


def test_token_cleaner_deletes_expired_tokens(bare_cluster) -> None:  # type: ignore[no-untyped-def]
    token_id, secret = random_token()
    created = admin_request(bare_cluster, "/api/v1/namespaces/kube-system/secrets", method="POST",
                            body=_bootstrap_secret(token_id, secret, "2020-01-01T00:00:00Z"))
    assert created.status == 201
    path = f"/api/v1/namespaces/kube-system/secrets/bootstrap-token-{token_id}"
    assert wait_for(lambda: admin_request(bare_cluster, path).status == 404, timeout=30)


def test_anonymous_reads_cluster_info_once_its_role_exists(bare_cluster) -> None:  # type: ignore[no-untyped-def]
    _ensure_cluster_info(bare_cluster)
    path = "/api/v1/namespaces/kube-public/configmaps/cluster-info"
    assert request(bare_cluster.server, path, ca_file=bare_cluster.ca_cert).status == 403
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "test-anonymous-cluster-info", "namespace": "kube-public"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["cluster-info"],
                       "verbs": ["get"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "test-anonymous-cluster-info", "namespace": "kube-public"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                           "name": "test-anonymous-cluster-info"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:anonymous"}]}
    base = "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-public"
    assert admin_request(bare_cluster, f"{base}/roles", method="POST", body=role).status == 201
    assert admin_request(bare_cluster, f"{base}/rolebindings", method="POST", body=binding).status == 201
    try:
        allowed = wait_for(lambda: request(bare_cluster.server, path, ca_file=bare_cluster.ca_cert).status == 200,
                           timeout=10)
        assert allowed
    finally:
        admin_request(bare_cluster, f"{base}/rolebindings/test-anonymous-cluster-info", method="DELETE")
        admin_request(bare_cluster, f"{base}/roles/test-anonymous-cluster-info", method="DELETE")


def test_bootstrap_token_authenticates(nosigner_cluster) -> None:  # type: ignore[no-untyped-def]
    token_id, secret = random_token()
    assert admin_request(nosigner_cluster, "/api/v1/namespaces/kube-system/secrets", method="POST",
                         body=_bootstrap_secret(token_id, secret)).status == 201
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    response = request(nosigner_cluster.server, "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                       ca_file=nosigner_cluster.ca_cert, method="POST", body=review, token=f"{token_id}.{secret}")
    assert response.status == 201, response.body
    user = response.body["status"]["userInfo"]
    assert user["username"] == f"system:bootstrap:{token_id}"
    assert "system:bootstrappers" in user["groups"]


def test_audit_log_records_writes_with_user_agent(bare_cluster) -> None:  # type: ignore[no-untyped-def]
    name = "audit-probe-" + random_token()[0]
    bare_cluster.kubectl("create", "configmap", name, "-n", "default")
    events = [json.loads(line) for line in Path(bare_cluster.audit_log).read_text().splitlines()]
    mine = [e for e in events if e["verb"] == "create" and e["objectRef"].get("name") == name]
    assert len(mine) == 1 and mine[0]["userAgent"].startswith("kubectl/")
    assert not [e for e in events if e["verb"] in ("get", "list", "watch")]


def test_kubeadm_flavour_has_what_kubeadm_init_leaves(kubeadm_cluster) -> None:  # type: ignore[no-untyped-def]
    cluster_info = admin_request(kubeadm_cluster, "/api/v1/namespaces/kube-public/configmaps/cluster-info").body
    assert f"server: https://localhost:{kubeadm_cluster.api_port}" in cluster_info["data"]["kubeconfig"]
    admin = json.loads(Path(kubeadm_cluster.kubeconfig).read_text())
    assert admin["clusters"][0]["cluster"]["server"] == f"https://127.0.0.1:{kubeadm_cluster.api_port}"
    for path in ("/api/v1/namespaces/kube-system/configmaps/kubeadm-config",
                 "/api/v1/namespaces/kube-system/configmaps/kubelet-config",
                 "/api/v1/namespaces/kube-system/configmaps/kube-proxy",
                 "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy",
                 "/api/v1/namespaces/kube-system/services/kube-dns",
                 "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/kubeadm:kubelet-bootstrap",
                 "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/kubeadm:node-autoapprove-bootstrap",
                 "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-public/roles/kubeadm:bootstrap-signer-clusterinfo"):
        assert admin_request(kubeadm_cluster, path).status == 200, path
    dns = admin_request(kubeadm_cluster, "/api/v1/namespaces/kube-system/services/kube-dns").body
    assert dns["spec"]["clusterIP"] == "198.19.0.10"


def test_bare_flavour_has_none_of_it(bare_cluster) -> None:  # type: ignore[no-untyped-def]
    for path in ("/api/v1/namespaces/kube-system/configmaps/kubeadm-config",
                 "/api/v1/namespaces/kube-system/configmaps/kubelet-config",
                 "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/kubeadm:kubelet-bootstrap"):
        assert admin_request(bare_cluster, path).status == 404, path


@pytest.mark.parametrize(("binary", "args", "expected"), [
    ("helm3", ["version", "--short"], "v3."),
    ("helm4", ["version", "--short"], "v4."),
    ("kubectl", ["version", "--client", "-o", "json"], '"gitVersion": "v1.37.'),
    ("kubeadm", ["version", "-o", "short"], "v1.37."),
    ("kubelet", ["--version"], "Kubernetes v1.37."),
    ("kube-scheduler", ["--version"], "Kubernetes v1.37."),
    ("etcd", ["--version"], "etcd Version: 3."),
])
def test_cached_tools_print_real_versions(binary: str, args: list[str], expected: str) -> None:
    import build_binaries

    directory = build_binaries.binary_dir()
    output = subprocess.run([str(directory / binary), *args], capture_output=True, text=True, check=True).stdout
    assert expected in output
    assert "v0.0.0" not in output


def test_cli_up_env_down_leaves_no_process(tmp_path: Path) -> None:
    root = tmp_path / "cluster"
    tool = [sys.executable, str(REPO / "hack" / "localcluster.py")]
    up = subprocess.run([*tool, "up", "--dir", str(root), "--no-signer"], capture_output=True, text=True)
    assert up.returncode == 0, up.stderr
    pids = [int(p.read_text()) for p in (root / "run").glob("*.pid")]
    assert len(pids) == 4 and all(Path(f"/proc/{pid}").exists() for pid in pids)
    env_lines = subprocess.run([*tool, "env", "--dir", str(root)], capture_output=True, text=True, check=True).stdout
    assert f"KUBECONFIG={root / 'admin.kubeconfig'}" in env_lines
    kubectl = str(root / "tools" / "kubectl")
    ready = subprocess.run([kubectl, "--kubeconfig", str(root / "admin.kubeconfig"), "get", "--raw", "/readyz"],
                           capture_output=True, text=True)
    assert ready.stdout.strip() == "ok"
    down = subprocess.run([*tool, "down", "--dir", str(root)], capture_output=True, text=True)
    assert down.returncode == 0, down.stderr
    assert not root.exists()
    assert not [pid for pid in pids if _running(pid)]
    import localcluster

    flag = f"--advertise-address={localcluster.ADVERTISE_ADDRESS}".encode()
    advertising = [c for c in Path("/proc").glob("[0-9]*/cmdline")
                   if _readable(c) and flag in c.read_bytes().split(b"\0")]
    bridge = subprocess.run(["ip", "link", "show", "dev", localcluster.ADVERTISE_INTERFACE], capture_output=True)
    assert (bridge.returncode == 0) == bool(advertising), "the advertise bridge lives as long as a cluster uses it"


def _readable(path: Path) -> bool:
    try:
        path.read_bytes()
    except OSError:
        return False
    return True


def test_down_after_the_caller_died_stops_the_processes(tmp_path: Path) -> None:
    """A caller killed with SIGKILL leaves its cluster running; down still stops exactly it."""
    root = tmp_path / "orphan"
    tool = [sys.executable, str(REPO / "hack" / "localcluster.py")]
    # Start from a short-lived parent that dies hard as soon as the cluster is up.
    script = (f"import subprocess, os, signal; subprocess.run({[*tool, 'up', '--dir', str(root)]!r}, check=True);"
              " os.kill(os.getpid(), signal.SIGKILL)")
    subprocess.run([sys.executable, "-c", script], capture_output=True)
    pids = [int(p.read_text()) for p in (root / "run").glob("*.pid")]
    assert len(pids) == 4 and all(Path(f"/proc/{pid}").exists() for pid in pids)
    subprocess.run([*tool, "down", "--dir", str(root)], check=True, capture_output=True)
    assert not [pid for pid in pids if _running(pid)]
    assert not root.exists()


def test_every_component_sees_the_clusters_own_resolver_files(bare_cluster) -> None:  # type: ignore[no-untyped-def]
    import localcluster

    root = Path(bare_cluster.dir)
    for component in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        pid = int((root / "run" / f"{component}.pid").read_text())
        # /proc/PID/root is the process's view of the file system, its own mount namespace included.
        assert Path(f"/proc/{pid}/root/etc/resolv.conf").read_text() == (root / "etc" / "resolv.conf").read_text()
        assert "control-plane" in Path(f"/proc/{pid}/root/etc/hosts").read_text()
    assert (root / "etc" / "resolv.conf").read_text().startswith("nameserver 127.0.0.1\n")
    # kubeadm and other short-lived commands run through the same wrapper.
    seen = subprocess.run(localcluster.with_own_resolver(root, ["cat", "/etc/resolv.conf", "/etc/hosts"]),
                          capture_output=True, text=True, check=True).stdout
    assert seen.startswith("nameserver 127.0.0.1\n") and "127.0.0.1 localhost control-plane" in seen


def test_split_pki_cluster_has_a_server_ca_and_a_separate_client_ca(tmp_path: Path) -> None:
    import base64

    import localcluster
    from clusterkit import kubelet_client_csr
    from cryptography import x509

    with localcluster.running(tmp_path / "cluster", "bare", pki="split") as cluster:
        pki = Path(cluster.dir) / "pki"
        server_ca = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
        client_ca = x509.load_pem_x509_certificate((pki / "client-ca.crt").read_bytes())
        assert server_ca.subject != client_ca.subject
        assert cluster.client_ca_cert == str(pki / "client-ca.crt")
        serving = x509.load_pem_x509_certificate((pki / "apiserver.crt").read_bytes())
        serving.verify_directly_issued_by(server_ca)
        for leaf in ("admin", "apiserver-kubelet-client", "controller-manager", "scheduler"):
            x509.load_pem_x509_certificate((pki / f"{leaf}.crt").read_bytes()).verify_directly_issued_by(client_ca)
        # What the API server publishes as its client CA, where addon looks for it.
        published = admin_request(cluster, "/api/v1/namespaces/kube-system/configmaps/"
                                           "extension-apiserver-authentication").body["data"]["client-ca-file"]
        assert published.strip() == (pki / "client-ca.crt").read_text().strip()
        # Kubelet client certificates come from the client CA.
        body, name, _ = kubelet_client_csr("split-node")
        assert admin_request(cluster, "/apis/certificates.k8s.io/v1/certificatesigningrequests", method="POST",
                             body=body).status == 201
        approval = {**body, "metadata": {"name": name},
                    "status": {"conditions": [{"type": "Approved", "status": "True", "reason": "Test",
                                               "message": "approved by the test"}]}}
        assert admin_request(cluster, f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}/approval",
                             method="PUT", body=approval).status == 200

        def issued() -> str | None:
            csr = admin_request(cluster, f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}").body
            return (csr.get("status") or {}).get("certificate")

        certificate = wait_for(issued, timeout=30)
        assert certificate
        x509.load_pem_x509_certificate(base64.b64decode(certificate)).verify_directly_issued_by(client_ca)
