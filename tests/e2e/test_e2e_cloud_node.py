"""End to end: one cluster for central and edge nodes, with kubeadm itself as the peer client.

A cloud node (hack/cloudnode.py: hack/edgenode.py's simulated node with kubeadm's packages) joins the real
kubeadm's way, ``kubeadm join`` with a token from ``kubectl edge token create``, against a cluster that
``kubectl edge addon`` prepared; labelled as a control-plane/cloud node, the chart's ``cloudPlacement`` puts
its central components there. The same kind of node also joins by ``edgeadm join --cloud``.
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
import cloudnode  # noqa: E402
import edgenode  # noqa: E402
import images  # noqa: E402
import localcluster  # noqa: E402
import node_tools  # noqa: E402

#: The kubelet cgroup root of this module's nodes (they run one after the other), as the cluster owner sets it.
CGROUP_ROOT = "kubectl-edge-e2e-cloud"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[localcluster.LocalCluster]:
    with localcluster.running(tmp_path_factory.mktemp("e2e-cloud") / "cluster", "bare") as running:
        yield running


@pytest.fixture(scope="module")
def prepared(cluster: localcluster.LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The nodes' images, the cluster owner's kubelet configuration, and addon run."""
    edgenode.install_node_packages()
    made = images.build(tmp_path_factory.mktemp("images"))
    create_node_kubelet_config(cluster, f"cgroupRoot: /{CGROUP_ROOT}\n")
    succeeded(run_plugin(cluster.kubeconfig, "addon", *edgenode.LOCAL_IMAGE_VALUES))
    return made


def _node(cluster: Any, name: str) -> dict[str, Any] | None:
    answer = admin_request(cluster, f"/api/v1/nodes/{name}")
    return answer.body if answer.status == 200 else None


def _ready(cluster: Any, name: str) -> dict[str, Any] | None:
    node = _node(cluster, name)
    conditions = {c["type"]: c["status"] for c in ((node or {}).get("status") or {}).get("conditions", [])}
    return node if conditions.get("Ready") == "True" else None


def _label_as_cloud_node(cluster: Any, name: str) -> None:
    """What the cluster owner does for a central node (kubeadm's mark-control-plane sets the role label too)."""
    patch = {"metadata": {"labels": cloudnode.CLOUD_NODE_LABELS}}
    answer = admin_request(cluster, f"/api/v1/nodes/{name}", method="PATCH", body=patch,
                           content_type="application/strategic-merge-patch+json")
    assert answer.status == 200, answer.body


def _pod(name: str, node: str, message: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": node, "automountServiceAccountToken": False, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "hello", "image": images.HELLO_IMAGE, "imagePullPolicy": "Never",
                                     "args": [message]}]}}


def _phase(cluster: Any, name: str) -> str:
    return str((admin_request(cluster, f"/api/v1/namespaces/default/pods/{name}").body.get("status") or {})
               .get("phase", ""))


def _crictl_pods(node: cloudnode.CloudNode) -> list[Any]:
    crictl = str(node_tools.ensure_built() / "crictl")
    listed = node.run([crictl, "--runtime-endpoint", cloudnode.CRI_SOCKET, "pods", "-o", "json"]).stdout
    return list(json.loads(listed)["items"])


def _join_token(cluster: Any) -> dict[str, Any]:
    return dict(json.loads(succeeded(run_plugin(
        cluster.kubeconfig, "token", "create", "--print-join-command", "-o", "json")).stdout))


