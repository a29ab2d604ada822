"""L4: SuperEdge's own component binaries, from the directory named by ``SUPEREDGE_BIN``, and the pieces of a
platform to run them on.

The project never builds them: whoever runs ``make l4`` names a directory that holds them. Given that
directory, a missing binary is a failure, never a skip.

What a real cluster's network and controllers give and this machine has not, the tests set up in the nodes'
namespaces and on the host side of their veths only (addresses of 198.18.0.0/15): the workload controllers
(the local control plane runs only the controllers the other tests need) and kube-proxy's rule for the
``kubernetes`` Service.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from clusterkit import admin_request

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "hack"))
import cloudnode  # noqa: E402
import localcluster  # noqa: E402

#: Every binary the L4 tests run.
BINARIES = ("lite-apiserver", "tunnel", "application-grid-controller", "application-grid-wrapper", "edge-health",
            "edge-health-admission", "edgeadm")
#: The controllers a second controller manager runs for the pods of Deployments and DaemonSets.
WORKLOAD_CONTROLLERS = ("deployment-controller", "replicaset-controller", "daemonset-controller",
                        "endpoints-controller", "endpointslice-controller")


def superedge_bin() -> Path:
    """The directory ``SUPEREDGE_BIN`` names (the tests fail without it)."""
    value = os.environ.get("SUPEREDGE_BIN")
    if not value:
        pytest.fail("SUPEREDGE_BIN is not set: name the directory that holds SuperEdge's binaries "
                    f"({', '.join(BINARIES)})")
    return Path(value)


def superedge_binary(name: str) -> Path:
    """One of SuperEdge's binaries; fails the test when it is missing or not executable."""
    path = superedge_bin() / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{path} is missing or not executable: SUPEREDGE_BIN must hold SuperEdge's {name}")
    return path


def superedge_edgeadm() -> Path:
    """SuperEdge's own ``edgeadm`` (built from superedge/edgeadm by whoever runs ``make l4``, with the fixes it
    needs to start on a current Go), for the adoption test; fails the test when it is missing."""
    return superedge_binary("edgeadm")


def workload_controllers(cluster: localcluster.LocalCluster) -> subprocess.Popen[bytes]:
    """A second controller manager with the workload controllers, on its own loopback port."""
    root = Path(cluster.dir)
    kubeconfig = root / "controller-manager.kubeconfig"
    argv = [cluster.binary("kube-controller-manager"), f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}", f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1", f"--secure-port={localcluster.free_port()}",
            f"--cert-dir={root / 'workload-kcm-serving'}", f"--controllers={','.join(WORKLOAD_CONTROLLERS)}",
            "--use-service-account-credentials=true", f"--root-ca-file={root / 'pki' / 'ca.crt'}",
            "--leader-elect=false", "--profiling=false", "--v=1"]
    with open(root / "logs" / "workload-controller-manager.log", "ab") as log:
        return subprocess.Popen(localcluster.with_own_resolver(root, argv), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process the test started: SIGTERM, then SIGKILL after 20 s."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def route_kubernetes_service(node: cloudnode.IsolatedNode, api_port: int) -> None:
    """kube-proxy's rule for the ``kubernetes`` Service, in the node's namespace: to the API server's forwarder."""
    target = f"{node.host_ip}:{api_port}"
    match = ["-d", f"{localcluster.KUBERNETES_SERVICE_IP}/32", "-p", "tcp", "--dport", "443"]
    for chain in ("OUTPUT", "PREROUTING"):
        node.run(["iptables", "-w", "-t", "nat", "-A", chain, *match, "-j", "DNAT", "--to-destination", target])
    node.run(["iptables", "-w", "-t", "nat", "-A", "POSTROUTING", "-s", node.pod_subnet, "-o", f"{node.name}-n",
              "-j", "MASQUERADE"])


def list_pods(cluster: Any, namespace: str = "edge-system", selector: str = "") -> list[dict[str, Any]]:
    """The pods of a namespace (matching a label selector, already URL-encoded)."""
    path = f"/api/v1/namespaces/{namespace}/pods" + (f"?labelSelector={selector}" if selector else "")
    return list(admin_request(cluster, path).body.get("items", []))


def node_ready(cluster: Any, name: str) -> bool:
    """Whether the Node ``name`` exists and is Ready."""
    node = admin_request(cluster, f"/api/v1/nodes/{name}")
    conditions = {c["type"]: c["status"] for c in ((node.body or {}).get("status") or {}).get("conditions", [])} \
        if node.status == 200 else {}
    return conditions.get("Ready") == "True"


def label_node(cluster: Any, name: str, labels: dict[str, str]) -> None:
    """Add labels to a Node."""
    answer = admin_request(cluster, f"/api/v1/nodes/{name}", method="PATCH", body={"metadata": {"labels": labels}},
                           content_type="application/strategic-merge-patch+json")
    assert answer.status == 200, answer.body
