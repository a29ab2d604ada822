"""Each edge component's ServiceAccount may do what its SuperEdge binary does with the API, and nothing else.

The chart is installed by the real helm on a real control plane; the API server's own authorizer answers
SubjectAccessReviews for each ServiceAccount. The rules each account is bound to are also compared whole
with the list below, so a rule added to the chart without being added here fails.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from clusterkit import admin_request, required_binary_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hack"))
import localcluster

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "edge-system"
CRDS = ["deploymentgrids.superedge.io", "servicegrids.superedge.io", "statefulsetgrids.superedge.io"]


class Check(NamedTuple):
    """One request: verb on group/resource[/subresource], in namespace ("" for all or cluster-scoped), name."""

    verb: str
    resource: str
    group: str = ""
    namespace: str = ""
    name: str = ""
    subresource: str = ""


def _rule(groups: list[str], resources: list[str], verbs: list[str], names: list[str] | None = None
          ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    return tuple(sorted(groups)), tuple(sorted(resources)), tuple(sorted(verbs)), tuple(sorted(names or []))


#: Every rule each account is bound to, per binding kind ("ClusterRole", or "Role" in edge-system), with the
#: place in SuperEdge's source it comes from.
RULES: dict[str, dict[str, set[Any]]] = {
    "tunnel-cloud": {
        # pkg/tunnel/proxy/common/indexers/indexCache.go: informers on pods, nodes, services, endpoints
        "ClusterRole": {_rule([""], ["pods", "nodes", "services", "endpoints"], ["list", "watch"])},
        "Role": {
            # connect/register.go (tunnel-nodes) and connect/route.go (tunnel-cache): get, update
            _rule([""], ["configmaps"], ["get", "update"], ["tunnel-nodes", "tunnel-cache"]),
            # connect/register.go: the Endpoints of the tunnel-cloud Service
            _rule([""], ["endpoints"], ["get"], ["tunnel-cloud"]),
            # connect/route.go: the Endpoints lock tunnel-route-cache
            _rule([""], ["endpoints"], ["get", "update"], ["tunnel-route-cache"]),
            _rule([""], ["endpoints"], ["create"]),
        },
    },
    "tunnel-edge": {"ClusterRole": set(), "Role": set()},  # tunnel's edge mode makes no API client
    "edge-health": {
        "ClusterRole": {
            # check/node_meta_manager.go (metadata informer), vote/vote.go (node patches)
            _rule([""], ["nodes"], ["list", "watch", "patch"]),
            # checkplugin/kubeletauthcheck.go: GET /healthz of neighbour kubelets with its token
            _rule([""], ["nodes/healthz"], ["get"]),
        },
        # check/pod_manager.go, check/configmap_manager.go: filtered informers in its namespace
        "Role": {_rule([""], ["pods", "configmaps"], ["list", "watch"])},
    },
    "edge-health-admission": {
        # admission/endpoint.go: Nodes().Get
        "ClusterRole": {_rule([""], ["nodes"], ["get"])},
        "Role": set(),
    },
    "application-grid-controller": {
        "ClusterRole": {
            _rule(["apiextensions.k8s.io"], ["customresourcedefinitions"], ["get", "update"], CRDS),  # prepare/crd.go
            _rule([""], ["nodes", "namespaces"], ["list", "watch"]),  # config/config.go
            _rule([""], ["services"], ["get", "list", "watch", "create", "update", "patch", "delete"]),
            _rule(["apps"], ["deployments", "statefulsets"], ["list", "watch", "create", "update", "patch", "delete"]),
            _rule(["superedge.io"], ["deploymentgrids", "servicegrids", "statefulsetgrids"],
                  ["get", "list", "watch", "create", "update", "delete"]),
            _rule(["superedge.io"], ["deploymentgrids/status", "servicegrids/status", "statefulsetgrids/status"],
                  ["update"]),
            _rule([""], ["events"], ["create", "update", "patch"]),  # the event recorder
            _rule([""], ["secrets"], ["get"], ["parent-cluster"]),  # app/server.go: clusternet's parent cluster
        },
        "Role": set(),
    },
    "application-grid-wrapper": {
        "ClusterRole": {
            _rule([""], ["nodes", "services", "endpoints"], ["get", "list", "watch"]),  # server/server.go informers
            _rule(["discovery.k8s.io"], ["endpointslices"], ["get", "list", "watch"]),
            _rule(["site.superedge.io"], ["nodeunits"], ["get"]),  # server/server.go: NodeUnits().Get
            _rule(["", "events.k8s.io"], ["events"], ["create", "patch"]),  # server/handler.go: forwarded events
        },
        "Role": set(),
    },
    "edge-coredns": {
        "ClusterRole": {
            _rule([""], ["endpoints", "services", "namespaces"], ["list", "watch"]),  # CoreDNS's kubernetes plugin
            _rule(["discovery.k8s.io"], ["endpointslices"], ["list", "watch"]),
        },
        "Role": set(),
    },
}

#: What each account must be allowed (a sample of RULES, asked of the API server's authorizer).
ALLOWED: dict[str, list[Check]] = {
    "tunnel-cloud": [
        Check("list", "pods"), Check("watch", "nodes"), Check("list", "services"), Check("watch", "endpoints"),
        Check("get", "configmaps", namespace=NAMESPACE, name="tunnel-nodes"),
        Check("update", "configmaps", namespace=NAMESPACE, name="tunnel-cache"),
        Check("get", "endpoints", namespace=NAMESPACE, name="tunnel-cloud"),
        Check("create", "endpoints", namespace=NAMESPACE),
        Check("update", "endpoints", namespace=NAMESPACE, name="tunnel-route-cache"),
    ],
    "tunnel-edge": [],
    "edge-health": [
        Check("list", "nodes"), Check("patch", "nodes", name="edge-1"),
        Check("get", "nodes", name="edge-1", subresource="healthz"),
        Check("watch", "pods", namespace=NAMESPACE), Check("list", "configmaps", namespace=NAMESPACE),
    ],
    "edge-health-admission": [Check("get", "nodes", name="edge-1")],
    "application-grid-controller": [
        *(Check(verb, "customresourcedefinitions", "apiextensions.k8s.io", name=crd)
          for crd in CRDS for verb in ("get", "update")),
        Check("watch", "nodes"), Check("list", "namespaces"),
        Check("create", "services", namespace="default"), Check("delete", "services", namespace="default", name="a"),
        Check("create", "deployments", "apps", namespace="default"),
        Check("patch", "statefulsets", "apps", namespace="default", name="a"),
        Check("update", "deploymentgrids", "superedge.io", namespace="default", name="a"),
        Check("update", "deploymentgrids", "superedge.io", namespace="default", name="a", subresource="status"),
        Check("update", "statefulsetgrids", "superedge.io", namespace="default", name="a", subresource="status"),
        Check("update", "servicegrids", "superedge.io", namespace="default", name="a", subresource="status"),
        Check("create", "events", namespace="default"),
        Check("get", "secrets", namespace="clusternet-system", name="parent-cluster"),
    ],
    "application-grid-wrapper": [
        Check("get", "nodes", name="edge-1"), Check("watch", "services"), Check("list", "endpoints"),
        Check("watch", "endpointslices", "discovery.k8s.io"),
        Check("get", "nodeunits", "site.superedge.io", name="unit-a"),
        Check("create", "events", "events.k8s.io", namespace="default"),
    ],
    "edge-coredns": [Check("watch", "services"), Check("list", "endpointslices", "discovery.k8s.io"),
                     Check("list", "namespaces")],
}

#: What no component may do: read or make Secrets (bootstrap tokens included), reach into pods or kubelets,
#: or grant itself more.
DENIED_TO_ALL = [
    Check("list", "secrets"), Check("watch", "secrets"), Check("list", "secrets", namespace=NAMESPACE),
    Check("get", "secrets", namespace=NAMESPACE, name="tunnel-cloud-cert"),
    Check("get", "secrets", namespace=NAMESPACE, name="edge-info"),
    Check("get", "secrets", namespace="kube-system", name="bootstrap-token-abcdef"),
    Check("list", "secrets", namespace="kube-system"),
    Check("create", "secrets", namespace=NAMESPACE), Check("create", "secrets", namespace="kube-system"),
    Check("update", "secrets", namespace="clusternet-system", name="parent-cluster"),
    Check("create", "serviceaccounts", namespace=NAMESPACE, name="tunnel-cloud", subresource="token"),
    Check("create", "pods", namespace=NAMESPACE, name="a", subresource="exec"),
    Check("get", "nodes", name="edge-1", subresource="proxy"),
    Check("create", "pods", namespace=NAMESPACE),
    Check("get", "configmaps", namespace=NAMESPACE, name="tunnel-cloud-token"),
    Check("update", "configmaps", namespace=NAMESPACE, name="edge-info"),
    Check("create", "customresourcedefinitions", "apiextensions.k8s.io"),
    Check("update", "customresourcedefinitions", "apiextensions.k8s.io", name="other.example.org"),
    Check("create", "clusterrolebindings", "rbac.authorization.k8s.io"),
    Check("escalate", "clusterroles", "rbac.authorization.k8s.io", name="cluster-admin"),
    Check("impersonate", "users", name="admin"),
    Check("create", "certificatesigningrequests", "certificates.k8s.io"),
    Check("delete", "nodes", name="edge-1"),
]

#: What one component may not do although a neighbour of it may.
DENIED: dict[str, list[Check]] = {
    "tunnel-cloud": [Check("update", "configmaps", namespace=NAMESPACE, name="hmac-config"),
                     Check("get", "configmaps", namespace="kube-system", name="tunnel-nodes"),
                     Check("create", "endpoints", namespace="default"), Check("update", "nodes", name="edge-1")],
    "tunnel-edge": [Check("get", "nodes", name="edge-1"), Check("list", "configmaps", namespace=NAMESPACE),
                    Check("list", "pods")],
    "edge-health": [Check("list", "pods"), Check("list", "configmaps", namespace="kube-system"),
                    Check("update", "nodes", name="edge-1"), Check("update", "nodes", name="edge-1",
                                                                   subresource="status")],
    "edge-health-admission": [Check("list", "nodes"), Check("patch", "nodes", name="edge-1")],
    "application-grid-controller": [Check("get", "secrets", namespace="clusternet-system", name="other"),
                                    Check("list", "secrets", namespace="clusternet-system"),
                                    Check("delete", "customresourcedefinitions", "apiextensions.k8s.io",
                                          name=CRDS[0]),
                                    Check("update", "nodes", name="edge-1"), Check("list", "pods")],
    "application-grid-wrapper": [Check("list", "pods"), Check("get", "configmaps", namespace="kube-system",
                                                              name="kube-proxy"),
                                 Check("list", "configmaps"), Check("update", "nodeunits", "site.superedge.io",
                                                                    name="unit-a"),
                                 Check("list", "ingresses", "networking.k8s.io"),
                                 Check("create", "leases", "coordination.k8s.io", namespace=NAMESPACE),
                                 Check("update", "services", namespace="default", name="a")],
    "edge-coredns": [Check("list", "pods"), Check("get", "services", namespace="default", name="a")],
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A kubeadm-flavoured cluster with the chart installed by plain helm 4, as its README says."""
    bin_dir = required_binary_dir()
    root = tmp_path_factory.mktemp("rbac")
    with localcluster.running(root / "cluster", "kubeadm") as running:
        home = root / "helm"
        env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "KUBECONFIG": running.kubeconfig}
        for kind in ("CACHE", "CONFIG", "DATA"):
            (home / kind.lower()).mkdir(parents=True)
            env[f"HELM_{kind}_HOME"] = str(home / kind.lower())
        result = subprocess.run(
            [str(bin_dir / "helm4"), "upgrade", "--install", "superedge-addon", str(REPO / "helm" / "superedge-addon"),
             "-n", NAMESPACE, "--create-namespace", "--set", "tunnelCloud.publicHost=203.0.113.10"],
            capture_output=True, text=True, env=env, timeout=300)
        assert result.returncode == 0, result.stderr
        yield running


