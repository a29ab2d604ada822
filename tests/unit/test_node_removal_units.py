"""node delete and --for-node without a cluster: whose CSR, whose token, which pods drain leaves alone."""

from __future__ import annotations

import base64
import datetime

import pytest

from edge_protocol import names
from edge_protocol import token as bootstrap_token
from edge_protocol.errors import TokenError
from kubectl_edge.bootstrap.fornode import FOR_NODE_LABEL, node_group, node_of_group
from kubectl_edge.bootstrap.nodecsr import node_of_csr, state_of
from kubectl_edge.bootstrap.tokens import StoredToken, TokenSpec, secret_body
from kubectl_edge.node.removal import skipped_by_drain

NOW = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)


def _request(common_name: str) -> str:
    """A PEM CSR, base64-encoded as spec.request holds it (built here with cryptography)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
                         x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    request = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode()


@pytest.mark.parametrize(("username", "common_name", "node"), [
    ("system:node:edge-1", "system:node:edge-1", "edge-1"),  # a renewal, posted by the node
    ("system:bootstrap:abcdef", "system:node:edge-2", "edge-2"),  # TLS bootstrap with a token
    ("system:bootstrap:abcdef", "someone-else", None),  # a token asking for something that is not a node
    ("alice", "system:node:edge-3", None),  # a user asking for a node's name is not the node
    ("system:node:", "system:node:x", None),
])
def test_whose_csr(username: str, common_name: str, node: str | None) -> None:
    csr = {"spec": {"username": username, "request": _request(common_name)}}
    assert node_of_csr(csr) == node


def test_unreadable_request_is_nobodys() -> None:
    assert node_of_csr({"spec": {"username": "system:bootstrap:abcdef", "request": "bm90IGEgY3Ny"}}) is None


@pytest.mark.parametrize(("conditions", "state"), [
    ([], "Pending"), ([{"type": "Approved", "status": "True"}], "Approved"),
    ([{"type": "Approved", "status": "True"}, {"type": "Failed", "status": "True"}], "Failed"),
    ([{"type": "Denied", "status": "True"}], "Denied"), ([{"type": "Approved", "status": "False"}], "Pending")])
def test_csr_state(conditions: list[dict[str, str]], state: str) -> None:
    assert state_of({"status": {"conditions": conditions}}) == state


@pytest.mark.parametrize(("node", "group"), [
    ("edge-1", "system:bootstrappers:kubectl-edge:node:edge-1"),
    ("edge-1.site.example", "system:bootstrappers:kubectl-edge:node:edge-1:site:example"),
])
def test_node_groups_are_valid_bootstrap_groups_and_name_the_node(node: str, group: str) -> None:
    assert node_group(node) == group
    assert bootstrap_token.validate_group(group) == group
    assert node_of_group(group) == node
    assert node_of_group(bootstrap_token.DEFAULT_GROUP) is None


@pytest.mark.parametrize("node", ["Edge-1", "-edge", "edge_1", "", "a" * 239, "edge..1"])
def test_unusable_node_names_are_refused(node: str) -> None:
    with pytest.raises(TokenError):
        node_group(node)


def test_longest_node_name_that_fits() -> None:
    assert node_of_group(node_group("a" * 238)) == "a" * 238


def _stored(spec: TokenSpec, labels: dict[str, str] | None = None) -> StoredToken:
    token = bootstrap_token.generate_token()
    body = secret_body(token, spec, NOW)
    record = bootstrap_token.parse_secret_data(body["stringData"], with_secret=True)
    return StoredToken(record, body["metadata"]["name"], "uid", labels if labels is not None
                       else body["metadata"]["labels"], NOW)


def test_a_for_node_token_keeps_the_default_group_and_is_labelled() -> None:
    spec = TokenSpec().made_for_node("edge-1")
    assert spec.groups == (bootstrap_token.DEFAULT_GROUP, "system:bootstrappers:kubectl-edge:node:edge-1")
    assert spec.description == "for node edge-1"
    body = secret_body(bootstrap_token.generate_token(), spec, NOW)
    assert body["metadata"]["labels"] == {names.MANAGED_BY_KEY: names.MANAGED_BY_VALUE,
                                          names.PURPOSE_KEY: names.PURPOSE_JOIN, FOR_NODE_LABEL: "true"}
    assert FOR_NODE_LABEL not in secret_body(bootstrap_token.generate_token(), TokenSpec(), NOW)["metadata"]["labels"]
    # An own description is kept; the group still names the node.
    assert TokenSpec(description="site 7").made_for_node("edge-1").description == "site 7"


def test_which_tokens_were_made_for_a_node_alone() -> None:
    by_group = _stored(TokenSpec(description="site 7").made_for_node("edge-1"))
    assert by_group.node == "edge-1" and by_group.made_for("edge-1") and not by_group.made_for("edge-2")
    # Without the group, the description decides: the node's name, or what --for-node writes.
    by_name = _stored(TokenSpec(description="edge-2"), labels={})
    by_our_words = _stored(TokenSpec(description="for node edge-2"), labels={})
    shared = _stored(TokenSpec(description="edge nodes of site 2"), labels={})
    assert by_name.made_for("edge-2") and by_our_words.made_for("edge-2") and not shared.made_for("edge-2")
    # A group naming another node wins over a description.
    contradicting = _stored(TokenSpec(description="edge-2").made_for_node("edge-3"))
    assert not contradicting.made_for("edge-2") and contradicting.made_for("edge-3")


@pytest.mark.parametrize(("metadata", "skipped"), [
    ({}, False),
    ({"annotations": {"kubernetes.io/config.mirror": "abc"}}, True),
    ({"ownerReferences": [{"kind": "DaemonSet", "name": "x", "controller": True}]}, True),
    ({"ownerReferences": [{"kind": "DaemonSet", "name": "x"}]}, False),  # owned, not controlled
    ({"ownerReferences": [{"kind": "ReplicaSet", "name": "x", "controller": True}]}, False),
])
def test_pods_drain_leaves_alone(metadata: dict[str, object], skipped: bool) -> None:
    assert (skipped_by_drain({"metadata": {"name": "p", **metadata}}) is not None) is skipped
