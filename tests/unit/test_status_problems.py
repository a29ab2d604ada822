"""The problems status reports, each from a report that has it (and not from one that does not)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from kubectl_edge.bootstrap.tokens import Duties
from kubectl_edge.cli.commands.status import render
from kubectl_edge.cluster.kinds import CLUSTER_ROLE_BINDING, CONFIG_MAP, ObjectRef
from kubectl_edge.record import CreatedObject, FieldChange, PatchRecord, State
from kubectl_edge.status.nodes import EdgeNode, summarize_node
from kubectl_edge.status.parts import Component, Prerequisite, TokenSummary, classify_prerequisite
from kubectl_edge.status.problems import find_problems
from kubectl_edge.status.release import Release
from kubectl_edge.status.report import StatusReport

NOW = datetime.datetime(2030, 1, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
SERVER = "v1.37.2"
DEPLOYED = Release("superedge-addon", "edge-system", 2, "deployed", "superedge-addon", "0.9.0", "v0.9.0", None, "")
BINDING = ObjectRef(CLUSTER_ROLE_BINDING, "kubeadm:get-nodes")


def _node(name: str, kubelet: str | None = SERVER, ready: str = "True") -> EdgeNode:
    return EdgeNode(name, ready, kubelet, "amd64", NOW, "198.18.0.2")


def _report(**changes: Any) -> StatusReport:
    base: dict[str, Any] = {
        "server_version": SERVER, "addon_ran": True, "release": DEPLOYED, "components": [],
        "prerequisites": [Prerequisite(BINDING, True, "kubectl-edge")], "duties": Duties(True, True), "tokens": [],
        "edge_nodes": [_node("edge-1")], "now": NOW}
    report = StatusReport(**{**base, **changes})
    report.problems = find_problems(report)
    return report


def _checks(report: StatusReport) -> list[str]:
    return [problem.check for problem in report.problems]


def test_a_healthy_report_has_no_problems() -> None:
    report = _report()
    assert report.problems == []
    assert "No problems found." in render(report)


def test_addon_never_ran_replaces_the_missing_prerequisites() -> None:
    report = _report(addon_ran=False, release=None, prerequisites=[Prerequisite(BINDING, False, None)])
    assert _checks(report) == ["addon-never-ran"]
    assert report.problems[0].hint == ("run kubectl edge addon: it prepares the join prerequisites and installs the "
                                       "edge components")


def test_each_missing_prerequisite_is_a_line() -> None:
    other = ObjectRef(CONFIG_MAP, "cluster-info", "kube-public")
    report = _report(prerequisites=[Prerequisite(BINDING, False, None), Prerequisite(other, False, None)])
    assert [problem.objects for problem in report.problems] == [(str(BINDING),), (str(other),)]
    text = render(report)
    assert "clusterrolebinding kubeadm:get-nodes is missing" in text and "configmap kube-public/cluster-info" in text


def test_release_missing_and_not_deployed() -> None:
    assert _checks(_report(release=None)) == ["release-missing"]
    failed = Release("superedge-addon", "edge-system", 4, "failed", "superedge-addon", "0.9.0", "", None, "boom")
    report = _report(release=failed)
    assert _checks(report) == ["release-not-deployed"]
    assert "revision 4 is failed (boom)" in report.problems[0].message


def test_components_below_desired() -> None:
    report = _report(components=[Component("DaemonSet", "edge-health", 3, 2), Component("Deployment", "ok", 1, 1)])
    assert [problem.message for problem in report.problems] == ["daemonset edge-system/edge-health: 2 of 3 pods ready"]


@pytest.mark.parametrize(("left_minutes", "warned"), [(59, True), (60, True), (61, False), (0, False), (-5, False)])
def test_token_expiring_within_an_hour(left_minutes: int, warned: bool) -> None:
    token = TokenSummary("abcdef", NOW + datetime.timedelta(minutes=left_minutes), "", None, True)
    forever = TokenSummary("zzzzzz", None, "", None, False)
    report = _report(tokens=[token, forever])
    assert _checks(report) == (["token-expiring"] if warned else [])


def test_several_expiring_tokens_are_one_line_naming_the_first() -> None:
    tokens = [TokenSummary(f"tok00{i}", NOW + datetime.timedelta(minutes=50 - i), "", None, True) for i in range(7)]
    (problem,) = _report(tokens=tokens).problems
    assert problem.objects == tuple(f"tok00{i}" for i in reversed(range(7)))
    assert problem.message.startswith("7 bootstrap tokens expire within an hour (tok006, tok005, tok004, tok003, "
                                      "tok002 and 2 more); the first in 44m")


def test_skew_problems_group_nodes_by_version() -> None:
    nodes = [_node("old-1", "v1.33.0"), _node("old-2", "v1.33.0"), _node("ok", "v1.34.5"), _node("new", "v1.38.1"),
             _node("unknown", None), _node("unreadable", "garbage"), _node("rc", "v1.37.0-rc.1+abc")]
    report = _report(edge_nodes=nodes)
    skew = [problem for problem in report.problems if problem.check == "kubelet-version-skew"]
    assert [problem.objects for problem in skew] == [("old-1", "old-2"), ("new",)]
    assert skew[0].message.startswith("2 edge nodes old-1, old-2 run kubelet v1.33.0, 4 minor versions older")
    assert "v1.34 to v1.37" in skew[0].hint
    assert skew[1].message.startswith("edge node new runs kubelet v1.38.1, newer than the API server")


def test_nodes_not_ready_are_one_line() -> None:
    nodes = [_node(f"n{i}", ready="False" if i % 2 else "Unknown") for i in range(8)] + [_node("fine")]
    (problem,) = _report(edge_nodes=nodes).problems
    assert problem.check == "node-not-ready" and len(problem.objects) == 8
    assert problem.message == "8 edge nodes n0, n1, n2, n3, n4 and 3 more are not Ready"


def test_node_summary_takes_only_what_is_shown() -> None:
    node = {"metadata": {"name": "e1", "labels": {"kubernetes.io/arch": "arm64"}},
            "status": {"nodeInfo": {"kubeletVersion": "v1.36.0", "architecture": "arm64", "osImage": "x"},
                       "addresses": [{"type": "Hostname", "address": "e1"},
                                     {"type": "InternalIP", "address": "1.2.3.4"}],
                       "conditions": [{"type": "MemoryPressure", "status": "False"},
                                      {"type": "Ready", "status": "False",
                                       "lastHeartbeatTime": "2030-01-01T11:00:00Z"}],
                       "images": [{"names": ["big"], "sizeBytes": 1}]}}
    assert summarize_node(node) == EdgeNode("e1", "False", "v1.36.0", "arm64",
                                            datetime.datetime(2030, 1, 1, 11, tzinfo=datetime.timezone.utc), "1.2.3.4")
    bare = summarize_node({"metadata": {"name": "e2", "labels": {"kubernetes.io/arch": "riscv64"}}})
    assert bare == EdgeNode("e2", "Unknown", None, "riscv64", None, None)


def test_who_made_a_prerequisite() -> None:
    live = {"metadata": {"uid": "u-1"}}
    cluster_info = ObjectRef(CONFIG_MAP, "kubeadm-config", "kube-system")
    change = FieldChange("/data/ClusterConfiguration", "new", "old", True)
    state = State(created=[CreatedObject(BINDING, "u-1")],
                  patches=[PatchRecord(cluster_info, [change], [], [])])
    assert classify_prerequisite(BINDING, live, state) == Prerequisite(BINDING, True, "kubectl-edge")
    # Re-created by someone else since (another uid): the owner's now.
    assert classify_prerequisite(BINDING, {"metadata": {"uid": "u-2"}}, state).created_by == "cluster-owner"
    patched = classify_prerequisite(cluster_info, {"metadata": {"uid": "x"}}, state)
    assert patched == Prerequisite(cluster_info, True, "cluster-owner", ("/data/ClusterConfiguration",))
    assert classify_prerequisite(BINDING, None, state) == Prerequisite(BINDING, False, None)


def test_text_shows_every_section() -> None:
    report = _report(tokens=[TokenSummary("abcdef", None, "for node e1", "e1", True)],
                     components=[Component("DaemonSet", "tunnel-edge", 2, 2)], duties=Duties(False, None))
    # Each row as a whole line (cells joined by single spaces), so a value in the wrong row or column fails.
    lines = {" ".join(line.split()) for line in render(report).splitlines()}
    for expected in ("release: edge-system/superedge-addon revision 2, deployed, chart superedge-addon-0.9.0 "
                     "(app v0.9.0), updated <none>",
                     "daemonset/tunnel-edge 2/2", "server: v1.37.2",
                     "clusterrolebinding kubeadm:get-nodes yes kubectl-edge -",
                     "cluster-info signatures: kubectl-edge", "expired tokens deleted by: not measured",
                     "Bootstrap tokens: 1", "abcdef <forever> <never> e1 for node e1",
                     "Edge nodes: 1", "edge-1 Ready v1.37.2 amd64 2030-01-01T12:00:00Z 198.18.0.2",
                     "No problems found."):
        assert expected in lines, expected
