"""L4, edge autonomy: a kubelet behind SuperEdge's own lite-apiserver survives a cut link, a kubelet restart
and a reboot while cut off, and edgeadm reset leaves nothing.

The node is hack/edgenode.py's simulated edge node (its own network and mount namespaces, Debian's
containerd); the package carries the cache's kubelet and crictl and lite-apiserver from ``SUPEREDGE_BIN``;
addon gets the cluster CA's key, so edge-info carries lite-apiserver's certificate. The cloud link is cut with
iptables in the node's network namespace.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clusterkit import admin_request, create_node_kubelet_config, file_tree, run_plugin, succeeded, wait_for
from l4kit import superedge_binary

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "hack"))
import build_binaries  # noqa: E402
import edgenode  # noqa: E402
import images  # noqa: E402
import localcluster  # noqa: E402
import node_tools  # noqa: E402

NODE = "edge-l4"
VIRTUAL_ADDRESS = "169.254.20.11"
LITE_APISERVER = f"{VIRTUAL_ADDRESS}:51003"
CUT_SECONDS = 60
#: What the node's container runtime keeps (CNI's IP allocations) is the runtime's, not edgeadm's.
RUNTIME_STATE = ("var/lib/cni",)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[localcluster.LocalCluster]:
    with localcluster.running(tmp_path_factory.mktemp("l4-autonomy") / "cluster", "bare") as running:
        yield running


def _node(cluster: Any) -> dict[str, Any] | None:
    answer = admin_request(cluster, f"/api/v1/nodes/{NODE}")
    return answer.body if answer.status == 200 else None


def _ready(node: dict[str, Any] | None) -> bool:
    conditions = {c["type"]: c for c in ((node or {}).get("status") or {}).get("conditions", [])}
    return conditions.get("Ready", {}).get("status") == "True"


def _crictl(node: edgenode.EdgeNode, *args: str) -> str:
    crictl = str(node_tools.ensure_built() / "crictl")
    return node.run([crictl, "--runtime-endpoint", f"unix://{edgenode.CONTAINERD_SOCKET}", *args]).stdout


def _running_container(node: edgenode.EdgeNode) -> str | None:
    found = json.loads(_crictl(node, "ps", "--name", "hello", "--state", "Running", "-o", "json"))["containers"]
    return found[0]["id"] if found else None


def _kubelet_peers(node: edgenode.EdgeNode) -> set[str]:
    """The remote ends of kubelet's established TCP connections."""
    lines = node.run(["ss", "-Htnp", "state", "established"]).stdout.splitlines()
    return {line.split()[3] for line in lines if '"kubelet"' in line}


POD_LIST = """
import json, ssl, sys, urllib.request
context = ssl.create_default_context(cafile="/etc/kubernetes/pki/ca.crt")
pem = "/var/lib/kubelet/pki/kubelet-client-current.pem"
context.load_cert_chain(pem, pem)
url = "https://{address}/api/v1/pods?fieldSelector=spec.nodeName%3D{node}"
# lite-apiserver keys its cache by the client's User-Agent: ask as the kubelet asks.
request = urllib.request.Request(url, headers={{"User-Agent": "{agent}"}})
with urllib.request.urlopen(request, context=context, timeout=10) as answer:
    print(" ".join(item["metadata"]["name"] for item in json.load(answer)["items"]))
"""


def _pods_from_lite_apiserver(node: edgenode.EdgeNode) -> str:
    """The names of the node's pods as lite-apiserver answers kubelet's list, with kubelet's certificate."""
    agent = f"kubelet/{build_binaries.KUBERNETES_VERSION} (linux/amd64) kubernetes/unknown"
    script = POD_LIST.format(address=LITE_APISERVER, node=NODE, agent=agent)
    result = node.run([sys.executable, "-c", script], check=False)
    return result.stdout if result.returncode == 0 else f"(failed: {result.stderr[-500:]})"


def _logs(node: edgenode.EdgeNode) -> str:
    """The tails of kubelet's and lite-apiserver's logs and the runtime's view, for a failure's message."""
    lite = node.run(["sh", "-c", "tail -n 40 /run/mini-init/lite-apiserver.service.log"], check=False).stdout
    containers = _crictl(node, "ps", "-a")
    return (f"kubelet:\n{node.kubelet_log(80)}\nlite-apiserver:\n{lite}\ncontainers:\n{containers}")


