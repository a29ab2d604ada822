"""End to end on a cluster whose client CA is not its serving CA (the layout of k3s and RKE2).

The API server's serving certificate comes from a server CA (the one kubeconfigs and cluster-info carry),
every client certificate from a separate client CA: the admin's, the API server's own kubelet-client
certificate, and the ones the controller manager issues to kubelets. A kubelet that trusted only
cluster-info's CA would answer the API server 401, so logs and exec would fail. Here addon refuses the client
CA as --ca-cert and changes nothing; a real kubelet joins, turns Ready and runs a pod whose logs and exec work;
status reaches the kubelet, and says what to do when the kubelet stops trusting the client CA; reset leaves
the node as it was. It runs on the newest and on the oldest supported minor (control plane and kubelet).
"""

from __future__ import annotations

import json
import select
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clusterkit import (
    admin_request,
    audit_mark,
    create_node_kubelet_config,
    diff_snapshots,
    persisted_writes_since,
    required_oldest_binary_dir,
    run_plugin,
    snapshot,
    succeeded,
    wait_for,
)

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "hack"))
import build_binaries  # noqa: E402
import edgenode  # noqa: E402
import images  # noqa: E402
import localcluster  # noqa: E402

NODE = "edge-split"
POD = "hello-split"
CLIENT_CA_COPY = "/etc/kubernetes/pki/kubelet-client-ca.crt"
#: The node's addresses (198.18.<index>.1/.2), apart from those of the other end-to-end tests.
NODE_INDEX = 9


def _binaries(minor: str) -> Path:
    if minor == "newest":
        return build_binaries.binary_dir()
    return required_oldest_binary_dir()


@pytest.fixture(scope="module", params=["newest", "oldest"])
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[localcluster.LocalCluster]:
    bin_dir = _binaries(request.param)
    with localcluster.running(tmp_path_factory.mktemp("e2e-split") / "cluster", "bare", pki="split",
                              bin_dir=bin_dir) as running:
        yield running


def _node_ready(cluster: Any) -> dict[str, Any] | None:
    node = admin_request(cluster, f"/api/v1/nodes/{NODE}")
    if node.status != 200:
        return None
    conditions = {c["type"]: c["status"] for c in (node.body.get("status") or {}).get("conditions", [])}
    return node.body if conditions.get("Ready") == "True" else None