def _cloud_placement_keys(cluster: Any) -> set[str]:
    """The node labels tunnel-cloud's node affinity asks for."""
    deployment = admin_request(cluster, "/apis/apps/v1/namespaces/edge-system/deployments/tunnel-cloud").body
    terms = deployment["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    return {expression["key"] for term in terms for expression in term["matchExpressions"]}


def _scheduled_like_tunnel_cloud(cluster: Any, probe: str) -> str | None:
    """Where the scheduler puts a pod with tunnel-cloud's pod template (the local cluster runs no Deployment
    controller, so the probe stands in for the Deployment's pod); the probe is deleted again."""
    deployment = admin_request(cluster, "/apis/apps/v1/namespaces/edge-system/deployments/tunnel-cloud").body
    spec = {**deployment["spec"]["template"]["spec"], "terminationGracePeriodSeconds": 0}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": probe, "namespace": "edge-system"}, "spec": spec}
    assert admin_request(cluster, "/api/v1/namespaces/edge-system/pods", method="POST", body=pod).status == 201
    try:
        return wait_for(lambda: admin_request(cluster, f"/api/v1/namespaces/edge-system/pods/{probe}").body
                        .get("spec", {}).get("nodeName"), timeout=60, interval=0.5)
    finally:
        cluster.kubectl("delete", "pod", "-n", "edge-system", probe, "--force", "--grace-period=0", check=False)


def test_kubeadm_joins_a_cloud_node_with_a_token_from_kubectl_edge(
        cluster: Any, prepared: dict[str, Path], tmp_path: Path) -> None:
    name = "cloud-kubeadm"
    created = _join_token(cluster)
    timings: dict[str, float] = {}
    with cloudnode.running_node(name, tmp_path / "node", cluster.api_port, list(prepared.values()),
                                cgroup_root=CGROUP_ROOT) as node:
        node.install_kubeadm(build_binaries.binary_dir(), node_tools.ensure_built() / "crictl")
        started = time.monotonic()
        joined = node.kubeadm_join(created["token"], created["caCertHashes"][0])
        timings["kubeadm join"] = time.monotonic() - started
        output = joined.stdout + joined.stderr
        assert joined.returncode == 0, f"{output[-6000:]}\n{node.kubelet_log()}"
        assert "This node has joined the cluster" in output
        # The only check skipped is the one this machine cannot pass; kubeadm says so by a warning.
        assert "[ERROR" not in output and "[WARNING SystemVerification]" in output
        ready = wait_for(lambda: _ready(cluster, name), timeout=120, interval=1)
        timings["Ready"] = time.monotonic() - started
        assert ready, f"node {name} did not turn Ready:\n{node.kubelet_log()}"
        assert ready["status"]["addresses"][0] == {"type": "InternalIP", "address": node.node_ip}
        config = node.run(["cat", "/var/lib/kubelet/config.yaml"]).stdout
        assert f"cgroupRoot: /{CGROUP_ROOT}" in config, "the kubelet has the node's own cgroup root"
        assert "superedge.io/node-edge" not in ready["metadata"].get("labels", {})

        # addon ran before the cluster had a control-plane node, so the central components went to any node
        # without the edge label; run again with this node labelled, it gives them the chart's own
        # cloudPlacement (control-plane nodes), and the scheduler puts them on this node.
        _label_as_cloud_node(cluster, name)
        again = succeeded(run_plugin(cluster.kubeconfig, "addon", *edgenode.LOCAL_IMAGE_VALUES))
        assert "no control-plane nodes" not in again.stdout + again.stderr
        assert _cloud_placement_keys(cluster) == {"node-role.kubernetes.io/control-plane",
                                                  "node-role.kubernetes.io/master"}
        assert _scheduled_like_tunnel_cloud(cluster, "placement-kubeadm") == name, \
            "the chart's cloudPlacement puts tunnel-cloud on the kubeadm-joined cloud node"

        assert admin_request(cluster, "/api/v1/namespaces/default/pods", method="POST",
                             body=_pod("hello-cloud", name, "hello from a kubeadm node")).status == 201
        assert wait_for(lambda: _phase(cluster, "hello-cloud") == "Running", timeout=120, interval=1), \
            node.kubelet_log(filter_errors=True)
        assert wait_for(lambda: "hello from a kubeadm node" in cluster.kubectl(
            "logs", "-n", "default", "hello-cloud", check=False).stdout, timeout=30, interval=1)
        pod_cgroups = [p for h in cloudnode.cgroup_hierarchies() for p in (h / CGROUP_ROOT / "kubepods").glob("*")]
        assert pod_cgroups, "the pods run below the node's own cgroup root"

        started = time.monotonic()
        reset = node.kubeadm_reset()
        timings["kubeadm reset"] = time.monotonic() - started
        assert reset.returncode == 0, f"{reset.stdout}\n{reset.stderr}"
        assert _crictl_pods(node) == [], "kubeadm reset removed the pods through the CRI"
        assert node.run(["systemctl", "is-active", "kubelet"], check=False).stdout.strip() == "inactive"
        for path in ("/etc/kubernetes/kubelet.conf", "/etc/kubernetes/pki/ca.crt", "/var/lib/kubelet/config.yaml"):
            assert node.run(["test", "-e", path], check=False).returncode != 0, f"kubeadm reset left {path}"
    print("\ne2e cloud node: " + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in timings.items()))

    assert cloudnode.leftovers(node) == []
    cluster.kubectl("delete", "pod", "-n", "default", "hello-cloud", "--force", "--grace-period=0", check=False)
    cluster.kubectl("delete", "node", name)


