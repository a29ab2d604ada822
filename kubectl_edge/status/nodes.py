"""What status shows of the edge nodes: readiness, kubelet version, architecture, last heartbeat, address."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from edge_protocol import token as bootstrap_token
from edge_protocol.contract import EDGE_NODE_SELECTORS
from kubectl_edge.addon.chart import NODE_LEASE_NAMESPACE
from kubectl_edge.cluster.client import Cluster
from kubectl_edge.cluster.kinds import LEASE, NODE
from kubectl_edge.status.common import format_time

#: Nodes of real clusters carry their image lists (tens of KiB each); 200 a page keeps a page's JSON small.
NODE_PAGE_SIZE = 200
LEASE_PAGE_SIZE = 500


@dataclass(frozen=True)
class EdgeNode:
    """What ``status`` shows of an edge node."""

    name: str
    ready: str  # the Ready condition's status: True, False or Unknown (also when the node never reported)
    kubelet_version: str | None
    architecture: str | None
    last_heartbeat: datetime.datetime | None
    internal_ip: str | None
    #: the port the kubelet reported serving on (0: it never reported one, so there is nothing to reach)
    kubelet_port: int = 0

    def to_json(self) -> dict[str, Any]:
        """One entry of ``edgeNodes``."""
        return {"name": self.name, "ready": self.ready, "kubeletVersion": self.kubelet_version,
                "architecture": self.architecture, "lastHeartbeat": format_time(self.last_heartbeat),
                "internalIP": self.internal_ip}


def summarize_node(node: dict[str, Any]) -> EdgeNode:
    """The few fields of a Node that status shows (the rest of the object is dropped at once)."""
    metadata = node.get("metadata") or {}
    status = node.get("status") or {}
    info = status.get("nodeInfo") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    address = next((a.get("address") for a in status.get("addresses") or [] if a.get("type") == "InternalIP"), None)
    labels = metadata.get("labels") or {}
    endpoint = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    return EdgeNode(
        name=str(metadata.get("name", "")),
        ready=str(ready.get("status") or "Unknown") if ready else "Unknown",
        kubelet_version=info.get("kubeletVersion") or None,
        architecture=info.get("architecture") or labels.get("kubernetes.io/arch") or None,
        last_heartbeat=bootstrap_token.parse_api_time(ready.get("lastHeartbeatTime")) if ready else None,
        internal_ip=address, kubelet_port=endpoint if isinstance(endpoint, int) and 0 < endpoint < 65536 else 0)


def read_edge_nodes(cluster: Cluster) -> list[EdgeNode]:
    """Every node with an edge label, with its last heartbeat (its Lease's renewal when that is newer)."""
    nodes: dict[str, EdgeNode] = {}
    # Edge nodes carry both labels (SPEC 1); the second selector catches nodes that carry only the documented
    # one, so the two lists are disjoint and together hold every node with either label.
    for selector in EDGE_NODE_SELECTORS:
        for node in cluster.list_objects(NODE, label_selector=selector, page_size=NODE_PAGE_SIZE):
            summary = summarize_node(node)
            nodes[summary.name] = summary
    if nodes:
        # The kubelet renews its Lease every few seconds but rewrites the Ready condition only every few
        # minutes when nothing changes, so the Lease is the fresher heartbeat.
        for lease in cluster.list_objects(LEASE, NODE_LEASE_NAMESPACE, page_size=LEASE_PAGE_SIZE):
            name = (lease.get("metadata") or {}).get("name")
            renewed = bootstrap_token.parse_api_time((lease.get("spec") or {}).get("renewTime"))
            known = nodes.get(str(name))
            if known is not None and renewed is not None and (known.last_heartbeat is None
                                                               or renewed > known.last_heartbeat):
                nodes[known.name] = EdgeNode(known.name, known.ready, known.kubelet_version, known.architecture,
                                             renewed, known.internal_ip, known.kubelet_port)
    return sorted(nodes.values(), key=lambda n: n.name)
