"""Bootstrap tokens in the cluster: read, create and delete them, and retire those made for one node.

Tokens are kubeadm's Secrets (``edge_protocol.token``), so kubeadm's tokens and kubectl-edge's are listed and
deleted alike. Those kubectl-edge makes carry ``app.kubernetes.io/managed-by: kubectl-edge`` and
``kubectl-edge.io/purpose: join``; ``detach`` finds them by that label.

Who signs ``kube-public/cluster-info`` and who deletes expired tokens is what addon's preflight measured
(:class:`Duties`): the controller manager's bootstrap signer and token cleaner, or, where they do not run,
kubectl-edge itself (SPEC 3.3): ``create_token`` and ``delete_tokens`` keep the signatures of the tokens they
touch right, and :mod:`kubectl_edge.bootstrap.maintenance` does the rest on every token command.

A token made for one node (``--for-node``, :mod:`kubectl_edge.bootstrap.fornode`) carries that node's group
and label; once the node's client certificate is approved, the next kubectl-edge command deletes it
(:func:`retire_node_tokens`), as nothing in the cluster would.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from edge_protocol import names
from edge_protocol import token as bootstrap_token
from edge_protocol.duration import short_human_duration
from edge_protocol.errors import ProtocolError
from kubectl_edge.bootstrap.fornode import FOR_NODE_LABEL, for_node_description, node_group, node_of_group
from kubectl_edge.bootstrap.nodecsr import node_csrs
from kubectl_edge.cluster.client import Cluster
from kubectl_edge.cluster.kinds import SECRET, ObjectRef
from kubectl_edge.cluster.wait import poll
from kubectl_edge.errors import AlreadyExists, PreconditionFailed, WaitTimeout
from kubectl_edge.notify import Notify
from kubectl_edge.record import State
from kubectl_edge.signatures import edit_signatures, read_cluster_info, signature_valid

TOKEN_FIELD_SELECTOR = f"type={bootstrap_token.SECRET_TYPE}"
#: How long ``token create`` waits for a signature when preflight never measured the signer. A running
#: signer answers in tens of milliseconds (measured on the local cluster), so this only costs time when
#: there is none, and then only until kubectl-edge has signed.
SIGNER_WAIT_SECONDS = 5.0
SIGNED_BY_CONTROLLER = "controller-manager"
SIGNED_BY_KUBECTL_EDGE = "kubectl-edge"
UNSIGNED = "none"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


@dataclass(frozen=True)
class Duties:
    """Whether the controller manager signs cluster-info and deletes expired tokens (None: never measured)."""

    signer: bool | None = None
    cleaner: bool | None = None

    @classmethod
    def from_state(cls, state: State) -> Duties:
        """The findings addon's preflight remembered in the cluster."""
        findings = state.preflight or {}
        signer, cleaner = findings.get("signer"), findings.get("cleaner")
        return cls(signer if isinstance(signer, bool) else None, cleaner if isinstance(cleaner, bool) else None)

    @property
    def settled(self) -> bool:
        """Whether the controller manager does both jobs, so token commands have nothing to maintain."""
        return self.signer is True and self.cleaner is True


#: The apiVersion of kubeadm's ``token list`` output objects.
KUBEADM_OUTPUT_VERSION = "output.kubeadm.k8s.io/v1alpha3"


