"""``kubectl edge token create|list|delete``: the steps of each command, in order, on an open cluster.

Everything that can refuse (the address, the CA pin, the certificate's names) is checked before the token is
stored, so a refused ``create`` leaves the cluster as it was. Each command first does what the controller
manager would do but does not (``maintenance.maintain``), and deletes the tokens made for one node whose node has
joined (``tokens.retire_node_tokens``).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from edge_protocol import capin, jws
from edge_protocol import token as bootstrap_token
from edge_protocol.duration import format_duration
from edge_protocol.joincommand import build_join_command
from kubectl_edge.bootstrap.fornode import node_of_group
from kubectl_edge.bootstrap.joinline import (
    Address,
    EndpointCheck,
    check_cluster_info_ca,
    check_endpoint,
    choose_address,
    describe,
)
from kubectl_edge.bootstrap.maintenance import maintain
from kubectl_edge.bootstrap.tokens import (
    CreatedToken,
    Deletion,
    Duties,
    StoredToken,
    TokenInventory,
    TokenSpec,
    create_token,
    delete_tokens,
    read_tokens,
    retire_node_tokens,
)
from kubectl_edge.cluster.ca import read_ca
from kubectl_edge.cluster.client import Cluster
from kubectl_edge.notify import Notify
from kubectl_edge.record import load_state
from kubectl_edge.signatures import read_cluster_info, signature_valid

PUBLIC_ADDRESS_SETTING = "publicAddress"


@dataclass(frozen=True)
class CreateRequest:
    """The flags of ``token create``, parsed."""

    spec: TokenSpec
    join: bool = False
    public_address: str | None = None
    ca_cert_file: str | None = None
    install_pkg_path: str | None = None
    check_timeout: float = 5.0


@dataclass(frozen=True)
class JoinPlan:
    """The join line's ingredients, settled before the token exists."""

    address: Address
    pins: list[str]
    check: EndpointCheck


@dataclass(frozen=True)
class CreateResult:
    """The stored token and, when asked for, its join line."""

    created: CreatedToken
    ttl_seconds: float
    plan: JoinPlan | None = None
    join_command: str | None = None

    def to_json(self) -> dict[str, Any]:
        """``token create -o json|yaml``: the token, its ID, expiry, join command and endpoint strategy."""
        record = self.created.record
        document: dict[str, Any] = {
            "id": self.created.token.id,
            "token": self.created.token.value,
            "expires": None if record.expiration is None else bootstrap_token.format_expiration(record.expiration),
            "ttl": format_duration(self.ttl_seconds) if self.ttl_seconds else None,
            "usages": list(record.usages),
            "groups": list(record.groups),
            "description": record.description,
            "node": next((node for node in map(node_of_group, record.groups) if node), None),
            "signedBy": self.created.signed_by,
        }
        if self.plan is not None:
            document.update({
                "joinCommand": self.join_command,
                "address": self.plan.address.text,
                "addressSource": self.plan.address.source,
                "strategy": self.plan.check.strategy,
                "caCertHashes": list(self.plan.pins),
            })
        return document


def _maintain(cluster: Cluster, duties: Duties, notify: Notify) -> TokenInventory | None:
    """Do the controller manager's missing work; return the tokens when they had to be read for it."""
    if duties.settled:
        return None
    inventory = read_tokens(cluster)
    maintain(cluster, duties, inventory, notify)
    return inventory


def plan_join(cluster: Cluster, request: CreateRequest, remembered: str | None, notify: Notify) -> JoinPlan:
    """Choose the address and the pins, and try the address from here; refuse before anything is stored."""
    address, warnings = choose_address(request.public_address, remembered, cluster.server)
    ca_pem = read_ca(cluster.resolved, request.ca_cert_file).pem
    pins = capin.pins_of(ca_pem)
    check = check_endpoint(address, ca_pem, pins, request.check_timeout)
    info = read_cluster_info(cluster)
    check_cluster_info_ca(None if info is None else info.get(jws.KUBECONFIG_KEY), pins)
    for warning in warnings:
        notify("warning", warning)
    notify("endpoint" if check.reachable else "warning", describe(address, check))
    if info is None:
        notify("warning", "kube-public/cluster-info does not exist, so nodes cannot discover the cluster with this "
                          "token; run kubectl edge addon")
    if bootstrap_token.USAGE_SIGNING not in request.spec.usages:
        notify("warning", "the token lacks the 'signing' usage, so cluster-info is never signed for it and node "
                          "discovery with it fails; add --usages signing,authentication")
    return JoinPlan(address, pins, check)


