"""status's check that the API server reaches the edge kubelets: what each answer means, and the problems."""

from __future__ import annotations

from kubectl_edge.status.kubelet_access import (
    KUBELET_FORBIDDEN,
    KUBELET_NOT_CHECKED,
    KUBELET_OK,
    KUBELET_UNAUTHORIZED,
    KUBELET_UNREACHABLE,
    classify_kubelet_answer,
    kubelet_problems,
)
from kubectl_edge.status.nodes import summarize_node


def test_answers_of_the_node_proxy() -> None:
    assert classify_kubelet_answer("n", 200, b"ok").result == KUBELET_OK
    assert classify_kubelet_answer("n", 401, b"Unauthorized").result == KUBELET_UNAUTHORIZED
    kubelet_denial = b"Forbidden (user=kube-apiserver-kubelet-client, verb=get, resource=nodes, subresource=proxy)"
    assert classify_kubelet_answer("n", 403, kubelet_denial).result == KUBELET_FORBIDDEN
    rbac_denial = b'{"message":"nodes \\"n\\" is forbidden: User \\"u\\" cannot get resource \\"nodes/proxy\\""}'
    assert classify_kubelet_answer("n", 403, rbac_denial).result == KUBELET_NOT_CHECKED
    assert classify_kubelet_answer("n", 502, b"dial tcp: connection refused").result == KUBELET_UNREACHABLE


def test_a_401_is_a_problem_that_says_what_to_do_and_ok_or_unchecked_nodes_are_not() -> None:
    accesses = [classify_kubelet_answer("edge-a", 401, b"Unauthorized"),
                classify_kubelet_answer("edge-b", 401, b"Unauthorized"),
                classify_kubelet_answer("edge-c", 200, b"ok"),
                classify_kubelet_answer("edge-d", 403, b"cannot get resource \"nodes/proxy\"")]
    problems = kubelet_problems(accesses)
    assert [p.check for p in problems] == ["kubelet-rejects-api-server"]
    assert problems[0].objects == ("edge-a", "edge-b")
    assert "2 edge nodes edge-a, edge-b reject the API server's client certificate (401)" in problems[0].message
    assert "client-ca-file" in problems[0].hint and "kubectl edge addon" in problems[0].hint
    assert kubelet_problems([classify_kubelet_answer("edge-c", 200, b"ok")]) == []


def test_only_nodes_that_reported_a_kubelet_port_are_reached() -> None:
    reported = summarize_node({"metadata": {"name": "a"},
                               "status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}})
    silent = summarize_node({"metadata": {"name": "b"}, "status": {}})
    assert reported.kubelet_port == 10250 and silent.kubelet_port == 0