def _same_as_lower(path: Path, entry: tuple[str, int, str]) -> bool:
    """Whether an upper-layer entry only repeats the machine's own (overlayfs copies a directory up when
    something below it is written, and a file restored byte for byte stays in the upper layer)."""
    if entry[0] == "dir":
        return path.is_dir() and not path.is_symlink()
    if entry[0] == "link":
        return path.is_symlink() and os.readlink(path) == entry[2]
    if not path.is_file() or path.is_symlink():
        return False
    return (stat.S_IMODE(path.stat().st_mode), hashlib.sha256(path.read_bytes()).hexdigest()) == entry[1:]


def _upper_trees(node: edgenode.EdgeNode) -> dict[str, tuple[str, int, str]]:
    """What the node wrote below each overlaid path, as it differs from the machine's own tree."""
    found = {}
    for path in edgenode.OVERLAID:
        for name, entry in file_tree(node.upper(path)).items():
            where = f"{path.strip('/')}/{name}"
            if not any(where.startswith(state) for state in RUNTIME_STATE) and \
                    not _same_as_lower(Path(path) / name, entry):
                found[where] = entry
    return found


def test_a_node_behind_lite_apiserver_survives_a_cut_link_a_kubelet_restart_and_a_reboot(
        cluster: Any, tmp_path: Path) -> None:
    lite_apiserver = superedge_binary("lite-apiserver")
    edgenode.install_node_packages()
    machine_before = {path: file_tree(Path(path)) if Path(path).exists() else None
                      for path in ("/data", "/var/log/pods")}
    machine_hosts = Path("/etc/hosts").read_bytes()
    made = images.build(tmp_path / "images")
    create_node_kubelet_config(cluster)
    pki = Path(cluster.dir) / "pki"
    succeeded(run_plugin(cluster.kubeconfig, "addon", "--ca-cert", str(pki / "ca.crt"), "--ca-key",
                         str(pki / "ca.key"), *edgenode.LOCAL_IMAGE_VALUES))
    package = tmp_path / "kube-linux-amd64.tar.gz"
    succeeded(run_plugin(cluster.kubeconfig, "package", "build", "--kubelet",
                         str(build_binaries.binary_dir() / "kubelet"), "--cni", "/usr/lib/cni", "--lite-apiserver",
                         str(lite_apiserver), "--binary", str(node_tools.ensure_built() / "crictl"),
                         "-o", str(package)))
    edgeadm = tmp_path / "edgeadm"
    succeeded(run_plugin(cluster.kubeconfig, "installer", "-o", str(edgeadm)))

    timings: dict[str, float] = {}
    with edgenode.running_node(NODE, tmp_path / "node", cluster.api_port, list(made.values()), index=20) as node:
        before_join = _upper_trees(node)
        created = json.loads(succeeded(run_plugin(
            cluster.kubeconfig, "token", "create", "--print-join-command", "-o", "json",
            "--public-address", f"{node.host_ip}:{cluster.api_port}", "--install-pkg-path", str(package))).stdout)
        argv = shlex.split(created["joinCommand"])

        started = time.monotonic()
        joined = node.run([sys.executable, str(edgeadm), *argv[1:], "--node-name", NODE], check=False)
        timings["join"] = time.monotonic() - started
        output = joined.stdout + joined.stderr
        assert joined.returncode == 0, f"{output}\n{node.kubelet_log()}"
        assert "edge autonomy is on" in output
        assert "WatchListClient=false" in output, "the reason for the kubelet's feature gate is shown"
        assert f"https://{LITE_APISERVER}" in node.run(["cat", "/etc/kubernetes/kubelet.conf"]).stdout

        started = time.monotonic()
        assert wait_for(lambda: _ready(_node(cluster)), timeout=120, interval=1), node.kubelet_log()
        timings["ready"] = time.monotonic() - started
        peers = _kubelet_peers(node)
        assert peers and peers <= {LITE_APISERVER}, f"kubelet talks only to lite-apiserver, not {peers}"

        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hello-edge", "namespace": "default"},
               "spec": {"nodeSelector": {"superedge.io/edge-node": "enable"},
                        "automountServiceAccountToken": False, "terminationGracePeriodSeconds": 1,
                        "containers": [{"name": "hello", "image": images.HELLO_IMAGE, "imagePullPolicy": "Never",
                                        "args": ["hello from an autonomous edge node"]}]}}
        assert admin_request(cluster, "/api/v1/namespaces/default/pods", method="POST", body=pod).status == 201
        container = wait_for(lambda: _running_container(node), timeout=120, interval=1)
        assert container, node.kubelet_log(filter_errors=True)
        # lite-apiserver has cached the node's pod list by now: the kubelet has watched it through it.
        time.sleep(5)

        # --- cut off -----------------------------------------------------------------------------------
        node.cut_off()
        started = time.monotonic()
        time.sleep(CUT_SECONDS)
        assert _running_container(node) == container, f"the pod's container keeps running while cut off\n{_logs(node)}"
        timings["cut"] = time.monotonic() - started

        started = time.monotonic()
        node.run(["systemctl", "restart", "kubelet"])
        time.sleep(20)
        assert node.run(["systemctl", "is-active", "kubelet"], check=False).stdout.strip() == "active"
        assert _running_container(node) == container, f"a kubelet restarted while cut off keeps the pod\n{_logs(node)}"
        cached = _pods_from_lite_apiserver(node)
        assert "hello-edge" in cached, f"lite-apiserver answers the pod list from its cache: {cached}\n{_logs(node)}"
        timings["kubelet restart"] = time.monotonic() - started

        started = time.monotonic()
        node.reboot()
        assert _running_container(node) is None, "the reboot took the pod's containers"
        back = wait_for(lambda: _running_container(node), timeout=180, interval=2)
        assert back and back != container, ("after a reboot while cut off the kubelet starts the pod again from "
                                            f"lite-apiserver's cache:\n{_logs(node)}")
        timings["reboot"] = time.monotonic() - started

        # --- the link comes back -----------------------------------------------------------------------
        node.reconnect()
        started = time.monotonic()

        def consistent() -> bool:
            current = admin_request(cluster, "/api/v1/namespaces/default/pods/hello-edge").body
            statuses = (current.get("status") or {}).get("containerStatuses") or [{}]
            return _ready(_node(cluster)) and statuses[0].get("containerID", "").endswith(back) and \
                bool(statuses[0].get("ready"))

        assert wait_for(consistent, timeout=180, interval=2), _logs(node)
        timings["restore"] = time.monotonic() - started

        # --- reset -------------------------------------------------------------------------------------
        reset = node.run([sys.executable, str(edgeadm), "reset", "--force"], check=False)
        assert reset.returncode == 0, f"{reset.stdout}\n{reset.stderr}"
        assert json.loads(_crictl(node, "pods", "-o", "json"))["items"] == [], "reset removed the pods"
        assert node.run(["ip", "link", "show", "tkeedgedns"], check=False).returncode != 0, "the interface is gone"
        for unit in ("kubelet", "lite-apiserver"):
            assert node.run(["systemctl", "is-active", unit], check=False).stdout.strip() == "inactive"
        after_reset = _upper_trees(node)
        changed = sorted(name for name in set(before_join) | set(after_reset)
                         if before_join.get(name) != after_reset.get(name))
        assert changed == [], f"reset left files on the node: {changed}"
    print("\nL4 autonomy timings: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items()))

    assert edgenode.leftovers(NODE) == []
    assert Path("/etc/hosts").read_bytes() == machine_hosts
    machine_after = {path: file_tree(Path(path)) if Path(path).exists() else None
                     for path in ("/data", "/var/log/pods")}
    if machine_before["/data"] in (None, {}):
        # The simulated nodes make an empty /data where the machine has none (an overlay's lower directory) and
        # the last node removes it: other nodes alive at either end decide which of the two it is.
        assert machine_after.pop("/data") in (None, {}), "nothing was written into the machine's /data"
        machine_before.pop("/data")
    assert machine_after == machine_before, "the machine's own files are untouched"
    cluster.kubectl("delete", "pod", "-n", "default", "hello-edge", "--force", "--grace-period=0", check=False)
    cluster.kubectl("delete", "node", NODE)
    succeeded(run_plugin(cluster.kubeconfig, "detach", "--force"))
    assert admin_request(cluster, "/api/v1/namespaces/edge-system/configmaps/edge-info").status == 404
