"""Everything ``kubectl edge status`` found, and its ``-o json|yaml`` form."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from kubectl_edge.bootstrap.tokens import SIGNED_BY_CONTROLLER, SIGNED_BY_KUBECTL_EDGE, Duties
from kubectl_edge.record import STATE_REF
from kubectl_edge.status.common import Problem, utc_now
from kubectl_edge.status.kubelet_access import KubeletAccess
from kubectl_edge.status.nodes import EdgeNode
from kubectl_edge.status.parts import Component, Prerequisite, TokenSummary
from kubectl_edge.status.release import Release


@dataclass
class StatusReport:
    """Everything ``kubectl edge status`` found."""

    server_version: str
    addon_ran: bool
    release: Release | None
    components: list[Component]
    prerequisites: list[Prerequisite]
    duties: Duties
    tokens: list[TokenSummary]
    edge_nodes: list[EdgeNode]
    now: datetime.datetime = field(default_factory=utc_now)
    retired_tokens: list[str] = field(default_factory=list)
    kubelet_access: list[KubeletAccess] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    #: components SuperEdge's edgeadm installed, without Helm ownership (kubectl_edge.addon.adopt)
    superedge: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """``status -o json|yaml``."""
        return {
            "serverVersion": self.server_version,
            "addon": {"ran": self.addon_ran, "record": f"{STATE_REF.namespace}/{STATE_REF.name}",
                      "release": self.release.to_json() if self.release else None,
                      "components": [component.to_json() for component in self.components],
                      **({"installedByEdgeadm": self.superedge} if self.superedge else {})},
            "prerequisites": [prerequisite.to_json() for prerequisite in self.prerequisites],
            "signing": {"signer": duty_owner(self.duties.signer), "cleaner": duty_owner(self.duties.cleaner)},
            "tokens": [token.to_json(self.now) for token in self.tokens],
            "edgeNodes": [node.to_json() for node in self.edge_nodes],
            "kubeletAccess": [access.to_json() for access in self.kubelet_access],
            "problems": [problem.to_json() for problem in self.problems],
        }


DUTY_UNKNOWN = "not measured"


def duty_owner(controller_does_it: bool | None) -> str:
    """Who signs cluster-info or cleans expired tokens, by what addon's preflight measured."""
    if controller_does_it is None:
        return DUTY_UNKNOWN
    return SIGNED_BY_CONTROLLER if controller_does_it else SIGNED_BY_KUBECTL_EDGE
