"""kubectl edge status against real control planes: a large one (5,000 Nodes, 1,000 tokens) and one where
each problem status reports is made to happen, with the real helm 3 and 4 writing the release.

Expected values come from the cluster itself, read here independently of the code under test (admin
requests, ``helm list``, the record ConfigMap), never from the plugin's own output of another command.
"""

from __future__ import annotations

import base64
import datetime
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bigcluster import create_all, node_body, populate
from clusterkit import admin_request, run_plugin, succeeded

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hack"))
import localcluster

NODES = "/api/v1/nodes"
SECRETS = "/api/v1/namespaces/kube-system/secrets"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
RELEASE = "superedge-addon"
NAMESPACE = "edge-system"



def status_json(cluster: Any) -> dict[str, Any]:
    """``kubectl edge status -o json``, parsed."""
    document: dict[str, Any] = json.loads(succeeded(run_plugin(cluster.kubeconfig, "status", "-o", "json")).stdout)
    return document


def problems(document: dict[str, Any], check: str) -> list[dict[str, Any]]:
    """The problems of one kind."""
    return [problem for problem in document["problems"] if problem["check"] == check]


def status_text(cluster: Any) -> str:
    """``kubectl edge status`` as a person reads it."""
    return succeeded(run_plugin(cluster.kubeconfig, "status")).stdout


# --- a large cluster -------------------------------------------------------------------------------------

@pytest.fixture
def large(tmp_path: Path) -> Iterator[localcluster.LocalCluster]:
    """A cluster of this test's own (stopped before the module's other cluster starts)."""
    started = localcluster.start(tmp_path / "large", flavour="bare", signer=True)
    try:
        yield started
    finally:
        localcluster.stop(tmp_path / "large")


def test_status_of_a_large_cluster_without_addon(large: Any) -> None:
    population = populate(large, nodes=5000, tokens=1000)
    # Nodes with one edge label only are edge nodes too; a node with neither is not.
    create_all(large, [(NODES, node_body("only-components", False, {"superedge.io/node-edge": "enable"})),
                       (NODES, node_body("only-documented", False, {"superedge.io/edge-node": "enable"})),
                       (NODES, node_body("disabled", False, {"superedge.io/node-edge": "disable"}))])
    nodes = admin_request(large, NODES).body["items"]
    assert len(nodes) == 5003

    document = status_json(large)
    assert [node["name"] for node in document["edgeNodes"]] == sorted(
        [*population.edge_nodes, "only-components", "only-documented"])
    assert all(node["ready"] == "Unknown" and node["kubeletVersion"] is None and node["lastHeartbeat"] is None
               for node in document["edgeNodes"]), "nodes created without status never reported"
    assert sorted(token["id"] for token in document["tokens"]) == population.token_ids
    listed = admin_request(large, f"{SECRETS}?fieldSelector=type%3Dbootstrap.kubernetes.io%2Ftoken").body["items"]
    expiries = {item["metadata"]["name"].removeprefix("bootstrap-token-"): item["data"]["expiration"]
                for item in listed}
    assert {token["id"]: token["expires"] for token in document["tokens"]} == {
        token_id: base64.b64decode(value).decode() for token_id, value in expiries.items()}
    assert all(token["description"].startswith("bulk token ") for token in document["tokens"])

    # addon never ran: that one problem says so (not one line per missing prerequisite).
    assert [problem["check"] for problem in document["problems"]] == ["addon-never-ran", "node-not-ready"]
    assert problems(document, "addon-never-ran")[0]["hint"] == (
        "run kubectl edge addon: it prepares the join prerequisites and installs the edge components")
    assert len(problems(document, "node-not-ready")[0]["objects"]) == 2502
    assert document["addon"] == {"ran": False, "record": "kube-system/kubectl-edge", "release": None,
                                 "components": []}
    assert document["serverVersion"] == admin_request(large, "/version").body["gitVersion"]

    tokens = json.loads(succeeded(run_plugin(large.kubeconfig, "token", "list", "-o", "json")).stdout)["tokens"]
    assert sorted(token["id"] for token in tokens) == population.token_ids


# --- one problem at a time -------------------------------------------------------------------------------

OWNERS_CLUSTER_CONFIGURATION = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nclusterName: owners\n"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[localcluster.LocalCluster]:
    """A bare cluster of this module's own, whose owner made kubeadm-config before addon ran."""
    root = tmp_path_factory.mktemp("status")
    started = localcluster.start(root / "c", flavour="bare", signer=True)
    try:
        owners = {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "kubeadm-config", "namespace": "kube-system"},
                  "data": {"ClusterConfiguration": OWNERS_CLUSTER_CONFIGURATION}}
        assert admin_request(started, "/api/v1/namespaces/kube-system/configmaps", method="POST",
                             body=owners).status == 201
        succeeded(run_plugin(started.kubeconfig, "addon", "--skip-phases", "components"))
        yield started
    finally:
        localcluster.stop(root / "c")