@dataclass(frozen=True)
class StoredToken:
    """A bootstrap-token Secret as found in the cluster; the record holds the secret (never shown)."""

    record: bootstrap_token.TokenRecord
    name: str
    uid: str
    labels: dict[str, str] = field(default_factory=dict)
    created: datetime.datetime | None = None

    @property
    def id(self) -> str:
        """The public token ID."""
        return self.record.id

    @property
    def managed(self) -> bool:
        """Whether kubectl-edge made the token."""
        return self.labels.get(names.MANAGED_BY_KEY) == names.MANAGED_BY_VALUE

    @property
    def purpose(self) -> str | None:
        """Why kubectl-edge made it (``join``, ``preflight-probe``), None for others' tokens."""
        return self.labels.get(names.PURPOSE_KEY) if self.managed else None

    @property
    def is_probe(self) -> bool:
        """A short-lived token of addon's preflight: not a token for joining."""
        return self.purpose == names.PURPOSE_PREFLIGHT_PROBE

    @property
    def is_join(self) -> bool:
        """A token kubectl-edge made for joining nodes: the ones it signs and cleans itself when needed."""
        return self.purpose == names.PURPOSE_JOIN

    @property
    def node(self) -> str | None:
        """The node the token was made for alone (its for-node group), None for a token any node may use."""
        return next((node for node in map(node_of_group, self.record.groups) if node), None)

    def made_for(self, node: str) -> bool:
        """Whether the token was made for this node alone: its for-node group names it, or (without such a
        group) its description is the node's name or the description ``--for-node`` writes."""
        if self.node is not None:
            return self.node == node
        return self.record.description in (node, for_node_description(node))

    @property
    def signing(self) -> bool:
        """Whether the token may sign cluster-info (usage ``signing``)."""
        return bootstrap_token.USAGE_SIGNING in self.record.usages

    @property
    def ref(self) -> ObjectRef:
        """The Secret."""
        return ObjectRef(SECRET, self.name, bootstrap_token.SECRET_NAMESPACE)

    def to_json(self, now: datetime.datetime, signed: bool | None = None) -> dict[str, Any]:
        """What ``token list -o json|yaml`` shows: everything but the secret."""
        left = self.record.ttl_seconds(now)
        document: dict[str, Any] = {
            "id": self.id,
            "ttl": None if left is None else short_human_duration(left),
            "expires": None if self.record.expiration is None
            else bootstrap_token.format_expiration(self.record.expiration),
            "usages": list(self.record.usages),
            "description": self.record.description,
            "groups": list(self.record.groups),
            "managedBy": self.labels.get(names.MANAGED_BY_KEY),
            "purpose": self.purpose,
            "node": self.node,
        }
        if signed is not None:
            document["signed"] = signed
        return document

    def kubeadm_document(self, now: datetime.datetime) -> dict[str, Any]:
        """The token as ``kubeadm token list -o json`` prints it (``output.kubeadm.k8s.io/v1alpha3``), for
        ``-o jsonpath``: templates written for kubeadm (``{.token}``) read the same fields here."""
        left = self.record.ttl_seconds(now)
        token = self.record.token
        return {
            "kind": "BootstrapToken", "apiVersion": KUBEADM_OUTPUT_VERSION, "creationTimestamp": None,
            "token": token.value if token else self.id,
            "description": self.record.description,
            "ttl": None if left is None else short_human_duration(max(left, 0)),
            "expires": None if self.record.expiration is None
            else bootstrap_token.format_expiration(self.record.expiration),
            "usages": list(self.record.usages),
            "groups": list(self.record.groups),
            "id": self.id,
        }


@dataclass
class TokenInventory:
    """Every bootstrap token in the cluster, and the Secrets of that type that are not valid tokens."""

    tokens: list[StoredToken]
    malformed: list[str]


def read_tokens(cluster: Cluster, label_selector: str | None = None) -> TokenInventory:
    """List the bootstrap-token Secrets of ``kube-system`` (only that type is fetched), sorted by ID."""
    tokens: list[StoredToken] = []
    malformed: list[str] = []
    for secret in cluster.list_objects(SECRET, bootstrap_token.SECRET_NAMESPACE, field_selector=TOKEN_FIELD_SELECTOR,
                                       label_selector=label_selector):
        metadata = secret.get("metadata") or {}
        name = str(metadata.get("name", ""))
        try:
            data = bootstrap_token.decode_secret_data(secret.get("data") or {})
            record = bootstrap_token.parse_secret_data(data, name=name, with_secret=True)
        except ProtocolError:
            # The authenticator ignores such a Secret too; it is reported by name, never by content.
            malformed.append(name)
            continue
        tokens.append(StoredToken(record=record, name=name, uid=str(metadata.get("uid", "")),
                                  labels=dict(metadata.get("labels") or {}),
                                  created=bootstrap_token.parse_api_time(metadata.get("creationTimestamp"))))
    tokens.sort(key=lambda stored: stored.id)
    return TokenInventory(tokens, malformed)


