"""Whether the API server reaches the edge kubelets (what ``kubectl logs``, exec and port-forward need).

status asks the API server for a sample of Ready edge kubelets' ``/healthz`` through the node proxy; the
causes of failure (the kubelet's client CA, its authorisation webhook, the tunnel) are shared by the nodes,
so a sample tells.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kubectl_edge.cluster.client import USER_AGENT, Cluster
from kubectl_edge.errors import EdgeError
from kubectl_edge.status.common import Problem, name_list
from kubectl_edge.status.nodes import EdgeNode

#: How many Ready edge kubelets status asks the API server to reach (one request each).
KUBELET_CHECK_LIMIT = 10
KUBELET_CHECK_TIMEOUT_SECONDS = 10.0
KUBELET_OK = "ok"
KUBELET_UNAUTHORIZED = "unauthorized"
KUBELET_FORBIDDEN = "forbidden"
KUBELET_UNREACHABLE = "unreachable"
#: The current user may not use the node proxy: nothing was learnt about the kubelet.
KUBELET_NOT_CHECKED = "not-checked"


@dataclass(frozen=True)
class KubeletAccess:
    """Whether the API server reached a node's kubelet through the node proxy, and what it answered."""

    node: str
    result: str
    status: int = 0
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        """One entry of ``kubeletAccess``."""
        return {"node": self.node, "result": self.result, "status": self.status, "detail": self.detail}


def classify_kubelet_answer(node: str, status: int, body: bytes) -> KubeletAccess:
    """What the node proxy's answer for the kubelet's ``/healthz`` means.

    401 and 403 come from the kubelet itself (the API server's own authorisation of the admin comes first,
    and the admin may read nodes/proxy): it rejected the API server's client certificate, or its
    authorisation webhook denied it. 5xx: the API server could not connect to the kubelet.
    """
    detail = body.decode(errors="replace").strip()[:200]
    if status == 200:
        return KubeletAccess(node, KUBELET_OK, status)
    if status == 401:
        return KubeletAccess(node, KUBELET_UNAUTHORIZED, status, detail)
    if status == 403:
        # The API server's own refusal names the resource as nodes/proxy; the kubelet's says subresource=proxy.
        return KubeletAccess(node, KUBELET_NOT_CHECKED if "nodes/proxy" in detail else KUBELET_FORBIDDEN, status,
                             detail)
    return KubeletAccess(node, KUBELET_UNREACHABLE, status, detail)


def check_kubelets(cluster: Cluster, nodes: Iterable[EdgeNode], limit: int = KUBELET_CHECK_LIMIT
                   ) -> list[KubeletAccess]:
    """Ask the API server for the ``/healthz`` of up to ``limit`` Ready edge kubelets (the node proxy).

    Nodes that are not Ready or never reported a kubelet port are left out: there is no kubelet to reach.
    """
    checked = []
    for node in [n for n in nodes if n.ready == "True" and n.kubelet_port][:limit]:
        path = f"/api/v1/nodes/{node.name}/proxy/healthz"
        try:
            status, body = cluster.api.send("GET", path, {}, {"Accept": "*/*", "User-Agent": USER_AGENT}, None,
                                            KUBELET_CHECK_TIMEOUT_SECONDS)
        except EdgeError as exc:
            checked.append(KubeletAccess(node.name, KUBELET_UNREACHABLE, 0, exc.message))
            continue
        except OSError as exc:
            checked.append(KubeletAccess(node.name, KUBELET_UNREACHABLE, 0, str(exc)))
            continue
        checked.append(classify_kubelet_answer(node.name, status, body))
    return checked


def kubelet_problems(accesses: Iterable[KubeletAccess]) -> list[Problem]:
    """One problem per kind of failure, naming the nodes."""
    by_result: dict[str, list[str]] = {}
    for access in accesses:
        if access.result not in (KUBELET_OK, KUBELET_NOT_CHECKED):
            by_result.setdefault(access.result, []).append(access.node)
    problems = []
    for result, names in sorted(by_result.items()):
        subject = f"edge node {names[0]}" if len(names) == 1 else f"{len(names)} edge nodes {name_list(names)}"
        verb = "rejects" if len(names) == 1 else "reject"
        if result == KUBELET_UNAUTHORIZED:
            problems.append(Problem(
                "kubelet-rejects-api-server",
                f"the kubelet of {subject} {verb} the API server's client certificate (401): kubectl logs, exec, "
                "attach and port-forward fail there",
                "the kubelet's client CA file does not hold the CA of the API server's kubelet-client certificate "
                "(on clusters with a separate client CA, such as k3s and RKE2, it is "
                "kube-system/extension-apiserver-authentication's client-ca-file): run kubectl edge addon (it "
                "publishes that CA for joining nodes), then on each node edgeadm reset and edgeadm join again",
                tuple(names)))
        elif result == KUBELET_FORBIDDEN:
            problems.append(Problem(
                "kubelet-forbids-api-server",
                f"the kubelet of {subject} {verb} the API server's requests (403): its authorisation webhook denies "
                "the API server's kubelet-client identity, so logs and exec fail there",
                "bind the API server's kubelet-client user to the ClusterRole system:kubelet-api-admin",
                tuple(names)))
        else:
            problems.append(Problem(
                "kubelet-unreachable",
                f"the API server cannot reach the kubelet of {subject} through the node proxy, so logs and exec "
                "fail there",
                "the API server dials the node's address and kubelet port; with the edge components that way is "
                "the tunnel: check the tunnel-cloud and tunnel-edge pods (kubectl -n edge-system get pods -o wide)",
                tuple(names)))
    return problems
