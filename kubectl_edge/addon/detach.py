"""``kubectl edge detach``: put the cluster back as it was before ``addon``.

Works from the inventory alone: reverts each recorded patch whose values are still the ones addon wrote
(a value the owner changed since is left and reported), deletes each recorded object that still carries
kubectl-edge's label and uid, deletes the bootstrap tokens kubectl-edge made, and finally the record.
Every step skips what is already undone, so detach can be interrupted and run again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edge_protocol import contract, names
from edge_protocol import token as bootstrap_token
from kubectl_edge.addon import adopt, chart
from kubectl_edge.addon import components as components_phase
from kubectl_edge.addon.changes import RevertState, inverse_patch, revert_state
from kubectl_edge.addon.preflight import remove_probes
from kubectl_edge.cluster.client import Cluster
from kubectl_edge.cluster.kinds import CRD, NAMESPACE, NODE, SECRET, ObjectRef
from kubectl_edge.cluster.wait import poll
from kubectl_edge.errors import Conflict, Invalid, PreconditionFailed, WaitTimeout
from kubectl_edge.notify import Notify
from kubectl_edge.record import MANAGED_BY, STATE_REF, load_state
from kubectl_edge.signatures import edit_signatures


@dataclass(frozen=True)
class DetachOptions:
    """Flags of ``kubectl edge detach``."""

    force: bool = False
    keep_tokens: bool = False
    dry_run: bool = False
    helm: str | None = None
    timeout: float | None = None


@dataclass
class DetachReport:
    """What detach undid, and what it left because the owner changed it."""

    dry_run: bool
    reverted: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    writes: int = 0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary for ``-o json|yaml``."""
        return {"dryRun": self.dry_run, "reverted": self.reverted, "deleted": self.deleted, "left": self.left,
                "writeRequests": self.writes}


def edge_nodes(cluster: Cluster) -> list[str]:
    """Names of the nodes that carry an edge label."""
    found: set[str] = set()
    for selector in contract.EDGE_NODE_SELECTORS:
        found.update(node["metadata"]["name"] for node in cluster.list_objects(NODE, label_selector=selector))
    return sorted(found)


def _is_ours(live: dict[str, Any], uid: str | None) -> bool:
    labels = (live.get("metadata") or {}).get("labels") or {}
    if any(labels.get(key) != value for key, value in MANAGED_BY.items()):
        return False
    return uid is None or live["metadata"].get("uid") == uid


def _wait_gone(cluster: Cluster, ref: ObjectRef, timeout: float) -> None:
    """Wait until an object is gone (a namespace takes a while: its controller empties it first)."""
    try:
        poll(lambda: True if cluster.get(ref) is None else None, timeout, 0.5, what=f"the deletion of {ref}")
    except WaitTimeout:
        raise WaitTimeout(f"{ref} is still terminating after {timeout:.0f} s",
                          "check what keeps it (kubectl get all -n NAME) and run detach again") from None


def run_detach(cluster: Cluster, options: DetachOptions, notify: Notify) -> DetachReport:
    """Undo everything addon recorded; return what was done."""
    report = DetachReport(dry_run=options.dry_run)
    nodes = edge_nodes(cluster)
    if nodes and not options.force:
        raise PreconditionFailed(
            f"{len(nodes)} node(s) still carry the edge labels: {', '.join(nodes)}",
            "remove them first (edgeadm reset on each node, then kubectl delete node NAME), or pass --force")
    state = load_state(cluster)
    verb = "would " if options.dry_run else ""
    interrupted = False  # the record is kept when something should be retried
    if state.settings.get(components_phase.SETTINGS_KEY):
        if options.dry_run:
            notify("detach", f"would helm uninstall {chart.RELEASE} in {chart.NAMESPACE}")
        else:
            components_phase.uninstall(cluster, options.helm, options.timeout, notify)
    if state.settings.get(adopt.SETTINGS_KEY) or cluster.get(adopt.ORIGINALS) is not None:
        # What adoption and --repair changed comes back from the originals saved before the first change.
        report.reverted += [f"{ref} (as before adoption)" for ref in adopt.restore(cluster, notify, options.dry_run)]

    for record in reversed(state.patches):
        live = cluster.get(record.ref)
        states = [(change, revert_state(change, live)) for change in record.changes]
        ours = [change for change, where in states if where is RevertState.ours]
        for change, where in states:
            if where is RevertState.changed:
                report.left.append(f"{record.ref} {change.path}: changed since addon; left as it is")
        if not ours:
            continue
        if not options.dry_run:
            try:
                cluster.json_patch(record.ref, inverse_patch(ours))
            except (Invalid, Conflict):
                report.left.append(f"{record.ref}: changed while detach ran; run detach again")
                interrupted = True
                continue
        report.reverted.append(f"{record.ref} {', '.join(change.path for change in ours)}")
        notify("detach", f"{verb}revert {record.ref}: {', '.join(change.path for change in ours)}")

    for entry in reversed(state.created):
        live = cluster.get(entry.ref)
        if live is None:
            continue
        if not _is_ours(live, entry.uid):
            report.left.append(f"{entry.ref}: not made by kubectl-edge (recreated by someone else); left as it is")
            continue
        if entry.ref.kind is CRD and not options.force:
            remaining = components_phase.custom_resources_left(cluster, live)
            if remaining:
                report.left.append(f"{entry.ref}: {remaining} custom resource(s) of it remain; delete them (or "
                                   "pass --force) and run detach again")
                interrupted = True
                continue
        if options.dry_run or cluster.delete(entry.ref, uid=live["metadata"]["uid"]):
            report.deleted.append(str(entry.ref))
            notify("detach", f"{verb}delete {entry.ref}")
            if entry.ref.kind is NAMESPACE and not options.dry_run:
                _wait_gone(cluster, entry.ref, options.timeout or 120.0)

    selector = f"{names.MANAGED_BY_KEY}={names.MANAGED_BY_VALUE}"
    deleted_tokens: list[str] = []
    for secret in list(cluster.list_objects(SECRET, "kube-system", label_selector=selector)):
        purpose = (secret["metadata"].get("labels") or {}).get(names.PURPOSE_KEY)
        if options.keep_tokens and purpose != names.PURPOSE_PREFLIGHT_PROBE:
            continue
        ref = ObjectRef(SECRET, secret["metadata"]["name"], "kube-system")
        if options.dry_run or cluster.delete(ref, uid=secret["metadata"]["uid"]):
            report.deleted.append(str(ref))
            deleted_tokens.append(ref.name.removeprefix(bootstrap_token.SECRET_NAME_PREFIX))
            notify("detach", f"{verb}delete bootstrap token {ref.name}")
    if not options.dry_run:
        remove_probes(cluster)
        # Where kubectl-edge signs cluster-info (no signer runs), nobody else removes those signatures.
        edit_signatures(cluster, remove=deleted_tokens)

    live_state = cluster.get(STATE_REF)
    if live_state is not None and not interrupted:
        if options.dry_run or cluster.delete(STATE_REF, uid=live_state["metadata"]["uid"]):
            notify("detach", f"{verb}delete {STATE_REF} (kubectl-edge's record)")
    elif not state.created and not state.patches:
        notify("detach", "nothing to undo: kubectl-edge has made no changes in this cluster")
    for line in report.left:
        notify("detach", f"left: {line}")
    report.writes = cluster.writes
    return report
