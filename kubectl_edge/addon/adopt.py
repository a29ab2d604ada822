"""A cluster prepared by SuperEdge's edgeadm: recognise it, adopt its components, optionally repair its rewrites.

edgeadm leaves its components in ``edge-system`` without any ownership metadata, so helm refuses to install
over them. Adoption makes them the ``superedge-addon`` release without breaking connected edge nodes: the
tunnel token, the tunnel and webhook certificates, the health-check key, edge-info's data and tunnel-cloud's
NodePorts are read from the cluster and passed to the chart as values (so what helm renders is what nodes
already trust), and each object the chart renders is taken over (helm's ownership metadata; a Service gets
the chart's selector) or, where a field helm would change is immutable (a workload's selector), replaced.

Every object is saved as it was before the first change, in the Secret ``kube-system/kubectl-edge-adopted``
(a Secret: the originals hold keys), written before any change. ``detach`` puts each back from there after
helm uninstalls the release, so the cluster returns to exactly the state edgeadm left.

``--repair`` (never by default) undoes edgeadm's rewrites where the original is known, through the same
saved originals: cluster-info's server from kubeadm-config's ``controlPlaneEndpoint``, the bootstrap RBAC
(``system:node-bootstrapper``, ``kubeadm:nodes-kubeadm-config``) as the API server and kubeadm define them,
and ``kubelet-config-1.XX`` objects for a minor no node runs.

Here: the plan of edits and making, saving and undoing them. What edgeadm left is recognised (and the repairs
computed) in ``recognition.py``; what adoption keeps of its material and settings is in ``adopt_material.py``.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubectl_edge.addon import chart
from kubectl_edge.addon.helm import HELM_NAMESPACE_ANNOTATION, HELM_RELEASE_ANNOTATION, owned_by_release
from kubectl_edge.cluster.client import FIELD_MANAGER, Cluster
from kubectl_edge.cluster.kinds import KINDS_BY_NAME, SECRET, Kind, ObjectRef
from kubectl_edge.cluster.wait import poll
from kubectl_edge.errors import AlreadyExists, ClusterError, Conflict, Invalid, PreconditionFailed, WaitTimeout
from kubectl_edge.notify import Notify

ORIGINALS = ObjectRef(SECRET, "kubectl-edge-adopted", "kube-system")
SETTINGS_KEY = "adopted"
ORIGINALS_ANNOTATION = "kubectl-edge.io/saved-originals"
SERVICE_ACCOUNT = Kind("v1", "ServiceAccount", "serviceaccounts", True)
MUTATING_WEBHOOK = Kind("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration",
                        "mutatingwebhookconfigurations", False)
VALIDATING_WEBHOOK = Kind("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration",
                          "validatingwebhookconfigurations", False)
STATEFUL_SET = Kind("apps/v1", "StatefulSet", "statefulsets", True)
_KINDS = {**KINDS_BY_NAME, **{k.kind: k for k in (SERVICE_ACCOUNT, MUTATING_WEBHOOK, VALIDATING_WEBHOOK,
                                                   STATEFUL_SET)}}
#: Kinds whose selector the API server never lets change: a different one means the object is replaced.
_FIXED_SELECTOR = frozenset({"Deployment", "DaemonSet", "StatefulSet"})
_SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "selfLink",
                  "deletionTimestamp", "deletionGracePeriodSeconds")



def kind_of(body: Mapping[str, Any]) -> Kind:
    """The Kind of a rendered object (the chart renders only kinds listed here)."""
    kind = _KINDS.get(str(body.get("kind")))
    if kind is None:
        raise PreconditionFailed(f"the chart renders a {body.get('kind')}, which adoption does not know",
                                 "adopt with the chart that comes with this kubectl-edge")
    return kind


def ref_of(body: Mapping[str, Any], namespace: str = chart.NAMESPACE) -> ObjectRef:
    """The reference of a rendered (or saved) object; namespaced objects default to the release namespace."""
    kind = kind_of(body)
    metadata = body.get("metadata") or {}
    return ObjectRef(kind, str(metadata["name"]), str(metadata.get("namespace") or namespace)
                     if kind.namespaced else None)


def cleaned(live: Mapping[str, Any]) -> dict[str, Any]:
    """An object as it can be created again: without what the API server maintains (uid, versions, status)."""
    body = copy.deepcopy(dict(live))
    metadata = body.setdefault("metadata", {})
    for name in _SERVER_FIELDS:
        metadata.pop(name, None)
    annotations = metadata.get("annotations")
    if annotations is not None:
        annotations.pop("deployment.kubernetes.io/revision", None)
        annotations.pop("deprecated.daemonset.template.generation", None)
        if not annotations:
            metadata.pop("annotations")
    body.pop("status", None)
    return body


@dataclass(frozen=True)
class Edit:
    """One change adoption or repair makes to an object that exists; its original is saved first."""

    ref: ObjectRef
    how: str  # "take over", "replace", "repair", "remove"
    original: dict[str, Any]
    target: dict[str, Any] | None = None
    note: str = ""


# --- the plan ------------------------------------------------------------------------------------------

def _helm_metadata(body: dict[str, Any]) -> dict[str, Any]:
    metadata = body.setdefault("metadata", {})
    metadata["labels"] = {**(metadata.get("labels") or {}), "app.kubernetes.io/managed-by": "Helm"}
    metadata["annotations"] = {**(metadata.get("annotations") or {}), HELM_RELEASE_ANNOTATION: chart.RELEASE,
                               HELM_NAMESPACE_ANNOTATION: chart.NAMESPACE}
    return body


def plan_adoption(cluster: Cluster, rendered: Iterable[Mapping[str, Any]]) -> list[Edit]:
    """For each object the chart renders that exists without the release's ownership: take it over or replace it."""
    edits: list[Edit] = []
    for body in rendered:
        if body.get("kind") == "CustomResourceDefinition":
            continue  # made by the components phase (labelled kubectl-edge's) or kept as they are
        ref = ref_of(body)
        live = cluster.get(ref)
        if live is None or owned_by_release(live):
            continue
        original = cleaned(live)
        kind = str(body["kind"])
        if kind in _FIXED_SELECTOR and (live.get("spec") or {}).get("selector") != (body.get("spec") or {}).get(
                "selector"):
            edits.append(Edit(ref, "replace", original, note="its selector differs from the chart's and cannot "
                                                             "change; helm makes it again"))
            continue
        target = _helm_metadata(copy.deepcopy(dict(live)))
        note = "helm's ownership metadata"
        if kind == "Service" and (body.get("spec") or {}).get("selector") != (live.get("spec") or {}).get("selector"):
            target["spec"]["selector"] = copy.deepcopy(body["spec"]["selector"])
            note += "; the chart's selector (its NodePorts and ClusterIP stay)"
        edits.append(Edit(ref, "take over", original, target, note))
    return edits


