"""Tokens made for one node (``token create --for-node``): the group that marks them, and their label.

Such a token carries, besides kubeadm's default group, ``system:bootstrappers:kubectl-edge:node:<name>``,
so the node it was made for is known from the token itself; its Secret carries ``kubectl-edge.io/for-node``,
so every command finds these tokens with one small label-selected list.
"""

from __future__ import annotations

import re

from edge_protocol import token as bootstrap_token
from edge_protocol.errors import TokenError

#: The extra group of a token made for one node (``token create --for-node``); kubeadm's default group stays
#: too, so kubeadm's RBAC for joining applies unchanged. Bootstrap groups cannot hold dots, node names can,
#: so a dot is written as a colon (which node names never contain): the mapping is one-to-one.
NODE_GROUP_PREFIX = bootstrap_token.GROUP_PREFIX + "kubectl-edge:node:"
#: On the Secrets of tokens made for one node, so every command finds them with one small label-selected list.
FOR_NODE_LABEL = "kubectl-edge.io/for-node"
_NODE_NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
#: kubeadm's group pattern allows 256 characters after ``system:bootstrappers:``.
MAX_FOR_NODE_NAME = 256 - len(NODE_GROUP_PREFIX) + len(bootstrap_token.GROUP_PREFIX)


def node_group(node: str) -> str:
    """The extra group that marks a token as made for ``node`` alone.

    Raises:
        TokenError: ``node`` is not a valid node name, or too long to fit in a bootstrap group.
    """
    if not _NODE_NAME_RE.fullmatch(node) or len(node) > 253:
        raise TokenError(f"{node!r} is not a valid node name",
                         "node names are lowercase letters, digits, '-' and '.', starting and ending with a letter or "
                         "digit (as kubectl get nodes shows them)")
    if len(node) > MAX_FOR_NODE_NAME:
        raise TokenError(f"the node name {node!r} is {len(node)} characters long; a bootstrap token's group can "
                         f"name nodes of at most {MAX_FOR_NODE_NAME}",
                         "create a token without --for-node for this node and delete it after the join")
    return bootstrap_token.validate_group(NODE_GROUP_PREFIX + node.replace(".", ":"))


def node_of_group(group: str) -> str | None:
    """The node a for-node group names, None for any other group."""
    if not group.startswith(NODE_GROUP_PREFIX) or len(group) == len(NODE_GROUP_PREFIX):
        return None
    return group[len(NODE_GROUP_PREFIX):].replace(":", ".")


def for_node_description(node: str) -> str:
    """The description ``token create --for-node`` gives a token when none is asked for."""
    return f"for node {node}"
