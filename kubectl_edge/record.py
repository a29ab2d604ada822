"""kubectl-edge's record in the cluster: what addon created and changed, what preflight measured, settings.

It lives in the ConfigMap ``kube-system/kubectl-edge`` (so ``detach`` works from any machine) and is
written before each change it describes (write-ahead): a run killed at any point leaves a record that the
next ``addon`` resumes from and that ``detach`` undoes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from edge_protocol import names
from kubectl_edge.cluster.client import Cluster
from kubectl_edge.cluster.kinds import CONFIG_MAP, KINDS_BY_NAME, ObjectRef
from kubectl_edge.errors import PreconditionFailed

STATE_REF = ObjectRef(CONFIG_MAP, "kubectl-edge", "kube-system")
FORMAT_VERSION = 1
MANAGED_BY = {names.MANAGED_BY_KEY: names.MANAGED_BY_VALUE}


@dataclass(frozen=True)
class FieldChange:
    """One added or replaced value at a JSON pointer; ``existed`` is False when the path was added."""

    path: str
    new: Any
    old: Any = None
    existed: bool = False


@dataclass
class CreatedObject:
    """An object addon created (or was about to create when the record was written)."""

    ref: ObjectRef
    uid: str | None = None


@dataclass
class PatchRecord:
    """A patch addon applied to an object it did not create."""

    ref: ObjectRef
    changes: list[FieldChange]
    forward: list[dict[str, Any]]
    inverse: list[dict[str, Any]]


@dataclass
class State:
    """Everything kubectl-edge remembers in the cluster."""

    created: list[CreatedObject] = field(default_factory=list)
    patches: list[PatchRecord] = field(default_factory=list)
    preflight: dict[str, Any] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    resource_version: str | None = None

    def find_created(self, ref: ObjectRef) -> CreatedObject | None:
        """The record of a created object, if any."""
        return next((entry for entry in self.created if entry.ref == ref), None)

    def find_patch(self, ref: ObjectRef) -> PatchRecord | None:
        """The record of a patch to an object, if any."""
        return next((entry for entry in self.patches if entry.ref == ref), None)

    def to_data(self) -> dict[str, str]:
        """The ConfigMap's data."""
        inventory = {
            "version": FORMAT_VERSION,
            "created": [{**_ref_json(entry.ref), "uid": entry.uid} for entry in self.created],
            "patches": [{**_ref_json(entry.ref),
                         "changes": [{"path": c.path, "new": c.new, "old": c.old, "existed": c.existed}
                                     for c in entry.changes],
                         "forward": entry.forward, "inverse": entry.inverse} for entry in self.patches],
        }
        data = {"inventory": json.dumps(inventory, indent=1, sort_keys=True)}
        if self.preflight is not None:
            data["preflight"] = json.dumps(self.preflight, indent=1, sort_keys=True)
        if self.settings:
            data["settings"] = json.dumps(self.settings, indent=1, sort_keys=True)
        return data

    def to_body(self) -> dict[str, Any]:
        """The whole ConfigMap body (with the resourceVersion it was read at, for a guarded update)."""
        metadata: dict[str, Any] = {"name": STATE_REF.name, "namespace": STATE_REF.namespace,
                                    "labels": dict(MANAGED_BY)}
        if self.resource_version:
            metadata["resourceVersion"] = self.resource_version
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": self.to_data()}


def _ref_json(ref: ObjectRef) -> dict[str, Any]:
    return {"apiVersion": ref.kind.api_version, "kind": ref.kind.kind, "namespace": ref.namespace, "name": ref.name}


def _ref_from(entry: dict[str, Any]) -> ObjectRef:
    return ObjectRef(KINDS_BY_NAME[entry["kind"]], entry["name"], entry.get("namespace"))


def parse_state(body: dict[str, Any]) -> State:
    """Read the state ConfigMap; refuse one kubectl-edge did not write."""
    labels = (body.get("metadata") or {}).get("labels") or {}
    if labels.get("app.kubernetes.io/managed-by") != MANAGED_BY["app.kubernetes.io/managed-by"]:
        raise PreconditionFailed(
            f"{STATE_REF} exists but was not made by kubectl-edge",
            "rename or remove that ConfigMap; kubectl-edge keeps its record under that name")
    data = body.get("data") or {}
    try:
        inventory = json.loads(data.get("inventory") or "{}")
        state = State(
            created=[CreatedObject(_ref_from(e), e.get("uid")) for e in inventory.get("created", [])],
            patches=[PatchRecord(_ref_from(e), [FieldChange(c["path"], c["new"], c.get("old"), c["existed"])
                                                for c in e["changes"]], e["forward"], e["inverse"])
                     for e in inventory.get("patches", [])],
            preflight=json.loads(data["preflight"]) if data.get("preflight") else None,
            settings=json.loads(data["settings"]) if data.get("settings") else {},
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise PreconditionFailed(f"{STATE_REF} cannot be read ({exc})",
                                 "it was edited by hand; restore it or remove it and run kubectl edge addon again"
                                 ) from exc
    if inventory.get("version", FORMAT_VERSION) > FORMAT_VERSION:
        raise PreconditionFailed(f"{STATE_REF} was written by a newer kubectl-edge",
                                 "upgrade kubectl-edge before running it against this cluster")
    state.resource_version = (body.get("metadata") or {}).get("resourceVersion")
    return state


def load_state(cluster: Cluster) -> State:
    """The remembered state, or an empty one when addon never ran."""
    body = cluster.get(STATE_REF)
    return parse_state(body) if body else State()