def test_prerequisites_their_makers_and_a_missing_one(cluster: Any) -> None:
    record = admin_request(cluster, "/api/v1/namespaces/kube-system/configmaps/kubectl-edge").body
    inventory = json.loads(record["data"]["inventory"])
    created = {(entry["kind"], entry["namespace"], entry["name"]) for entry in inventory["created"]}
    patched = {(entry["kind"], entry["namespace"], entry["name"]): [change["path"] for change in entry["changes"]]
               for entry in inventory["patches"]}
    assert ("ConfigMap", "kube-system", "kubeadm-config") in patched, "addon added fields to the owner's ConfigMap"

    document = status_json(cluster)
    assert document["addon"]["ran"] is True
    shown = {(item["kind"], item["namespace"], item["name"]): item for item in document["prerequisites"]}
    assert len(shown) == 15 and all(item["present"] for item in shown.values())
    for key, item in shown.items():
        assert item["createdBy"] == ("kubectl-edge" if key in created else "cluster-owner"), key
        assert item["patchedKeys"] == patched.get(key, []), key
    assert shown[("ConfigMap", "kube-system", "kubeadm-config")]["createdBy"] == "cluster-owner"
    assert shown[("Namespace", None, "kube-public")]["createdBy"] == "cluster-owner"
    assert problems(document, "prerequisite-missing") == []
    assert document["signing"] == {"signer": "controller-manager", "cleaner": "controller-manager"}

    binding = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/kubeadm:get-nodes"
    assert admin_request(cluster, binding, method="DELETE").status == 200
    try:
        document = status_json(cluster)
        missing = problems(document, "prerequisite-missing")
        assert [problem["objects"] for problem in missing] == [["clusterrolebinding kubeadm:get-nodes"]]
        assert missing[0]["hint"] == "run kubectl edge addon: it creates missing prerequisites again"
        assert "clusterrolebinding kubeadm:get-nodes is missing" in status_text(cluster)
    finally:
        succeeded(run_plugin(cluster.kubeconfig, "addon", "--skip-phases", "components"))
    assert problems(status_json(cluster), "prerequisite-missing") == []


# --- the release and its components (written by the real helm) --------------------------------------------

def _chart(directory: Path, version: str, templates: dict[str, str]) -> Path:
    (directory / "templates").mkdir(parents=True)
    (directory / "Chart.yaml").write_text(f"apiVersion: v2\nname: {RELEASE}\nversion: {version}\n"
                                          "appVersion: \"9.8.7\"\n")
    for name, text in templates.items():
        (directory / "templates" / name).write_text(text)
    return directory


def _workload(kind: str, name: str, replicas: int | None = None) -> str:
    spec = f"  replicas: {replicas}\n" if replicas is not None else ""
    return (f"apiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: {NAMESPACE}\nspec:\n{spec}"
            f"  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n"
            f"      labels: {{app: {name}}}\n    spec:\n"
            "      containers: [{name: c, image: registry.invalid/none:1}]\n")


class Helm:
    """The real helm (3 or 4) from the binary cache, with its files under a temporary home."""

    def __init__(self, cluster: Any, binary: str, home: Path) -> None:
        self.binary = cluster.binary(binary)
        # helm 3 lists deployed releases unless told --all; helm 4 lists every status and has no such flag.
        self.all_flag = ["--all"] if binary == "helm3" else []
        self.env = {"PATH": "/usr/bin:/bin", "KUBECONFIG": cluster.kubeconfig, "HOME": str(home),
                    **{f"HELM_{kind}_HOME": str(home / kind.lower()) for kind in ("CACHE", "CONFIG", "DATA")}}

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([self.binary, *args], capture_output=True, text=True, env=self.env, timeout=120)
        if check:
            assert result.returncode == 0, result.stderr
        return result

    def listed(self) -> dict[str, Any]:
        releases = json.loads(self("list", "-n", NAMESPACE, *self.all_flag, "-o", "json").stdout)
        assert len(releases) == 1, releases
        release: dict[str, Any] = releases[0]
        return release


@pytest.fixture(params=["helm3", "helm4"])
def helm(request: pytest.FixtureRequest, cluster: Any, tmp_path: Path) -> Iterator[Helm]:
    """A helm whose release superedge-addon is uninstalled after the test."""
    tool = Helm(cluster, request.param, tmp_path / "helm-home")
    try:
        yield tool
    finally:
        tool("uninstall", RELEASE, "-n", NAMESPACE, "--wait", check=False)