def test_edgeadm_joins_a_cloud_node(cluster: Any, prepared: dict[str, Path], tmp_path: Path) -> None:
    name = "cloud-edgeadm"
    package = tmp_path / "kube-linux-amd64.tar.gz"
    crictl = str(node_tools.ensure_built() / "crictl")
    succeeded(run_plugin(cluster.kubeconfig, "package", "build", "--kubelet",
                         str(build_binaries.binary_dir() / "kubelet"), "--cni", "/usr/lib/cni", "--binary", crictl,
                         "-o", str(package)))
    edgeadm = tmp_path / "edgeadm"
    succeeded(run_plugin(cluster.kubeconfig, "installer", "-o", str(edgeadm)))
    # Another index than the first test's node: a forwarder's listener lingers until its accepting thread ends.
    with cloudnode.running_node(name, tmp_path / "node", cluster.api_port, list(prepared.values()), index=2,
                                cgroup_root=CGROUP_ROOT) as node:
        hosts_before = node.run(["cat", "/etc/hosts"]).stdout
        created = json.loads(succeeded(run_plugin(
            cluster.kubeconfig, "token", "create", "--print-join-command", "-o", "json",
            "--public-address", f"{node.host_ip}:{cluster.api_port}", "--install-pkg-path", str(package))).stdout)
        argv = shlex.split(created["joinCommand"])
        joined = node.run([sys.executable, str(edgeadm), *argv[1:], "--cloud", "--node-name", name], check=False)
        output = joined.stdout + joined.stderr
        assert joined.returncode == 0, f"{output}\n{node.kubelet_log()}"
        assert "edge autonomy is off: cloud nodes (--cloud) talk to the API server directly" in output
        ready = wait_for(lambda: _ready(cluster, name), timeout=120, interval=1)
        assert ready, f"node {name} did not turn Ready:\n{node.kubelet_log()}"
        labels = ready["metadata"]["labels"]
        assert labels.get("superedge.io/node-cloud") == "enable"
        assert "superedge.io/node-edge" not in labels and "superedge.io/edge-node" not in labels
        assert node.run(["systemctl", "is-active", "lite-apiserver"], check=False).stdout.strip() != "active"
        kubelet_conf = node.run(["cat", "/etc/kubernetes/kubelet.conf"]).stdout
        assert "169.254.20.11" not in kubelet_conf, "the cloud node's kubelet talks to the API server directly"

        _label_as_cloud_node(cluster, name)
        assert _scheduled_like_tunnel_cloud(cluster, "placement-edgeadm") == name
        assert admin_request(cluster, "/api/v1/namespaces/default/pods", method="POST",
                             body=_pod("hello-edgeadm-cloud", name, "hello from an edgeadm cloud node")).status == 201
        assert wait_for(lambda: _phase(cluster, "hello-edgeadm-cloud") == "Running", timeout=120, interval=1), \
            node.kubelet_log(filter_errors=True)

        reset = node.run([sys.executable, str(edgeadm), "reset", "--force"], check=False)
        assert reset.returncode == 0, f"{reset.stdout}\n{reset.stderr}"
        assert _crictl_pods(node) == [], "edgeadm reset removed the pods through the CRI"
        assert node.run(["cat", "/etc/hosts"]).stdout == hosts_before
        assert node.run(["systemctl", "is-active", "kubelet"], check=False).stdout.strip() == "inactive"
    assert cloudnode.leftovers(node) == []
    cluster.kubectl("delete", "pod", "-n", "default", "hello-edgeadm-cloud", "--force", "--grace-period=0",
                    check=False)
    cluster.kubectl("delete", "node", name)
    succeeded(run_plugin(cluster.kubeconfig, "detach", "--force"))
