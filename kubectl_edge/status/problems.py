"""What is wrong, found in the status report, each with what to do about it."""

from __future__ import annotations

from edge_protocol.duration import short_human_duration
from kubectl_edge.addon.chart import NAMESPACE, RELEASE
from kubectl_edge.addon.helm import DEPLOYED
from kubectl_edge.record import STATE_REF
from kubectl_edge.status.common import Problem, name_list
from kubectl_edge.status.kubelet_access import kubelet_problems
from kubectl_edge.status.report import StatusReport
from kubectl_edge.status.skew import skew_problems

TOKEN_EXPIRY_WARNING_SECONDS = 3600.0


def find_problems(report: StatusReport) -> list[Problem]:
    """Every problem in the report, each with what to do about it."""
    problems: list[Problem] = []
    if report.release is None and report.superedge:
        problems.append(Problem("installed-by-edgeadm", "the edge components were installed by SuperEdge's edgeadm "
                                f"(no Helm release {RELEASE}): {name_list(report.superedge)}",
                                "run kubectl edge addon --adopt: it makes them the release and keeps the tunnel "
                                "token, certificates and NodePorts the edge nodes use (--dry-run shows the plan)"))
    elif not report.addon_ran:
        problems.append(Problem("addon-never-ran", f"kubectl edge addon has never run in this cluster (no "
                                f"{STATE_REF.namespace}/{STATE_REF.name} record)",
                                "run kubectl edge addon: it prepares the join prerequisites and installs the "
                                "edge components"))
    else:
        for prerequisite in report.prerequisites:
            if not prerequisite.present:
                problems.append(Problem("prerequisite-missing", f"the join prerequisite {prerequisite.ref} is "
                                        "missing, so edge nodes cannot join",
                                        "run kubectl edge addon: it creates missing prerequisites again",
                                        (str(prerequisite.ref),)))
        if report.release is None and not report.superedge:
            problems.append(Problem("release-missing", f"the edge components are not installed (no Helm release "
                                    f"{RELEASE} in namespace {NAMESPACE})",
                                    "run kubectl edge addon (without --skip-phases components)"))
    if report.release is not None and report.release.status != DEPLOYED:
        release = report.release
        problems.append(Problem("release-not-deployed", f"the Helm release {release.name} revision "
                                f"{release.revision} is {release.status}" +
                                (f" ({release.description})" if release.description else ""),
                                f"run kubectl edge addon again; helm history {release.name} -n {release.namespace} "
                                "shows what happened", (f"{release.namespace}/{release.name}",)))
    for component in report.components:
        if not component.is_ready:
            problems.append(Problem("component-not-ready", f"{component.kind.lower()} {NAMESPACE}/{component.name}: "
                                    f"{component.ready} of {component.desired} pods ready",
                                    f"kubectl -n {NAMESPACE} describe {component.kind.lower()} {component.name} shows "
                                    "why (image pulls, scheduling, crashes)",
                                    (f"{component.kind.lower()} {NAMESPACE}/{component.name}",)))
    expiring = sorted((token for token in report.tokens if token.expires is not None
                       and 0 < (token.expires - report.now).total_seconds() <= TOKEN_EXPIRY_WARNING_SECONDS),
                      key=lambda token: (token.expires, token.id))
    if expiring:
        first = expiring[0]
        assert first.expires is not None
        left = short_human_duration((first.expires - report.now).total_seconds())
        subject = f"bootstrap token {first.id} expires" if len(expiring) == 1 else \
            f"{len(expiring)} bootstrap tokens expire within an hour ({name_list([t.id for t in expiring])}); the first"
        problems.append(Problem("token-expiring", f"{subject} in {left}",
                                "nodes that have not joined yet need a new token: kubectl edge token create "
                                "--print-join-command", tuple(t.id for t in expiring)))
    problems.extend(skew_problems(report.server_version, report.edge_nodes))
    not_ready = [node.name for node in report.edge_nodes if node.ready != "True"]
    if not_ready:
        subject = "edge node" if len(not_ready) == 1 else f"{len(not_ready)} edge nodes"
        problems.append(Problem("node-not-ready", f"{subject} {name_list(not_ready)} "
                                f"{'is' if len(not_ready) == 1 else 'are'} not Ready",
                                "kubectl describe node NAME shows why; on the node, systemctl status kubelet; a node "
                                "that is gone for good: kubectl edge node delete NAME", tuple(not_ready)))
    problems.extend(kubelet_problems(report.kubelet_access))
    return problems