# --- making the changes, and undoing them --------------------------------------------------------------

def _encode(originals: list[dict[str, Any]]) -> str:
    return base64.b64encode(json.dumps(originals, sort_keys=True).encode()).decode()


def saved_originals(cluster: Cluster) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The Secret of saved originals (None when absent) and the originals in the order they were saved."""
    secret = cluster.get(ORIGINALS)
    if secret is None:
        return None, []
    try:
        originals = json.loads(base64.b64decode(((secret.get("data") or {}).get("objects")) or "W10="))
    except (ValueError, UnicodeDecodeError):
        raise PreconditionFailed(f"{ORIGINALS} does not hold kubectl-edge's saved objects",
                                 "restore it from a backup, or delete it and undo the adoption by hand") from None
    return secret, [o for o in originals if isinstance(o, dict)]


def save_originals(cluster: Cluster, edits: list[Edit]) -> None:
    """Add the originals of ``edits`` to the Secret (an object already saved keeps its first original)."""
    secret, originals = saved_originals(cluster)
    known = {str(ref_of(o)) for o in originals}
    added = [edit.original for edit in edits if str(edit.ref) not in known]
    if not added and secret is not None:
        return
    data = {"objects": _encode([*originals, *added])}
    if secret is None:
        cluster.create({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                        "metadata": {"name": ORIGINALS.name, "namespace": ORIGINALS.namespace,
                                     # Not kubectl-edge's label: detach sweeps Secrets with it as tokens.
                                     "annotations": {ORIGINALS_ANNOTATION: "objects before kubectl edge addon "
                                                                           "--adopt; detach restores them"}},
                        "data": data})
    else:
        secret["data"] = data
        cluster.replace(secret)


def apply_edits(cluster: Cluster, edits: list[Edit], notify: Notify) -> None:
    """Make the edits (their originals saved already), each guarded by the version it was planned from."""
    for edit in edits:
        live = cluster.get(edit.ref)
        if live is None:
            continue
        if edit.how in ("replace", "remove"):
            cluster.delete(edit.ref, uid=live["metadata"]["uid"])
        else:
            assert edit.target is not None
            target = copy.deepcopy(edit.target)
            target.setdefault("metadata", {})["resourceVersion"] = live["metadata"]["resourceVersion"]
            try:
                cluster.request("PUT", edit.ref.path, query={"fieldManager": FIELD_MANAGER}, body=target)
            except Conflict as exc:
                raise Conflict(f"{edit.ref} changed while addon ran", "run kubectl edge addon --adopt again; it "
                                                                        "plans from the current state") from exc
        notify("adopt", f"{edit.how} {edit.ref}: {edit.note}" if edit.note else f"{edit.how} {edit.ref}")


def _restore_one(cluster: Cluster, ref: ObjectRef, original: dict[str, Any], timeout: float) -> None:
    """Make or replace one object as its original; refusals are retried until ``timeout``, then the last raised."""
    refusals: list[ClusterError] = []

    def put_back() -> bool | None:
        live = cluster.get(ref)
        body = copy.deepcopy(original)
        try:
            if live is None:
                cluster.request("POST", ref.kind.path(ref.namespace), query={"fieldManager": FIELD_MANAGER},
                                body=body)
            elif live["metadata"].get("deletionTimestamp"):
                raise AlreadyExists("still terminating", "")
            else:
                body["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
                cluster.request("PUT", ref.path, query={"fieldManager": FIELD_MANAGER}, body=body)
        except (AlreadyExists, Conflict, Invalid) as exc:
            refusals.append(exc)
            return None
        return True

    try:
        poll(put_back, timeout, 0.5, what=f"restoring {ref}")
    except WaitTimeout:
        raise refusals[-1] from None  # the API server's last refusal says why


def restore(cluster: Cluster, notify: Notify, dry_run: bool = False, timeout: float = 60.0) -> list[str]:
    """Put every saved original back (after helm uninstalled the release), then delete the Secret.

    An object that exists is replaced by its original; one that is gone is made again, with its ClusterIP and
    NodePorts (the API server may hold a just-freed address for a moment, so a refusal is retried).
    """
    secret, originals = saved_originals(cluster)
    restored: list[str] = []
    for original in reversed(originals):
        ref = ref_of(original)
        restored.append(str(ref))
        if dry_run:
            notify("detach", f"would restore {ref} as it was before adoption")
            continue
        _restore_one(cluster, ref, original, timeout)
        notify("detach", f"restored {ref} as it was before adoption")
    if secret is not None and not dry_run:
        cluster.delete(ORIGINALS, uid=secret["metadata"]["uid"])
    return restored
