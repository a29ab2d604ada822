"""Kubernetes' version skew policy for the edge kubelets, and the problems it finds."""

from __future__ import annotations

import re
from collections.abc import Iterable

from kubectl_edge.status.common import Problem, name_list
from kubectl_edge.status.nodes import EdgeNode

#: Kubernetes' version skew policy: kubelet may be up to three minor versions older than kube-apiserver.
MAX_KUBELET_MINORS_OLDER = 3
_VERSION_RE = re.compile(r"v?(\d+)\.(\d+)")


def minor_version(text: str | None) -> tuple[int, int] | None:
    """(major, minor) of ``v1.37.2``, ``1.37``, ``v1.37.0-alpha.1+abc``; None when there is none."""
    match = _VERSION_RE.match(text or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def kubelet_skew(server: tuple[int, int], kubelet_version: str | None) -> int | None:
    """How many minor versions the kubelet is older (positive) or newer (negative) than the API server.

    None when the kubelet's version is unknown (a node that never reported) or unreadable.
    """
    kubelet = minor_version(kubelet_version)
    if kubelet is None:
        return None
    if kubelet[0] != server[0]:
        return 100 * (server[0] - kubelet[0])  # another major version: outside any skew
    return server[1] - kubelet[1]


def skew_problems(server_version: str, nodes: Iterable[EdgeNode]) -> list[Problem]:
    """Edge nodes whose kubelet is more than three minors older than the API server, or newer than it."""
    server = minor_version(server_version)
    if server is None:
        return []
    by_version: dict[str, list[str]] = {}
    for node in nodes:
        skew = kubelet_skew(server, node.kubelet_version)
        if skew is not None and (skew > MAX_KUBELET_MINORS_OLDER or skew < 0):
            by_version.setdefault(str(node.kubelet_version), []).append(node.name)
    oldest = f"v{server[0]}.{max(server[1] - MAX_KUBELET_MINORS_OLDER, 0)}"
    supported = f"{oldest} to v{server[0]}.{server[1]}"
    problems = []
    for version, names in sorted(by_version.items()):
        skew = kubelet_skew(server, version) or 0
        if skew < 0:
            what = f"newer than the API server {server_version} (a kubelet may never be newer)"
            hint = (f"upgrade the control plane first, or install a kubelet from {supported} on "
                    f"{'them' if len(names) > 1 else 'it'} (edgeadm reset, then edgeadm join with a matching "
                    "install package)")
        else:
            what = (f"{skew} minor versions older than the API server {server_version} (at most "
                    f"{MAX_KUBELET_MINORS_OLDER} are supported)")
            hint = (f"upgrade the kubelet to a version from {supported} (edgeadm reset, then edgeadm join with a "
                    "newer install package), or remove the node with kubectl edge node delete")
        subject = "edge node" if len(names) == 1 else f"{len(names)} edge nodes"
        problems.append(Problem("kubelet-version-skew", f"{subject} {name_list(names)} run"
                                f"{'s' if len(names) == 1 else ''} kubelet {version}, {what}", hint, tuple(names)))
    return problems
