"""The signer's and the cleaner's work, done by token commands when the controller manager does not do it.

Whether it does is what addon's preflight measured (:class:`~kubectl_edge.bootstrap.tokens.Duties`). Where
no token cleaner runs, kubectl-edge deletes its own expired join tokens; where no bootstrap signer runs, it
signs cluster-info for its join tokens and removes the signatures of deleted ones (SPEC 3.3). A signature
is deterministic (HS256 over the same bytes with the same key), so one that the signer also writes never
disagrees with it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from kubectl_edge.bootstrap.tokens import Duties, TokenInventory
from kubectl_edge.cluster.client import Cluster
from kubectl_edge.errors import Conflict
from kubectl_edge.notify import Notify
from kubectl_edge.signatures import edit_signatures

#: A token older than this still unsigned (or signed over an older kubeconfig) proves that no signer runs.
SIGNER_GRACE_SECONDS = 10.0


@dataclass
class Maintenance:
    """What a token command did on the controller manager's behalf."""

    deleted_expired: list[str] = field(default_factory=list)
    signed: list[str] = field(default_factory=list)
    removed_signatures: list[str] = field(default_factory=list)


def maintain(cluster: Cluster, duties: Duties, inventory: TokenInventory, notify: Notify,
             now: datetime.datetime | None = None) -> Maintenance:
    """Delete expired join tokens kubectl-edge made when no cleaner runs; keep their signatures right.

    Only kubectl-edge's join tokens are touched: others' tokens are their owners' business, and addon's
    deliberately expired probe token measures the cleaner, so deleting it would falsify that measurement.
    ``inventory`` is updated to what remains.
    """
    moment = now or datetime.datetime.now(datetime.timezone.utc)
    result = Maintenance()
    if duties.cleaner is not True:
        for stored in [t for t in inventory.tokens if t.is_join and t.record.expired(moment)]:
            try:
                cluster.delete(stored.ref, uid=stored.uid)
            except Conflict:
                continue  # replaced by a new Secret of the same name since it was read: not the expired one
            inventory.tokens.remove(stored)
            result.deleted_expired.append(stored.id)
            notify("cleaner", f"deleted expired bootstrap token {stored.id} (no token cleaner runs in the "
                              "controller manager)")
    if duties.signer is True:
        return result  # the bootstrap signer removes signatures of deleted tokens and re-signs on changes
    candidates = [t for t in inventory.tokens if t.is_join and t.signing and not t.record.expired(moment)]
    if duties.signer is None:
        # Never measured: only a token left unsigned for a while proves that no signer runs.
        candidates = [t for t in candidates
                      if t.created is not None and (moment - t.created).total_seconds() >= SIGNER_GRACE_SECONDS]
    tokens = [t.record.token for t in candidates if t.record.token is not None]
    if not tokens and not result.deleted_expired:
        return result
    change = edit_signatures(cluster, sign=tokens, remove=result.deleted_expired)
    result.signed, result.removed_signatures = change.signed, change.removed
    if change.signed:
        notify("signer", f"signed cluster-info for bootstrap token(s) {', '.join(change.signed)} (cluster-info "
                         "changed or had no signature for them, and the controller manager does not sign)")
    return result
