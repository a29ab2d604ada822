"""``kubectl edge node delete``: the cluster side of removing a node, which the node cannot do itself.

A node's credentials do not allow deleting its own Node object (kubeadm removed that from ``reset`` for this
reason), and what stays behind blocks a re-join under the same name: the Node, its CSRs, its Lease in
``kube-node-lease`` and the bootstrap token made for it. Everything is looked up first (``plan_removal``):
an unknown name, or a node without the edge labels (unless forced), stops the command before anything is
changed. Deletion then goes from the node's credentials to the Node itself, so a run that stops half-way
still finds the Node and finishes the job when run again. Each delete carries the uid that was planned, so
an object re-created in the meantime (a kubelet that still runs registers again) is never deleted unseen.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from edge_protocol.contract import EDGE_NODE_LABEL, EDGE_NODE_LABEL_DOCUMENTED, ENABLED, is_edge_node
from kubectl_edge.addon.chart import NODE_LEASE_NAMESPACE
from kubectl_edge.bootstrap.nodecsr import NodeCsr, node_csrs
from kubectl_edge.bootstrap.tokens import Duties, StoredToken, delete_tokens, read_tokens, retire_node_tokens
from kubectl_edge.cluster.client import Cluster
from kubectl_edge.cluster.kinds import LEASE, NODE, POD, ObjectRef
from kubectl_edge.cluster.wait import poll
from kubectl_edge.errors import ClusterError, Conflict, NotFound, PreconditionFailed, WaitTimeout
from kubectl_edge.notify import Notify
from kubectl_edge.record import load_state

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
#: kubectl drain retries an eviction a PodDisruptionBudget refused every 5 seconds.
EVICTION_RETRY_SECONDS = 5.0
POLL_SECONDS = 1.0
TOO_MANY_REQUESTS = 429


@dataclass(frozen=True)
class Owned:
    """An object of the node's, with the uid it had when it was looked up."""

    ref: ObjectRef
    uid: str

    def __str__(self) -> str:
        return str(self.ref)


@dataclass
class NodeRemoval:
    """One node and the objects that go with it."""

    name: str
    uid: str
    edge: bool
    ready: bool
    csrs: list[NodeCsr] = field(default_factory=list)
    lease: Owned | None = None
    tokens: list[StoredToken] = field(default_factory=list)
    #: Tokens the node joined with that were not made for it alone: other nodes may still need them.
    shared_tokens: list[str] = field(default_factory=list)

    @property
    def ref(self) -> ObjectRef:
        """The Node."""
        return ObjectRef(NODE, self.name)

    def describe(self) -> str:
        """One line for the confirmation prompt and the log."""
        parts = [f"node {self.name}", f"{len(self.csrs)} CSR(s)", "its Lease" if self.lease else "no Lease",
                 f"{len(self.tokens)} bootstrap token(s) made for it"]
        return ", ".join(parts)


@dataclass
class RemovalPlan:
    """Every node to remove, looked up before anything is changed."""

    nodes: list[NodeRemoval]


def _is_ready(node: dict[str, Any]) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def plan_removal(cluster: Cluster, names: Sequence[str], force: bool = False) -> RemovalPlan:
    """Look up every node and what belongs to it; refuse before any change when something is wrong.

    Raises:
        PreconditionFailed: A name is not a node, or a node is not an edge node and ``force`` is off.
    """
    unique = list(dict.fromkeys(names))
    found: dict[str, dict[str, Any]] = {}
    missing = []
    for name in unique:
        node = cluster.get(ObjectRef(NODE, name))
        if node is None:
            missing.append(name)
        else:
            found[name] = node
    if missing:
        raise PreconditionFailed(f"no such node: {', '.join(missing)}; nothing was deleted",
                                 "kubectl get nodes lists the nodes; check the names and run the command again")
    plans = []
    for name in unique:
        node = found[name]
        edge = is_edge_node((node.get("metadata") or {}).get("labels"))
        plans.append(NodeRemoval(name, str(node["metadata"]["uid"]), edge, _is_ready(node)))
    central = [plan.name for plan in plans if not plan.edge]
    if central and not force:
        raise PreconditionFailed(
            f"not an edge node (no {EDGE_NODE_LABEL}={ENABLED} or {EDGE_NODE_LABEL_DOCUMENTED}={ENABLED} label): "
            f"{', '.join(central)}; nothing was deleted",
            "kubectl edge node delete is for edge nodes; pass --force to delete these nodes' objects anyway")
    by_name = {plan.name: plan for plan in plans}
    for csr in node_csrs(cluster):
        if csr.node in by_name:
            by_name[csr.node].csrs.append(csr)
    tokens = read_tokens(cluster).tokens
    for plan in plans:
        lease = cluster.get(ObjectRef(LEASE, plan.name, NODE_LEASE_NAMESPACE))
        if lease is not None:
            plan.lease = Owned(ObjectRef(LEASE, plan.name, NODE_LEASE_NAMESPACE), str(lease["metadata"]["uid"]))
        plan.tokens = [stored for stored in tokens if stored.made_for(plan.name) and not stored.is_probe]
        mine = {stored.id for stored in plan.tokens}
        used = {csr.bootstrap_token_id for csr in plan.csrs if csr.bootstrap_token_id}
        plan.shared_tokens = sorted(used - mine)
    return RemovalPlan(plans)


