"""The signatures in ``kube-public/cluster-info``: kubectl-edge signs where the controller manager does not.

Shared by the token commands (which sign and unsign) and detach (which removes the signatures of the tokens it
deletes, so a cluster-info that existed before addon is left as it was).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from edge_protocol import jws
from edge_protocol import token as bootstrap_token
from kubectl_edge.cluster.client import Cluster
from kubectl_edge.cluster.kinds import CONFIG_MAP, ObjectRef
from kubectl_edge.errors import Conflict, Invalid

CLUSTER_INFO = ObjectRef(CONFIG_MAP, jws.CLUSTER_INFO_NAME, jws.CLUSTER_INFO_NAMESPACE)
_PATCH_ATTEMPTS = 5


@dataclass
class SignatureChange:
    """What one edit of cluster-info's signatures did."""

    exists: bool
    signed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def read_cluster_info(cluster: Cluster) -> dict[str, str] | None:
    """The data of ``kube-public/cluster-info``, or None when it does not exist."""
    body = cluster.get(CLUSTER_INFO)
    if body is None:
        return None
    return {str(key): str(value) for key, value in (body.get("data") or {}).items()}


def signature_valid(data: dict[str, str], token: bootstrap_token.BootstrapToken) -> bool:
    """Whether cluster-info holds a signature for the token over its current kubeconfig."""
    signature = data.get(jws.signature_key(token.id))
    kubeconfig = data.get(jws.KUBECONFIG_KEY)
    if signature is None or kubeconfig is None:
        return False
    return jws.verify_detached(kubeconfig, signature, token.id, token.secret)


def edit_signatures(cluster: Cluster, sign: Sequence[bootstrap_token.BootstrapToken] = (),
                    remove: Iterable[str] = ()) -> SignatureChange:
    """Sign cluster-info for tokens whose signature is missing or stale, and remove others' signatures.

    One JSON patch, guarded by a ``test`` of the kubeconfig that was signed and of each value removed, so a
    concurrent change (a new kubeconfig, the controller manager's signer) makes it fail and be redone from
    what the cluster then holds, instead of storing a signature over an old kubeconfig.
    """
    signing_ids = {token.id for token in sign}
    remove_ids = [token_id for token_id in remove if token_id not in signing_ids]
    for _ in range(_PATCH_ATTEMPTS):
        data = read_cluster_info(cluster)
        if data is None:
            return SignatureChange(exists=False)
        kubeconfig = data.get(jws.KUBECONFIG_KEY)
        change = SignatureChange(exists=True)
        operations: list[dict[str, Any]] = []
        if kubeconfig is not None:
            operations.append({"op": "test", "path": f"/data/{jws.KUBECONFIG_KEY}", "value": kubeconfig})
            for token in sign:
                if not signature_valid(data, token):
                    operations.append({"op": "add", "path": f"/data/{jws.signature_key(token.id)}",
                                       "value": jws.sign_detached(kubeconfig, token.id, token.secret)})
                    change.signed.append(token.id)
        for token_id in remove_ids:
            key = jws.signature_key(token_id)
            if key in data:
                operations += [{"op": "test", "path": f"/data/{key}", "value": data[key]},
                               {"op": "remove", "path": f"/data/{key}"}]
                change.removed.append(token_id)
        if not change.signed and not change.removed:
            return change
        try:
            cluster.json_patch(CLUSTER_INFO, operations)
        except (Invalid, Conflict):
            continue  # cluster-info changed between the read and the patch: decide again on what it holds now
        return change
    raise Conflict(f"{CLUSTER_INFO} kept changing while kubectl-edge updated its signatures",
                   "something rewrites it continuously; run the command again")
