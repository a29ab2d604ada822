"""The edge kubelets that Kubernetes' version skew policy (:mod:`edge_protocol.versions`) does not allow."""

from __future__ import annotations

from collections.abc import Iterable

from edge_protocol.versions import KUBELET_MAX_LAG, KubeVersion, kubelet_lag, kubelet_supported, supported_kubelets
from kubectl_edge.status.common import Problem, name_list
from kubectl_edge.status.nodes import EdgeNode


def skew_problems(server_version: str, nodes: Iterable[EdgeNode]) -> list[Problem]:
    """Edge nodes whose kubelet is more than three minors older than the API server, or newer than it."""
    server = KubeVersion.read(server_version)
    if server is None:
        return []
    by_version: dict[str, list[str]] = {}
    lags: dict[str, int] = {}
    for node in nodes:
        kubelet = KubeVersion.read(node.kubelet_version)  # None: never reported, or unreadable
        if kubelet is not None and not kubelet_supported(kubelet, server):
            by_version.setdefault(str(node.kubelet_version), []).append(node.name)
            lags[str(node.kubelet_version)] = kubelet_lag(kubelet, server)
    supported = supported_kubelets(server)
    problems = []
    for version, names in sorted(by_version.items()):
        skew = lags[version]
        if skew < 0:
            what = f"newer than the API server {server_version} (a kubelet may never be newer)"
            hint = (f"upgrade the control plane first, or install a kubelet from {supported} on "
                    f"{'them' if len(names) > 1 else 'it'} (edgeadm reset, then edgeadm join with a matching "
                    "install package)")
        else:
            what = (f"{skew} minor versions older than the API server {server_version} (at most "
                    f"{KUBELET_MAX_LAG} are supported)")
            hint = (f"upgrade the kubelet to a version from {supported} (edgeadm reset, then edgeadm join with a "
                    "newer install package), or remove the node with kubectl edge node delete")
        subject = "edge node" if len(names) == 1 else f"{len(names)} edge nodes"
        problems.append(Problem("kubelet-version-skew", f"{subject} {name_list(names)} run"
                                f"{'s' if len(names) == 1 else ''} kubelet {version}, {what}", hint, tuple(names)))
    return problems