# --- drain -----------------------------------------------------------------------------------------------

def _pod_ref(pod: dict[str, Any]) -> ObjectRef:
    metadata = pod.get("metadata") or {}
    return ObjectRef(POD, str(metadata.get("name", "")), str(metadata.get("namespace", "")))


def skipped_by_drain(pod: dict[str, Any]) -> str | None:
    """Why drain leaves a pod alone (as kubectl drain does), None for a pod it evicts."""
    metadata = pod.get("metadata") or {}
    if MIRROR_ANNOTATION in (metadata.get("annotations") or {}):
        return "a mirror pod of a static pod (the kubelet owns it)"
    for owner in metadata.get("ownerReferences") or []:
        if owner.get("kind") == "DaemonSet" and owner.get("controller"):
            return "managed by a DaemonSet (it would be recreated on the node)"
    return None


def cordon(cluster: Cluster, plan: NodeRemoval) -> None:
    """Mark the node unschedulable (only the Node that was planned: its uid is tested)."""
    cluster.json_patch(plan.ref, [{"op": "test", "path": "/metadata/uid", "value": plan.uid},
                                  {"op": "add", "path": "/spec/unschedulable", "value": True}])


def _evict(cluster: Cluster, pod: ObjectRef) -> bool:
    """Ask the Eviction API to evict the pod; False when a disruption budget refuses it for now."""
    body = {"apiVersion": "policy/v1", "kind": "Eviction",
            "metadata": {"name": pod.name, "namespace": pod.namespace}}
    try:
        cluster.request("POST", f"{pod.path}/eviction", body=body)
    except NotFound:
        return True  # gone already
    except ClusterError as exc:
        if exc.status == TOO_MANY_REQUESTS:
            return False
        raise
    return True


@dataclass
class DrainResult:
    """What drain did on one node."""

    evicted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    #: Evicted pods left terminating on a node that is not Ready: no kubelet there will finish them.
    left_terminating: list[str] = field(default_factory=list)


GONE, TERMINATING, PRESENT = "gone", "terminating", "present"


def _pod_state(cluster: Cluster, ref: ObjectRef, uid: str) -> str:
    live = cluster.get(ref)
    if live is None or live["metadata"].get("uid") != uid:
        return GONE  # deleted (a pod of the same name made since is another pod)
    return TERMINATING if live["metadata"].get("deletionTimestamp") else PRESENT


def drain(cluster: Cluster, plans: Sequence[NodeRemoval], timeout: float, notify: Notify) -> dict[str, DrainResult]:
    """Cordon every node, then evict their pods (except DaemonSet and mirror pods) and wait until they are gone.

    On a node that is not Ready nobody finishes a graceful deletion, so an evicted pod there counts as done
    once it is terminating: the pod garbage collector removes it after the Node is deleted, and waiting for
    it would only run into the timeout.

    Raises:
        WaitTimeout: Pods were still there after ``timeout`` seconds; no node was deleted, the nodes stay cordoned.
    """
    for plan in plans:
        cordon(cluster, plan)
        notify("drain", f"node {plan.name} cordoned")
    deadline = time.monotonic() + timeout
    results: dict[str, DrainResult] = {}
    waiting: dict[ObjectRef, tuple[str, NodeRemoval]] = {}  # pod -> (uid, node)
    refused: dict[ObjectRef, tuple[str, NodeRemoval]] = {}
    for plan in plans:
        result = results[plan.name] = DrainResult()
        for pod in cluster.list_objects(POD, field_selector=f"spec.nodeName={plan.name}"):
            ref = _pod_ref(pod)
            reason = skipped_by_drain(pod)
            if reason:
                result.skipped.append(f"{ref.namespace}/{ref.name}")
                notify("drain", f"skipping pod {ref.namespace}/{ref.name}: {reason}")
                continue
            (waiting if _evict(cluster, ref) else refused)[ref] = (str(pod["metadata"]["uid"]), plan)
    next_retry = time.monotonic() + EVICTION_RETRY_SECONDS

    def all_gone() -> dict[str, DrainResult] | None:
        nonlocal next_retry
        for ref, (uid, plan) in list(waiting.items()):
            state = _pod_state(cluster, ref, uid)
            name = f"{ref.namespace}/{ref.name}"
            if state == GONE:
                notify("drain", f"pod {name} evicted")
            elif state == TERMINATING and not plan.ready:
                results[plan.name].left_terminating.append(name)
                notify("drain", f"pod {name} evicted; it stays terminating until node {plan.name} is deleted "
                                "(the node is not Ready)")
            else:
                continue
            del waiting[ref]
            results[plan.name].evicted.append(name)
        if time.monotonic() >= next_retry:
            for ref, entry in list(refused.items()):
                if _evict(cluster, ref):
                    del refused[ref]
                    waiting[ref] = entry
            next_retry = time.monotonic() + EVICTION_RETRY_SECONDS
        return None if waiting or refused else results

    try:
        # The timeout counts from the cordon: listing and evicting took part of it.
        return poll(all_gone, max(0.0, deadline - time.monotonic()), POLL_SECONDS, what="the drain")
    except WaitTimeout:
        blocked = [f"{ref.namespace}/{ref.name} (a PodDisruptionBudget does not allow evicting it)"
                   for ref in refused] + [f"{ref.namespace}/{ref.name} (still terminating)" for ref in waiting]
        nodes = ", ".join(plan.name for plan in plans)
        raise WaitTimeout(
            f"draining {nodes} did not finish within {timeout:g}s; pods still there: {', '.join(blocked)}",
            "the nodes, their CSRs, Leases and tokens were not deleted, and the nodes stay cordoned (kubectl "
            "uncordon NAME takes one back; pods evicted so far stay evicted). Run again with a longer --timeout, "
            "or without --drain") from None


