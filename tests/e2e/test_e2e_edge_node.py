"""End to end: a real kubelet joins through edgeadm over an address the API server certificate does not name.

The node is a network namespace reached through a veth pair from 198.18.0.0/15 and a forwarder to the API
server; its own mount namespace overlays /etc, /usr/bin, /opt and /var/lib, so edgeadm runs exactly as on a
real node (no --root) and the machine's files stay as they were. containerd and runc come from Debian; the
pod sandbox and the workload are images built here (hack/images.py).
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clusterkit import admin_request, create_node_kubelet_config, run_plugin, succeeded, wait_for

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "hack"))
import build_binaries  # noqa: E402
import edgenode  # noqa: E402
import images  # noqa: E402
import localcluster  # noqa: E402
import node_tools  # noqa: E402

NODE = "edge1"



@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[localcluster.LocalCluster]:
    with localcluster.running(tmp_path_factory.mktemp("e2e") / "cluster", "bare") as running:
        yield running


def _describe(cluster: Any) -> str:
    pod = admin_request(cluster, "/api/v1/namespaces/default/pods/hello-edge").body
    events = admin_request(cluster, "/api/v1/namespaces/default/events").body.get("items", [])
    return json.dumps(pod.get("status"), indent=1) + "\n" + "\n".join(
        f"{e.get('reason')}: {e.get('message')}" for e in events[-15:])


def _node_ready(cluster: Any) -> dict[str, Any] | None:
    node = admin_request(cluster, f"/api/v1/nodes/{NODE}")
    if node.status != 200:
        return None
    conditions = {c["type"]: c["status"] for c in (node.body.get("status") or {}).get("conditions", [])}
    return node.body if conditions.get("Ready") == "True" else None


def test_a_kubelet_joins_by_an_address_the_certificate_does_not_name(cluster: Any, tmp_path: Path) -> None:
    edgenode.install_node_packages()
    made = images.build(tmp_path / "images")
    create_node_kubelet_config(cluster)
    succeeded(run_plugin(cluster.kubeconfig, "addon", *edgenode.LOCAL_IMAGE_VALUES))
    package = tmp_path / "kube-linux-amd64.tar.gz"
    kubelet = str(build_binaries.binary_dir() / "kubelet")
    crictl = str(node_tools.ensure_built() / "crictl")
    succeeded(run_plugin(cluster.kubeconfig, "package", "build", "--kubelet", kubelet, "--cni", "/usr/lib/cni",
                         "--binary", crictl, "-o", str(package)))
    edgeadm = tmp_path / "edgeadm"
    succeeded(run_plugin(cluster.kubeconfig, "installer", "-o", str(edgeadm)))

    started = time.monotonic()
    with edgenode.running_node(NODE, tmp_path / "node", cluster.api_port, list(made.values())) as node:
        original_hosts = node.run(["cat", "/etc/hosts"]).stdout
        created = json.loads(succeeded(run_plugin(
            cluster.kubeconfig, "token", "create", "--print-join-command", "-o", "json",
            "--public-address", f"{node.host_ip}:{cluster.api_port}", "--install-pkg-path", str(package))).stdout)
        assert created["strategy"] == "hosts-mapping", "the certificate does not name the node's view of the server"
        line = created["joinCommand"]
        argv = shlex.split(line)
        assert argv[:2] == ["./edgeadm", "join"]
        joined = node.run([sys.executable, str(edgeadm), *argv[1:], "--node-name", NODE], check=False)
        assert joined.returncode == 0, f"{joined.stdout}\n{joined.stderr}\n{node.kubelet_log()}"
        assert "This node has joined the cluster" in joined.stdout + joined.stderr

        ready = wait_for(lambda: _node_ready(cluster), timeout=120, interval=1)
        assert ready, f"node {NODE} did not turn Ready:\n{node.kubelet_log()}"
        labels = ready["metadata"]["labels"]
        assert labels["superedge.io/node-edge"] == "enable"
        assert labels["superedge.io/edge-node"] == "enable"
        assert labels["superedge.io.hostname"] == NODE
        assert f"{node.host_ip} kubernetes.default" in node.run(["cat", "/etc/hosts"]).stdout

        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hello-edge", "namespace": "default"},
               "spec": {"nodeSelector": {"superedge.io/edge-node": "enable"},
                        "automountServiceAccountToken": False, "terminationGracePeriodSeconds": 1,
                        "containers": [{"name": "hello", "image": images.HELLO_IMAGE, "imagePullPolicy": "Never",
                                        "args": ["hello from kubectl-edge"]}]}}
        assert admin_request(cluster, "/api/v1/namespaces/default/pods", method="POST", body=pod).status == 201
        running = wait_for(lambda: (admin_request(cluster, "/api/v1/namespaces/default/pods/hello-edge").body
                                    .get("status") or {}).get("phase") == "Running", timeout=120, interval=1)
        assert running, f"the pod did not run:\n{_describe(cluster)}\n{node.kubelet_log(filter_errors=True)}"
        logs = wait_for(lambda: "hello from kubectl-edge" in cluster.kubectl(
            "logs", "-n", "default", "hello-edge", check=False).stdout, timeout=30, interval=1)
        attempt = cluster.kubectl("logs", "-n", "default", "hello-edge", check=False)
        assert logs, f"kubectl logs read the pod's line through the API server and the kubelet: {attempt.stderr}"

        runtime = [crictl, "--runtime-endpoint", f"unix://{edgenode.CONTAINERD_SOCKET}"]
        assert json.loads(node.run([*runtime, "pods", "-o", "json"]).stdout)["items"], "the pod runs in containerd"
        reset = node.run([sys.executable, str(edgeadm), "reset", "--force"], check=False)
        assert reset.returncode == 0, f"{reset.stdout}\n{reset.stderr}"
        assert json.loads(node.run([*runtime, "pods", "-o", "json"]).stdout)["items"] == [], \
            "reset removed the pods kubelet started, through the CRI"
        assert node.run(["test", "-e", "/usr/bin/crictl"], check=False).returncode != 0, "reset removed crictl too"
        assert node.run(["cat", "/etc/hosts"]).stdout == original_hosts
        assert node.run(["systemctl", "is-active", "kubelet"], check=False).stdout.strip() == "inactive"
    duration = time.monotonic() - started
    print(f"e2e: join, Ready, pod logs and reset took {duration:.0f} s")

    assert edgenode.leftovers(NODE) == []
    cluster.kubectl("delete", "pod", "-n", "default", "hello-edge", "--force", "--grace-period=0", check=False)
    cluster.kubectl("delete", "node", NODE)
    succeeded(run_plugin(cluster.kubeconfig, "detach", "--force"))
    assert admin_request(cluster, "/api/v1/namespaces/kube-public/configmaps/cluster-info").status == 404
