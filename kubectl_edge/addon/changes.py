"""What addon does to one object (create, patch the missing parts, or keep), and how it is undone.

Pure functions over object bodies. Patches are RFC 6902 operations computed with ``jsonpatch`` from the
difference between the object as it is and as it would be with only the missing parts added; every patch
carries ``test`` operations on what it relies on, so a concurrent edit makes it fail instead of clobbering.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import jsonpatch
import yaml

from kubectl_edge import yamltext
from kubectl_edge.addon.prerequisites import Desired, WhenPresent
from kubectl_edge.cluster.kinds import ObjectRef
from kubectl_edge.record import FieldChange

_ABSENT: Any = object()


class Verb(str, Enum):
    """The kind of change."""

    create = "create"
    patch = "patch"
    keep = "keep"


@dataclass
class Action:
    """The change planned for one object."""

    verb: Verb
    ref: ObjectRef
    body: dict[str, Any] | None = None
    changes: list[FieldChange] = field(default_factory=list)
    forward: list[dict[str, Any]] = field(default_factory=list)
    inverse: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""


def _pointer_get(document: Any, path: str) -> Any:
    try:
        return jsonpatch.JsonPointer(path).resolve(document)
    except jsonpatch.JsonPointerException:
        return _ABSENT


def patch_action(ref: ObjectRef, current: dict[str, Any], merged: dict[str, Any], note: str) -> Action:
    """The guarded patch (and its inverse) that turns ``current`` into ``merged``, which only adds to it."""
    operations = jsonpatch.make_patch(current, merged).patch
    changes: list[FieldChange] = []
    forward: list[dict[str, Any]] = []
    for operation in operations:
        old = _pointer_get(current, operation["path"])
        existed = old is not _ABSENT
        changes.append(FieldChange(operation["path"], operation["value"], None if not existed else old, existed))
        if existed:
            forward.append({"op": "test", "path": operation["path"], "value": old})
    if any(not change.existed for change in changes):
        # An absent path cannot be tested; the resourceVersion proves nobody added it since we looked.
        forward.insert(0, {"op": "test", "path": "/metadata/resourceVersion",
                           "value": current["metadata"]["resourceVersion"]})
    forward.extend(operations)
    return Action(Verb.patch, ref, changes=changes, forward=forward, inverse=inverse_patch(changes), note=note)


def inverse_patch(changes: list[FieldChange]) -> list[dict[str, Any]]:
    """Operations that undo ``changes``, each guarded by a test that the value is still ours."""
    operations: list[dict[str, Any]] = []
    for change in reversed(changes):
        operations.append({"op": "test", "path": change.path, "value": change.new})
        if change.existed:
            operations.append({"op": "replace", "path": change.path, "value": change.old})
        else:
            operations.append({"op": "remove", "path": change.path})
    return operations


def _append_yaml_fields(text: str, desired_text: str) -> tuple[str | None, list[str], str]:
    """The document with the desired top-level fields it lacks appended; (None, ..) if it cannot be done."""
    try:
        current = yamltext.load(text)
        desired = yamltext.load(desired_text)
    except yaml.YAMLError as exc:
        return None, [], f"its YAML does not parse ({exc.__class__.__name__})"
    if not isinstance(current, dict) or not isinstance(desired, dict):
        return None, [], "it is not a YAML mapping"
    missing = {key: value for key, value in desired.items() if key not in current}
    if not missing:
        return None, [], "exists; every field is present"
    # Appending keeps every byte the owner wrote; the result must parse to the union.
    addition = yaml.safe_dump(missing, sort_keys=True, default_flow_style=False)
    joined = text if text.endswith("\n") or not text else text + "\n"
    merged = joined + addition
    try:
        if yamltext.load(merged) != {**current, **missing}:
            return None, [], "fields cannot be appended to a document of this shape"
    except yaml.YAMLError:
        return None, [], "fields cannot be appended to a document of this shape"
    return merged, sorted(missing), ""


def plan_object(desired: Desired, current: dict[str, Any] | None) -> Action:
    """Decide what to do about one desired object given the live one (None when absent)."""
    ref = ObjectRef.of(desired.body)
    if current is None:
        return Action(Verb.create, ref, body=copy.deepcopy(desired.body), note="missing")
    if desired.when_present is WhenPresent.keep:
        return Action(Verb.keep, ref, note="exists; kept as it is")
    current_data = current.get("data") or {}
    wanted_data: dict[str, str] = desired.body.get("data") or {}
    merged = copy.deepcopy(current)
    added_keys = [name for name in wanted_data if name not in current_data]
    if added_keys:
        merged.setdefault("data", {})
        for name in added_keys:
            merged["data"][name] = wanted_data[name]
    notes = [f"adds data keys {', '.join(added_keys)}"] if added_keys else []
    key = desired.yaml_key
    if desired.when_present is WhenPresent.add_missing_yaml_fields and key and key in current_data:
        text, fields, why = _append_yaml_fields(current_data[key], wanted_data[key])
        if text is not None:
            merged["data"][key] = text
            notes.append(f"adds fields {', '.join(fields)} to {key}")
        elif not added_keys:
            return Action(Verb.keep, ref, note=why)
    if merged == current:
        return Action(Verb.keep, ref, note="exists; every key is present")
    return patch_action(ref, current, merged, "; ".join(notes))


class RevertState(str, Enum):
    """Where a recorded change stands on the live object."""

    ours = "ours"            # the value we wrote is there: revert it
    reverted = "reverted"    # the value before us is there (never applied, or reverted already)
    changed = "changed"      # somebody changed it since: leave it


def revert_state(change: FieldChange, live: dict[str, Any] | None) -> RevertState:
    """Classify one recorded change against the live object."""
    if live is None:
        return RevertState.reverted
    value = _pointer_get(live, change.path)
    if value is not _ABSENT and value == change.new:
        return RevertState.ours
    if (not change.existed and value is _ABSENT) or (change.existed and value == change.old):
        return RevertState.reverted
    return RevertState.changed