# --- delete ----------------------------------------------------------------------------------------------

@dataclass
class RemovalReport:
    """What ``node delete`` did, per node."""

    deleted: dict[str, list[str]] = field(default_factory=dict)
    kept: dict[str, list[str]] = field(default_factory=dict)
    drained: dict[str, DrainResult] = field(default_factory=dict)
    retired_tokens: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """``node delete -o json|yaml``."""
        nodes = []
        for name, deleted in self.deleted.items():
            entry: dict[str, Any] = {"name": name, "deleted": deleted, "kept": self.kept.get(name, [])}
            drained = self.drained.get(name)
            if drained is not None:
                entry["drain"] = {"evicted": drained.evicted, "skipped": drained.skipped,
                                  "leftTerminating": drained.left_terminating}
            nodes.append(entry)
        return {"nodes": nodes, "retiredTokens": self.retired_tokens}


def _delete(cluster: Cluster, ref: ObjectRef, uid: str) -> bool:
    try:
        return cluster.delete(ref, uid=uid)
    except Conflict:
        return False  # re-created since it was looked up: not the object that was planned


def remove_nodes(cluster: Cluster, plan: RemovalPlan, notify: Notify, drain_timeout: float | None = None
                 ) -> RemovalReport:
    """Delete each node's tokens (made for it alone), CSRs, Lease and finally the Node; drain first if asked.

    Raises:
        WaitTimeout: The drain did not finish in time (nothing was deleted).
        Conflict: A Node was registered again while it was being removed (its kubelet still runs).
    """
    report = RemovalReport()
    if drain_timeout is not None:
        report.drained = drain(cluster, plan.nodes, drain_timeout, notify)
    duties = Duties.from_state(load_state(cluster))
    report.retired_tokens = retire_node_tokens(cluster, duties, notify)
    for node in plan.nodes:
        deleted = report.deleted.setdefault(node.name, [])
        kept = report.kept.setdefault(node.name, [])
        # The housekeeping above may have deleted this node's token already (its CSR was approved).
        deleted += [f"bootstrap token {stored.id}" for stored in node.tokens if stored.id in report.retired_tokens]
        token_ids = [stored.id for stored in node.tokens if stored.id not in report.retired_tokens]
        if token_ids:
            deletion = delete_tokens(cluster, token_ids, duties, notify)
            deleted += [f"bootstrap token {token_id}" for token_id in deletion.deleted]
        for token_id in node.shared_tokens:
            kept.append(f"bootstrap token {token_id}: the node joined with it, but it was not made for this node "
                        "alone (kubectl edge token delete removes it when no other node needs it)")
        for csr in node.csrs:
            if _delete(cluster, csr.ref, csr.uid):
                deleted.append(f"csr {csr.name} ({csr.state.lower()})")
        if node.lease is not None and _delete(cluster, node.lease.ref, node.lease.uid):
            deleted.append(str(node.lease.ref))
        if _delete(cluster, node.ref, node.uid):
            deleted.append(f"node {node.name}")
        for item in deleted:
            notify("delete", f"deleted {item}")
        if cluster.get(node.ref) is not None:
            raise Conflict(f"node {node.name} was registered again while it was being deleted, so its kubelet "
                           "still runs", f"run edgeadm reset on the node, then kubectl edge node delete "
                           f"{node.name} again")
    return report