def retire_node_tokens(cluster: Cluster, duties: Duties, notify: Notify,
                       inventory: TokenInventory | None = None) -> list[str]:
    """Delete the tokens made for one node (``--for-node``) whose node has had its client certificate approved.

    Such a token has done its job once the node's first CSR is approved; nothing in the cluster deletes it
    then, so every token command, ``status`` and ``node delete`` do, on their next run. A CSR counts when it
    was posted with the token itself, or is younger than the token (the node joined with another token
    since), so an approval from an earlier life of the same node name does not retire a new token.
    ``inventory`` (when the caller has read every token) is updated to what remains. Returns the IDs deleted.
    """
    # The caller's inventory already holds every token: no second list for the labelled ones.
    source = inventory.tokens if inventory is not None else read_tokens(cluster, label_selector=FOR_NODE_LABEL).tokens
    candidates = [stored for stored in source if FOR_NODE_LABEL in stored.labels and stored.managed and stored.node]
    if not candidates:
        return []
    wanted = {stored.node for stored in candidates}
    approvals: dict[str, list[tuple[datetime.datetime | None, str | None]]] = {}
    for csr in node_csrs(cluster):
        if csr.approved and csr.node in wanted:
            approvals.setdefault(csr.node, []).append((csr.created, csr.bootstrap_token_id))
    retired = []
    for stored in candidates:
        for created, token_id in approvals.get(stored.node or "", []):
            # Timestamps have whole seconds: only a CSR of a later second is surely younger than the token.
            if token_id == stored.id or (created is not None and stored.created is not None
                                         and created > stored.created):
                retired.append(stored)
                break
    if not retired:
        return []
    deletion = delete_tokens(cluster, [stored.id for stored in retired], duties, notify)
    for stored in retired:
        if stored.id in deletion.deleted:
            notify("tokens", f"deleted bootstrap token {stored.id}, made for node {stored.node} alone: the node's "
                             "client certificate was approved, so the token has no further use")
    if inventory is not None:
        inventory.tokens[:] = [stored for stored in inventory.tokens if stored.id not in deletion.deleted]
    return deletion.deleted


# --- create, delete ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TokenSpec:
    """What ``token create`` was asked for; the token is generated when none is given."""

    token: bootstrap_token.BootstrapToken | None = None
    ttl_seconds: float = 24 * 3600.0
    description: str = ""
    usages: tuple[str, ...] = bootstrap_token.DEFAULT_USAGES
    groups: tuple[str, ...] = bootstrap_token.DEFAULT_GROUPS
    for_node: str | None = None

    def made_for_node(self, node: str) -> TokenSpec:
        """The same spec for a token of one node: its group added, a description naming the node if none.

        Raises:
            TokenError: ``node`` is not a usable node name.
        """
        group = node_group(node)
        groups = self.groups if group in self.groups else (*self.groups, group)
        return TokenSpec(self.token, self.ttl_seconds, self.description or for_node_description(node), self.usages,
                         groups, node)


@dataclass(frozen=True)
class CreatedToken:
    """A token just stored, and who signed cluster-info for it (``none`` when nobody could)."""

    token: bootstrap_token.BootstrapToken
    record: bootstrap_token.TokenRecord
    signed_by: str


def secret_body(token: bootstrap_token.BootstrapToken, spec: TokenSpec, now: datetime.datetime) -> dict[str, Any]:
    """The Secret kubeadm would write for the token, with kubectl-edge's labels.

    Raises:
        TokenError: A usage or group is malformed, or the TTL is negative.
    """
    data = bootstrap_token.build_secret_data(token, spec.ttl_seconds, now, description=spec.description,
                                             usages=spec.usages, groups=spec.groups)
    labels = {names.MANAGED_BY_KEY: names.MANAGED_BY_VALUE, names.PURPOSE_KEY: names.PURPOSE_JOIN}
    if spec.for_node:
        labels[FOR_NODE_LABEL] = "true"
    return {"apiVersion": "v1", "kind": "Secret", "type": bootstrap_token.SECRET_TYPE,
            "metadata": {"name": bootstrap_token.secret_name(token.id),
                         "namespace": bootstrap_token.SECRET_NAMESPACE, "labels": labels},
            "stringData": data}


