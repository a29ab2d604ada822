"""Which node a CertificateSigningRequest belongs to, and whether it was approved.

A kubelet's TLS bootstrap posts a CSR as its bootstrap token's user (``system:bootstrap:<id>``) for the
subject ``CN=system:node:<name>``; renewals are posted by the node itself (``system:node:<name>``). Both
belong to the node: the first by the name it asked for, the second by who asked.
"""

from __future__ import annotations

import base64
import binascii
import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from edge_protocol import token as bootstrap_token
from kubectl_edge.cluster.client import Cluster
from kubectl_edge.cluster.kinds import CSR, ObjectRef

NODE_USER_PREFIX = "system:node:"
#: CSRs carry their PEM request and, once issued, the certificate: a few KiB each, so small pages.
CSR_PAGE_SIZE = 100


def requested_common_name(request_b64: str) -> str | None:
    """The subject CN of a CSR's ``spec.request`` (base64 of a PEM request), None when it cannot be read."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        pem = base64.b64decode(request_b64, validate=True)
        request = x509.load_pem_x509_csr(pem)
        names = request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except (ValueError, binascii.Error, TypeError):
        return None
    if not names:
        return None
    value = names[0].value
    return value if isinstance(value, str) else value.decode(errors="replace")


def node_of_csr(csr: dict[str, Any]) -> str | None:
    """The node a CSR is for: asked by the node itself, or by a bootstrap token for a node's name."""
    spec = csr.get("spec") or {}
    username = str(spec.get("username") or "")
    if username.startswith(NODE_USER_PREFIX):
        return username[len(NODE_USER_PREFIX):] or None
    if username.startswith(bootstrap_token.USER_PREFIX):
        common_name = requested_common_name(str(spec.get("request") or ""))
        if common_name and common_name.startswith(NODE_USER_PREFIX):
            return common_name[len(NODE_USER_PREFIX):] or None
    return None


def _condition_types(csr: dict[str, Any]) -> set[str]:
    conditions = (csr.get("status") or {}).get("conditions") or []
    return {str(c.get("type")) for c in conditions if str(c.get("status", "True")) == "True"}


def state_of(csr: dict[str, Any]) -> str:
    """``Approved``, ``Denied``, ``Failed`` or ``Pending``, as kubectl get csr shows the condition."""
    types = _condition_types(csr)
    for state in ("Denied", "Failed", "Approved"):
        if state in types:
            return state
    return "Pending"


@dataclass(frozen=True)
class NodeCsr:
    """A CSR of some node, with only what kubectl-edge needs of it."""

    name: str
    uid: str
    node: str
    username: str
    state: str
    created: datetime.datetime | None

    @property
    def ref(self) -> ObjectRef:
        """The CSR object."""
        return ObjectRef(CSR, self.name)

    @property
    def approved(self) -> bool:
        """Approved (and neither denied nor failed)."""
        return self.state == "Approved"

    @property
    def bootstrap_token_id(self) -> str | None:
        """The bootstrap token that posted the CSR, when a token did."""
        if self.username.startswith(bootstrap_token.USER_PREFIX):
            return self.username[len(bootstrap_token.USER_PREFIX):]
        return None


def node_csrs(cluster: Cluster) -> Iterator[NodeCsr]:
    """Every CSR that belongs to a node, read a page at a time; others' CSRs are skipped."""
    for csr in cluster.list_objects(CSR, page_size=CSR_PAGE_SIZE):
        node = node_of_csr(csr)
        if node is None:
            continue
        metadata = csr.get("metadata") or {}
        yield NodeCsr(name=str(metadata.get("name", "")), uid=str(metadata.get("uid", "")), node=node,
                      username=str((csr.get("spec") or {}).get("username") or ""), state=state_of(csr),
                      created=bootstrap_token.parse_api_time(metadata.get("creationTimestamp")))