def _exec_output(cluster: Any, timeout: float = 30.0) -> str:
    """The first line ``kubectl exec`` prints (the workload prints one line, then waits forever), or its error."""
    process = subprocess.Popen([cluster.binary("kubectl"), "--kubeconfig", cluster.kubeconfig, "exec", "-n",
                                "default", POD, "--", "/hello", "exec works"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stderr is not None
        readable, _, _ = select.select([process.stdout, process.stderr], [], [], timeout)
        if process.stdout in readable:
            return process.stdout.readline()
        if process.stderr in readable:
            return "error: " + process.stderr.read()
        return "(nothing within the timeout)"
    finally:
        process.kill()
        process.wait()


def _kubelet_access(cluster: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    document = json.loads(succeeded(run_plugin(cluster.kubeconfig, "status", "-o", "json")).stdout)
    return document["kubeletAccess"], document["problems"]


def test_split_ca_cluster_logs_and_exec_work_on_a_joined_edge_node(cluster: Any, tmp_path: Path) -> None:
    pki = Path(cluster.dir) / "pki"
    # The client CA as --ca-cert is refused, naming the CA that did sign the serving certificate; nothing changes.
    before, mark = snapshot(cluster), audit_mark(cluster)
    refused = run_plugin(cluster.kubeconfig, "addon", "--ca-cert", str(pki / "client-ca.crt"),
                         "--ca-key", str(pki / "client-ca.key"))
    assert refused.returncode == 1, refused.stderr
    assert "does not verify the certificate the API server" in refused.stderr
    assert "CN=kubernetes-server-ca" in refused.stderr
    assert persisted_writes_since(cluster, mark) == []
    assert diff_snapshots(before, snapshot(cluster)) == []

    edgenode.install_node_packages()
    made = images.build(tmp_path / "images")
    create_node_kubelet_config(cluster)
    added = succeeded(run_plugin(cluster.kubeconfig, "addon", *edgenode.LOCAL_IMAGE_VALUES))
    assert "client CA" in added.stdout + added.stderr
    published = admin_request(cluster, "/api/v1/namespaces/kube-system/configmaps/kubectl-edge-kubelet-client-ca")
    assert published.status == 200
    assert published.body["data"]["ca.crt"].strip() == (pki / "client-ca.crt").read_text().strip()

    package = tmp_path / "kube-linux-amd64.tar.gz"
    kubelet = str(Path(cluster.bin_dir) / "kubelet")
    succeeded(run_plugin(cluster.kubeconfig, "package", "build", "--kubelet", kubelet, "--cni", "/usr/lib/cni",
                         "-o", str(package)))
    edgeadm = tmp_path / "edgeadm"
    succeeded(run_plugin(cluster.kubeconfig, "installer", "-o", str(edgeadm)))

    started = time.monotonic()
    with edgenode.running_node(NODE, tmp_path / "node", cluster.api_port, list(made.values()),
                               index=NODE_INDEX) as node:
        original_hosts = node.run(["cat", "/etc/hosts"]).stdout
        created = json.loads(succeeded(run_plugin(
            cluster.kubeconfig, "token", "create", "--print-join-command", "-o", "json",
            "--public-address", f"{node.host_ip}:{cluster.api_port}", "--install-pkg-path", str(package))).stdout)
        argv = shlex.split(created["joinCommand"])
        joined = node.run([sys.executable, str(edgeadm), *argv[1:], "--node-name", NODE], check=False)
        assert joined.returncode == 0, f"{joined.stdout}\n{joined.stderr}\n{node.kubelet_log()}"
        assert "client CA is not its serving CA" in joined.stdout + joined.stderr
        assert node.run(["cat", CLIENT_CA_COPY]).stdout.strip() == (pki / "client-ca.crt").read_text().strip()

        ready = wait_for(lambda: _node_ready(cluster), timeout=120, interval=1)
        assert ready, f"node {NODE} did not turn Ready:\n{node.kubelet_log()}"
        # The kubelet's client certificate comes from the client CA (the controller manager signs with it).
        csrs = admin_request(cluster, "/apis/certificates.k8s.io/v1/certificatesigningrequests").body["items"]
        assert any(c["spec"]["username"].startswith("system:bootstrap:") and (c.get("status") or {}).get("certificate")
                   for c in csrs)

        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": POD, "namespace": "default"},
               "spec": {"nodeSelector": {"superedge.io/edge-node": "enable"},
                        "automountServiceAccountToken": False, "terminationGracePeriodSeconds": 1,
                        "containers": [{"name": "hello", "image": images.HELLO_IMAGE, "imagePullPolicy": "Never",
                                        "args": ["hello from a split-CA cluster"]}]}}
        assert admin_request(cluster, "/api/v1/namespaces/default/pods", method="POST", body=pod).status == 201
        running = wait_for(lambda: (admin_request(cluster, f"/api/v1/namespaces/default/pods/{POD}").body
                                    .get("status") or {}).get("phase") == "Running", timeout=120, interval=1)
        assert running, f"the pod did not run:\n{node.kubelet_log(filter_errors=True)}"
        logs = wait_for(lambda: "hello from a split-CA cluster" in cluster.kubectl(
            "logs", "-n", "default", POD, check=False).stdout, timeout=30, interval=1)
        attempt = cluster.kubectl("logs", "-n", "default", POD, check=False)
        assert logs, f"kubectl logs through the API server and the kubelet: {attempt.stderr}"
        executed = _exec_output(cluster)
        assert executed.startswith("exec works on"), executed

        accesses, problems = _kubelet_access(cluster)
        assert {"node": NODE, "result": "ok", "status": 200, "detail": ""} in accesses
        assert not [p for p in problems if p["check"].startswith("kubelet-")], problems

        # A kubelet that trusts only the serving CA answers the API server 401: status says so and what to do.
        joined_copy = node.run(["cat", CLIENT_CA_COPY]).stdout
        node.run(["cp", "/etc/kubernetes/pki/ca.crt", CLIENT_CA_COPY])
        node.run(["systemctl", "restart", "kubelet"])
        rejected = wait_for(lambda: [p for p in _kubelet_access(cluster)[1]
                                     if p["check"] == "kubelet-rejects-api-server"], timeout=90, interval=2)
        assert rejected, node.kubelet_log(filter_errors=True)
        assert rejected[0]["objects"] == [NODE] and "401" in rejected[0]["message"]
        assert "client-ca-file" in rejected[0]["hint"]
        node.run(["sh", "-c", 'printf %s "$1" > "$2"', "restore", joined_copy, CLIENT_CA_COPY])
        node.run(["systemctl", "restart", "kubelet"])

        reset = node.run([sys.executable, str(edgeadm), "reset", "--force"], check=False)
        assert reset.returncode == 0, f"{reset.stdout}\n{reset.stderr}"
        assert node.run(["cat", "/etc/hosts"]).stdout == original_hosts
        assert node.run(["test", "-e", CLIENT_CA_COPY], check=False).returncode != 0
    version = admin_request(cluster, "/version").body["gitVersion"]
    print(f"e2e split CA ({version}): join, Ready, pod, logs, exec, status and reset took "
          f"{time.monotonic() - started:.0f} s")

    assert edgenode.leftovers(NODE) == []
    cluster.kubectl("delete", "pod", "-n", "default", POD, "--force", "--grace-period=0", check=False)
    cluster.kubectl("delete", "node", NODE)
    succeeded(run_plugin(cluster.kubeconfig, "detach", "--force"))
    assert admin_request(cluster, "/api/v1/namespaces/kube-system/configmaps/kubectl-edge-kubelet-client-ca"
                         ).status == 404