def _wait_for_signer(cluster: Cluster, token: bootstrap_token.BootstrapToken, seconds: float) -> bool:
    """Whether the bootstrap signer signs cluster-info for the token within ``seconds`` (False without it)."""
    def signed() -> bool | None:
        data = read_cluster_info(cluster)
        if data is None:
            return False  # no cluster-info: nothing will be signed
        return True if signature_valid(data, token) else None

    try:
        # A running signer answers in tens of milliseconds: start asking soon, then less often.
        return poll(signed, seconds, 0.02, backoff=2.0, max_interval=0.5,
                    what=f"the bootstrap signer's signature of cluster-info for token {token.id}")
    except WaitTimeout:
        return False


def create_token(cluster: Cluster, spec: TokenSpec, duties: Duties, notify: Notify) -> CreatedToken:
    """Store a new bootstrap token and make sure cluster-info gets signed for it.

    Raises:
        PreconditionFailed: A token with that ID exists already (nothing is changed).
        TokenError: The spec is malformed (nothing is changed).
    """
    token = spec.token or bootstrap_token.generate_token()
    now = _now()
    body = secret_body(token, spec, now)
    try:
        cluster.create(body)
    except AlreadyExists as exc:
        raise PreconditionFailed(f"a bootstrap token with ID {token.id} exists already",
                                 "choose another token, or leave TOKEN out to have one generated") from exc
    record = bootstrap_token.parse_secret_data(body["stringData"])
    if bootstrap_token.USAGE_SIGNING not in record.usages:
        return CreatedToken(token, record, UNSIGNED)
    if duties.signer is True:
        return CreatedToken(token, record, SIGNED_BY_CONTROLLER)
    if duties.signer is None and _wait_for_signer(cluster, token, SIGNER_WAIT_SECONDS):
        return CreatedToken(token, record, SIGNED_BY_CONTROLLER)
    change = edit_signatures(cluster, sign=[token])
    if not change.exists:
        return CreatedToken(token, record, UNSIGNED)
    if duties.signer is None:
        notify("signer", f"no signature appeared in cluster-info within {SIGNER_WAIT_SECONDS:.0f}s, so the "
                         "controller manager's bootstrap signer does not seem to run; kubectl-edge signed it "
                         "(run kubectl edge addon once so that later commands know without waiting)")
    else:
        notify("signer", "signed cluster-info for the token (the controller manager's bootstrap signer does not run)")
    return CreatedToken(token, record, SIGNED_BY_KUBECTL_EDGE)


@dataclass
class Deletion:
    """The tokens ``token delete`` removed and the IDs it did not find."""

    deleted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def parse_token_ids(texts: Sequence[str]) -> list[str]:
    """Token IDs from ``ID`` or ``ID.SECRET`` arguments, in order, without duplicates.

    Raises:
        TokenError: An argument is neither (the message never repeats a secret).
    """
    ids: list[str] = []
    for text in texts:
        token_id = bootstrap_token.token_id_of(text)
        if token_id not in ids:
            ids.append(token_id)
    return ids


def delete_tokens(cluster: Cluster, token_ids: Sequence[str], duties: Duties, notify: Notify) -> Deletion:
    """Delete the tokens' Secrets, and their cluster-info signatures when the controller manager does not."""
    result = Deletion()
    for token_id in token_ids:
        ref = ObjectRef(SECRET, bootstrap_token.secret_name(token_id), bootstrap_token.SECRET_NAMESPACE)
        (result.deleted if cluster.delete(ref) else result.missing).append(token_id)
    if duties.signer is not True:
        # A signature without its token is useless; removing it is what the bootstrap signer would do.
        change = edit_signatures(cluster, remove=token_ids)
        if change.removed:
            notify("signer", f"removed the cluster-info signature of bootstrap token(s) {', '.join(change.removed)}")
    return result