def _set_status(cluster: Any, kind: str, name: str, status: dict[str, Any]) -> None:
    path = f"/apis/apps/v1/namespaces/{NAMESPACE}/{kind}/{name}/status"
    answer = admin_request(cluster, path, method="PATCH", body={"status": status},
                           content_type="application/merge-patch+json")
    assert answer.status == 200, answer.body


def test_no_release_is_a_problem_after_addon(cluster: Any) -> None:
    document = status_json(cluster)
    assert document["addon"]["release"] is None
    assert len(problems(document, "release-missing")) == 1
    assert "no Helm release superedge-addon" in status_text(cluster)


def test_release_revision_and_components_not_ready(cluster: Any, helm: Helm, tmp_path: Path) -> None:
    templates = {"ready.yaml": _workload("Deployment", "grid-controller", 2),
                 "waiting.yaml": _workload("Deployment", "tunnel-cloud", 1),
                 "edge.yaml": _workload("DaemonSet", "tunnel-edge")}
    helm("install", RELEASE, str(_chart(tmp_path / "v1", "1.2.3", templates)), "-n", NAMESPACE, "--create-namespace")
    helm("upgrade", RELEASE, str(_chart(tmp_path / "v2", "1.2.4", templates)), "-n", NAMESPACE)
    # No workload controllers run in the local control plane: the counts are set as they would report them.
    _set_status(cluster, "deployments", "grid-controller", {"replicas": 2, "readyReplicas": 2})
    _set_status(cluster, "daemonsets", "tunnel-edge", {"desiredNumberScheduled": 2, "numberReady": 1,
                                                       "currentNumberScheduled": 2, "numberMisscheduled": 0})

    document = status_json(cluster)
    listed = helm.listed()
    release = document["addon"]["release"]
    assert release["revision"] == int(listed["revision"]) == 2
    assert release["status"] == listed["status"] == "deployed"
    assert f"{release['chart']}-{release['chartVersion']}" == listed["chart"] == "superedge-addon-1.2.4"
    assert release["appVersion"] == listed["app_version"]
    assert release["updated"] == listed["updated"][:19].replace(" ", "T") + "Z"
    assert problems(document, "release-missing") == [] and problems(document, "release-not-deployed") == []
    assert {(c["kind"], c["name"], c["ready"], c["desired"]) for c in document["addon"]["components"]} == {
        ("Deployment", "grid-controller", 2, 2), ("Deployment", "tunnel-cloud", 0, 1),
        ("DaemonSet", "tunnel-edge", 1, 2)}
    not_ready = problems(document, "component-not-ready")
    assert sorted(p["objects"][0] for p in not_ready) == ["daemonset edge-system/tunnel-edge",
                                                          "deployment edge-system/tunnel-cloud"]
    text = status_text(cluster)
    assert "daemonset edge-system/tunnel-edge: 1 of 2 pods ready" in text
    assert "deployment edge-system/tunnel-cloud: 0 of 1 pods ready" in text


def test_failed_release_is_a_problem(cluster: Any, helm: Helm, tmp_path: Path) -> None:
    broken = {"broken.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Not_A_Valid_Name\n"
                             f"  namespace: {NAMESPACE}\ndata: {{}}\n"}
    failed = helm("install", RELEASE, str(_chart(tmp_path / "broken", "0.0.1", broken)), "-n", NAMESPACE,
                  "--create-namespace", check=False)
    assert failed.returncode != 0
    listed = helm.listed()
    assert listed["status"] == "failed"
    document = status_json(cluster)
    assert document["addon"]["release"]["status"] == "failed"
    found = problems(document, "release-not-deployed")
    assert len(found) == 1 and "revision 1 is failed" in found[0]["message"]
    assert f"helm history {RELEASE}" in found[0]["hint"]


# --- tokens and nodes ------------------------------------------------------------------------------------

def test_token_expiring_within_an_hour(cluster: Any) -> None:
    soon = json.loads(succeeded(run_plugin(cluster.kubeconfig, "token", "create", "--ttl", "30m", "-o", "json")).stdout)
    later = json.loads(succeeded(run_plugin(cluster.kubeconfig, "token", "create", "--ttl", "2h", "-o", "json")).stdout)
    try:
        document = status_json(cluster)
        shown = {token["id"]: token for token in document["tokens"]}
        assert shown[soon["id"]]["expires"] == soon["expires"] and shown[later["id"]]["expires"] == later["expires"]
        expiring = problems(document, "token-expiring")
        assert [problem["objects"] for problem in expiring] == [[soon["id"]]]
        assert "token create" in expiring[0]["hint"]
        assert f"bootstrap token {soon['id']} expires in" in status_text(cluster)
    finally:
        succeeded(run_plugin(cluster.kubeconfig, "token", "delete", soon["id"], later["id"]))


