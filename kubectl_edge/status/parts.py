"""What status shows of the addon's parts: the release's workloads, the join prerequisites, the bootstrap tokens."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from edge_protocol.duration import short_human_duration
from kubectl_edge.addon.chart import NAMESPACE
from kubectl_edge.addon.helm import owned_by_release
from kubectl_edge.addon.prerequisites import ClusterFacts, desired_prerequisites
from kubectl_edge.bootstrap.tokens import StoredToken
from kubectl_edge.cluster.client import Cluster
from kubectl_edge.cluster.kinds import DAEMON_SET, DEPLOYMENT, ObjectRef
from kubectl_edge.record import State
from kubectl_edge.status.common import CREATED_BY_KUBECTL_EDGE, CREATED_BY_OWNER, format_time

# --- components ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Component:
    """A DaemonSet or Deployment of the release and how many of its pods are ready."""

    kind: str
    name: str
    desired: int
    ready: int

    @property
    def is_ready(self) -> bool:
        """Every desired pod is ready."""
        return self.ready >= self.desired

    def to_json(self) -> dict[str, Any]:
        """One entry of ``components``."""
        return {"kind": self.kind, "name": self.name, "desired": self.desired, "ready": self.ready}


def component_of(workload: dict[str, Any]) -> Component:
    """Desired and ready pods of a DaemonSet (as its controller counts them) or a Deployment (its replicas)."""
    kind = str(workload.get("kind") or "")
    name = str((workload.get("metadata") or {}).get("name", ""))
    status = workload.get("status") or {}
    if kind == DAEMON_SET.kind:
        desired, ready = status.get("desiredNumberScheduled"), status.get("numberReady")
        return Component(kind, name, int(desired or 0), int(ready or 0))
    replicas = (workload.get("spec") or {}).get("replicas")
    return Component(kind, name, 1 if replicas is None else int(replicas), int(status.get("readyReplicas") or 0))


def read_components(cluster: Cluster) -> list[Component]:
    """The release's DaemonSets and Deployments in its namespace (Helm marks what it installed)."""
    components = []
    for kind in (DEPLOYMENT, DAEMON_SET):
        for workload in cluster.list_objects(kind, NAMESPACE, page_size=100):
            if owned_by_release(workload):
                components.append(component_of({**workload, "kind": kind.kind}))
    return sorted(components, key=lambda c: (c.kind, c.name))


# --- prerequisites ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Prerequisite:
    """One join prerequisite: present or not, whose it is, what addon added to it."""

    ref: ObjectRef
    present: bool
    created_by: str | None
    patched_keys: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """One entry of ``prerequisites``."""
        return {"kind": self.ref.kind.kind, "namespace": self.ref.namespace, "name": self.ref.name,
                "present": self.present, "createdBy": self.created_by, "patchedKeys": list(self.patched_keys)}


def prerequisite_refs(major: int, minor: int) -> list[ObjectRef]:
    """The objects addon's prerequisites phase makes, for a server of this version."""
    # Only the names are used; they depend on the version alone (kubelet-config's name), not on the content.
    facts = ClusterFacts(version_major=major, version_minor=minor, git_version="", service_cidr="",
                         dns_service_ip="", cluster_domain="", cgroup_driver="", ca_pem="",
                         cluster_info_server="", control_plane_endpoint="")
    return [ObjectRef.of(desired.body) for desired in desired_prerequisites(facts)]


def classify_prerequisite(ref: ObjectRef, live: dict[str, Any] | None, state: State) -> Prerequisite:
    """Whose the object is: kubectl-edge's when addon recorded creating this very object, else its owner's."""
    patch = state.find_patch(ref)
    keys = tuple(change.path for change in patch.changes) if patch else ()
    if live is None:
        return Prerequisite(ref, False, None, ())
    created = state.find_created(ref)
    uid = (live.get("metadata") or {}).get("uid")
    ours = created is not None and (created.uid is None or created.uid == uid)
    return Prerequisite(ref, True, CREATED_BY_KUBECTL_EDGE if ours else CREATED_BY_OWNER, keys)


def read_prerequisites(cluster: Cluster, state: State, major: int, minor: int) -> list[Prerequisite]:
    """Each prerequisite as it is in the cluster."""
    return [classify_prerequisite(ref, cluster.get(ref), state) for ref in prerequisite_refs(major, minor)]


# --- tokens ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TokenSummary:
    """What ``status`` shows of a bootstrap token (never its secret)."""

    id: str
    expires: datetime.datetime | None
    description: str
    node: str | None
    managed: bool

    def to_json(self, now: datetime.datetime) -> dict[str, Any]:
        """One entry of ``tokens``."""
        left = None if self.expires is None else (self.expires - now).total_seconds()
        return {"id": self.id, "expires": format_time(self.expires),
                "ttl": None if left is None else short_human_duration(left), "description": self.description,
                "node": self.node, "managedBy": CREATED_BY_KUBECTL_EDGE if self.managed else None}


def summarize_token(stored: StoredToken) -> TokenSummary:
    """A token as status shows it."""
    return TokenSummary(stored.id, stored.record.expiration, stored.record.description, stored.node, stored.managed)