def run_create(cluster: Cluster, request: CreateRequest, notify: Notify) -> CreateResult:
    """``token create``: check the join address (when the line is wanted), store the token, see it signed."""
    state = load_state(cluster)
    duties = Duties.from_state(state)
    plan = plan_join(cluster, request, state.settings.get(PUBLIC_ADDRESS_SETTING), notify) if request.join else None
    _maintain(cluster, duties, notify)
    retire_node_tokens(cluster, duties, notify)
    created = create_token(cluster, request.spec, duties, notify)
    line = None
    if plan is not None:
        digest = package_sha256(request.install_pkg_path, notify) if request.install_pkg_path else None
        line = build_join_command(plan.address.text, created.token, plan.pins, request.install_pkg_path,
                                  install_pkg_sha256=digest)
    return CreateResult(created, request.spec.ttl_seconds, plan, line)


def package_sha256(location: str, notify: Notify) -> str | None:
    """The SHA-256 of the install package when it is a file here, for the join line to carry.

    The node checks the package against it: a package fetched by URL has no other integrity anchor, and
    the manifest inside a package vouches only for itself. A URL or a path that is not a file here (it
    names the file on the node) gets none; the node then needs an https URL or its own
    ``--install-pkg-sha256``.
    """
    import hashlib
    import os
    import urllib.parse

    if urllib.parse.urlsplit(location).scheme.lower() in ("http", "https", "ftp") or not os.path.isfile(location):
        notify("warning", f"the install package {location} is not a file here, so the join line carries no "
                          "--install-pkg-sha256: nodes need an https URL, or add --install-pkg-sha256 to the line "
                          "yourself")
        return None
    digest = hashlib.sha256()
    with open(location, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    notify("package", f"the install package {location} has sha256 {digest.hexdigest()}; the join line carries it")
    return digest.hexdigest()


@dataclass
class ListResult:
    """``token list``: the tokens to show (never with their secret) and what was left out."""

    tokens: list[StoredToken]
    signed: dict[str, bool | None]
    hidden_probes: int = 0
    malformed: list[str] = field(default_factory=list)
    now: datetime.datetime = field(default_factory=lambda: datetime.datetime.now(datetime.timezone.utc))

    def to_json(self) -> dict[str, Any]:
        """``token list -o json|yaml``."""
        return {"tokens": [stored.to_json(self.now, self.signed.get(stored.id)) for stored in self.tokens]}


def run_list(cluster: Cluster, notify: Notify) -> ListResult:
    """``token list``: every bootstrap token of the cluster, kubeadm's included, minus addon's probe tokens.

    Probe tokens live for the seconds addon's preflight takes (or until the next addon, after a killed run);
    no node can use them, so they are left out and counted.
    """
    duties = Duties.from_state(load_state(cluster))
    inventory = _maintain(cluster, duties, notify) or read_tokens(cluster)
    retire_node_tokens(cluster, duties, notify, inventory)
    tokens = inventory.tokens
    info = read_cluster_info(cluster) or {}
    signed: dict[str, bool | None] = {}
    for stored in tokens:
        token = stored.record.token
        signed[stored.id] = signature_valid(info, token) if stored.signing and token is not None else None
    shown = [stored for stored in tokens if not stored.is_probe]
    return ListResult(shown, signed, hidden_probes=len(tokens) - len(shown), malformed=inventory.malformed)


def run_delete(cluster: Cluster, token_ids: list[str], notify: Notify) -> Deletion:
    """``token delete``: delete the tokens (and their signatures when kubectl-edge signs)."""
    duties = Duties.from_state(load_state(cluster))
    _maintain(cluster, duties, notify)
    retired = retire_node_tokens(cluster, duties, notify)
    result = delete_tokens(cluster, [token_id for token_id in token_ids if token_id not in retired], duties, notify)
    # A token the housekeeping above just deleted was still asked for: it is gone, as asked.
    result.deleted = [token_id for token_id in token_ids if token_id in retired or token_id in result.deleted]
    return result