def _now(offset_seconds: float = 0) -> str:
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _edge_node(cluster: Any, name: str, kubelet: str | None, ready: str | None, heartbeat: str | None = None) -> None:
    assert admin_request(cluster, NODES, method="POST", body=node_body(name, edge=True)).status == 201
    status: dict[str, Any] = {"addresses": [{"type": "Hostname", "address": name},
                                            {"type": "InternalIP", "address": "198.18.7.7"}]}
    if kubelet:
        status["nodeInfo"] = {"kubeletVersion": kubelet, "architecture": "arm64", "operatingSystem": "linux"}
    if ready:
        status["conditions"] = [{"type": "Ready", "status": ready, "reason": "Simulated", "message": "test",
                                 "lastHeartbeatTime": heartbeat or _now(), "lastTransitionTime": _now(-3600)}]
    answer = admin_request(cluster, f"{NODES}/{name}/status", method="PATCH", body={"status": status},
                           content_type="application/merge-patch+json")
    assert answer.status == 200, answer.body


def _delete_nodes(cluster: Any, *names: str) -> None:
    for name in names:
        admin_request(cluster, f"{NODES}/{name}", method="DELETE")
        admin_request(cluster, f"{LEASES}/{name}", method="DELETE")


def test_kubelet_outside_the_supported_skew(cluster: Any) -> None:
    server = admin_request(cluster, "/version").body
    major, minor = int(server["major"]), int(server["minor"].rstrip("+"))
    old, oldest_ok, newer = f"v{major}.{minor - 4}.1", f"v{major}.{minor - 3}.0", f"v{major}.{minor + 1}.0"
    names = ("skew-old", "skew-ok", "skew-same", "skew-new")
    try:
        for name, version in zip(names, (old, oldest_ok, server["gitVersion"], newer), strict=True):
            _edge_node(cluster, name, version, "True")
        document = status_json(cluster)
        skew = problems(document, "kubelet-version-skew")
        assert sorted(problem["objects"] for problem in skew) == [["skew-new"], ["skew-old"]]
        by_node = {problem["objects"][0]: problem for problem in skew}
        assert "4 minor versions older" in by_node["skew-old"]["message"] and old in by_node["skew-old"]["message"]
        assert "newer than the API server" in by_node["skew-new"]["message"]
        text = status_text(cluster)
        assert f"edge node skew-old runs kubelet {old}" in text and f"edge node skew-new runs kubelet {newer}" in text
    finally:
        _delete_nodes(cluster, *names)


def test_edge_node_fields_and_nodes_not_ready(cluster: Any) -> None:
    server = admin_request(cluster, "/version").body["gitVersion"]
    beat = _now(-600)
    names = ("fields-ready", "fields-down", "fields-silent")
    try:
        _edge_node(cluster, "fields-ready", server, "True", heartbeat=beat)
        _edge_node(cluster, "fields-down", server, "False")
        _edge_node(cluster, "fields-silent", None, None)
        renewed = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": "fields-ready", "namespace": "kube-node-lease"},
                 "spec": {"holderIdentity": "fields-ready", "renewTime": renewed}}
        assert admin_request(cluster, LEASES, method="POST", body=lease).status == 201

        document = status_json(cluster)
        shown = {node["name"]: node for node in document["edgeNodes"]}
        assert shown["fields-ready"] == {"name": "fields-ready", "ready": "True", "kubeletVersion": server,
                                         "architecture": "arm64", "lastHeartbeat": renewed[:19] + "Z",
                                         "internalIP": "198.18.7.7"}
        assert shown["fields-down"]["ready"] == "False" and shown["fields-silent"]["ready"] == "Unknown"
        not_ready = problems(document, "node-not-ready")
        assert [problem["objects"] for problem in not_ready] == [["fields-down", "fields-silent"]]
        assert "2 edge nodes fields-down, fields-silent are not Ready" in status_text(cluster)
    finally:
        _delete_nodes(cluster, *names)


def test_no_problems_is_said_plainly(cluster: Any, tmp_path: Path) -> None:
    helm = Helm(cluster, "helm3", tmp_path / "helm-home")
    templates = {"ok.yaml": _workload("Deployment", "tunnel-cloud", 0)}
    helm("install", RELEASE, str(_chart(tmp_path / "ok", "1.0.0", templates)), "-n", NAMESPACE, "--create-namespace")
    try:
        document = status_json(cluster)
        assert document["problems"] == [], document["problems"]
        assert "No problems found." in status_text(cluster)
    finally:
        helm("uninstall", RELEASE, "-n", NAMESPACE, "--wait", check=False)