def allowed(cluster: Any, account: str, check: Check) -> bool:
    """The API server's answer for the ServiceAccount (with the groups its tokens carry)."""
    attributes = {"verb": check.verb, "group": check.group, "resource": check.resource,
                  "subresource": check.subresource, "namespace": check.namespace, "name": check.name}
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
              "spec": {"user": f"system:serviceaccount:{NAMESPACE}:{account}",
                       "groups": ["system:serviceaccounts", f"system:serviceaccounts:{NAMESPACE}",
                                  "system:authenticated"],
                       "resourceAttributes": attributes}}
    response = admin_request(cluster, "/apis/authorization.k8s.io/v1/subjectaccessreviews", method="POST",
                             body=review)
    assert response.status == 201, response.body
    return bool(response.body["status"].get("allowed"))


def bound_rules(cluster: Any, account: str) -> dict[str, set[Any]]:
    """The rules of every role bound to the ServiceAccount by name (cluster-wide, and in edge-system)."""
    subject = {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}
    result: dict[str, set[Any]] = {"ClusterRole": set(), "Role": set()}
    for path, kind in (("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", "ClusterRole"),
                       (f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NAMESPACE}/rolebindings", "Role")):
        for binding in admin_request(cluster, path).body["items"]:
            if subject not in [{k: s.get(k) for k in subject} for s in binding.get("subjects") or []]:
                continue
            ref = binding["roleRef"]
            role_path = (f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{ref['name']}" if ref["kind"] ==
                         "ClusterRole" else
                         f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NAMESPACE}/roles/{ref['name']}")
            for rule in admin_request(cluster, role_path).body.get("rules") or []:
                result[kind].add(_rule(rule.get("apiGroups", []), rule.get("resources", []), rule["verbs"],
                                       rule.get("resourceNames")))
    return result


@pytest.mark.parametrize("account", sorted(RULES))
def test_each_account_is_bound_to_exactly_its_rules(cluster: Any, account: str) -> None:
    assert admin_request(cluster, f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{account}").status == 200
    assert bound_rules(cluster, account) == RULES[account]


@pytest.mark.parametrize("account", sorted(RULES))
def test_each_account_may_do_what_its_binary_does(cluster: Any, account: str) -> None:
    refused = [check for check in ALLOWED[account] if not allowed(cluster, account, check)]
    assert refused == []


@pytest.mark.parametrize("account", sorted(RULES))
def test_no_account_may_read_or_make_secrets_or_more(cluster: Any, account: str) -> None:
    granted = [check for check in (*DENIED_TO_ALL, *DENIED[account])
               if check not in ALLOWED[account] and allowed(cluster, account, check)]
    assert granted == []


def test_pods_run_as_their_own_accounts(cluster: Any) -> None:
    """Each workload uses its account; tunnel-edge's pods get no token at all."""
    accounts = {}
    for kind, path in (("Deployment", "deployments"), ("DaemonSet", "daemonsets")):
        items = admin_request(cluster, f"/apis/apps/v1/namespaces/{NAMESPACE}/{path}").body["items"]
        for item in items:
            accounts[(kind, item["metadata"]["name"])] = item["spec"]["template"]["spec"]
    assert {key: spec.get("serviceAccountName") for key, spec in accounts.items()} == {
        ("Deployment", "tunnel-cloud"): "tunnel-cloud",
        ("Deployment", "edge-health-admission"): "edge-health-admission",
        ("Deployment", "application-grid-controller"): "application-grid-controller",
        ("DaemonSet", "tunnel-edge"): "tunnel-edge", ("DaemonSet", "edge-health"): "edge-health",
        ("DaemonSet", "application-grid-wrapper-node"): "application-grid-wrapper",
        ("DaemonSet", "edge-coredns"): "edge-coredns"}
    assert accounts[("DaemonSet", "tunnel-edge")]["automountServiceAccountToken"] is False
