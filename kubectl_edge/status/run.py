"""The status command: the for-node token housekeeping, then everything status shows, then the problems."""

from __future__ import annotations

from edge_protocol.versions import KubeVersion
from kubectl_edge.addon.recognition import edgeadm_components
from kubectl_edge.bootstrap.tokens import Duties, read_tokens, retire_node_tokens
from kubectl_edge.cluster.client import Cluster
from kubectl_edge.notify import Notify
from kubectl_edge.record import load_state
from kubectl_edge.status.kubelet_access import check_kubelets
from kubectl_edge.status.nodes import read_edge_nodes
from kubectl_edge.status.parts import read_components, read_prerequisites, summarize_token
from kubectl_edge.status.problems import find_problems
from kubectl_edge.status.release import read_release
from kubectl_edge.status.report import StatusReport


def run_status(cluster: Cluster, notify: Notify) -> StatusReport:
    """Read everything status shows (after the for-node token housekeeping) and find the problems."""
    version = cluster.server_version()
    git_version = str(version.get("gitVersion") or f"v{version.get('major', '1')}.{version.get('minor', '0')}")
    server = KubeVersion.read(git_version) or KubeVersion(1, 0)
    major, minor = server.major, server.minor
    state = load_state(cluster)
    duties = Duties.from_state(state)
    inventory = read_tokens(cluster)
    retired = retire_node_tokens(cluster, duties, notify, inventory)
    report = StatusReport(
        server_version=git_version,
        addon_ran=state.resource_version is not None,
        release=read_release(cluster),
        components=read_components(cluster),
        prerequisites=read_prerequisites(cluster, state, major, minor),
        duties=duties,
        tokens=[summarize_token(stored) for stored in inventory.tokens if not stored.is_probe],
        edge_nodes=read_edge_nodes(cluster),
        retired_tokens=retired,
    )
    # Only the components: the rewrites and repairs are addon's business, and cost a list of every Node.
    report.superedge = edgeadm_components(cluster)
    report.kubelet_access = check_kubelets(cluster, report.edge_nodes)
    report.problems = find_problems(report)
    return report
