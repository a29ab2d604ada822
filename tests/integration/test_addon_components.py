"""addon's components phase with the real helm 3 and helm 4: install, no-op re-run, upgrade, exact detach."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clusterkit import (
    admin_request,
    audit_mark,
    persisted_writes_since,
    run_plugin,
    settled_differences,
    snapshot,
    succeeded,
    wait_for,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hack"))
import build_binaries
import localcluster

RELEASE_SECRETS = "/api/v1/namespaces/edge-system/secrets?labelSelector=owner%3Dhelm%2Cname%3Dsuperedge-addon"
TUNNEL_CERT = "/api/v1/namespaces/edge-system/secrets/tunnel-cloud-cert"
GRIDS = ("deploymentgrids", "servicegrids", "statefulsetgrids")




def _releases(cluster: Any) -> list[dict[str, str]]:
    items = admin_request(cluster, RELEASE_SECRETS).body.get("items", [])
    return sorted((item["metadata"]["labels"] for item in items), key=lambda labels: int(labels["version"]))


def _owner_endpoints(cluster: Any) -> None:
    """The API server's endpoint reconciler keeps default/kubernetes' Endpoints and EndpointSlice (the local
    cluster advertises localcluster.ADVERTISE_ADDRESS); an annotation of the owner's on them must survive."""
    paths = ("/api/v1/namespaces/default/endpoints/kubernetes",
             "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes")
    for path in paths:
        assert wait_for(lambda path=path: admin_request(cluster, path).status == 200 or None, 30), path
    endpoints = admin_request(cluster, paths[0]).body
    assert endpoints["subsets"][0]["addresses"] == [{"ip": localcluster.ADVERTISE_ADDRESS}]
    endpoints["metadata"].setdefault("annotations", {})["owner/note"] = "kept"
    assert admin_request(cluster, paths[0], method="PUT", body=endpoints).status == 200


@pytest.fixture(params=["helm3", "helm4"])
def helm_cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, str]]:
    with localcluster.running(tmp_path / "cluster", "kubeadm") as cluster:
        yield cluster, str(build_binaries.binary_dir() / request.param)


def test_components_install_rerun_upgrade_and_detach(helm_cluster: tuple[Any, str]) -> None:
    cluster, helm = helm_cluster
    _owner_endpoints(cluster)
    before = snapshot(cluster)

    succeeded(run_plugin(cluster.kubeconfig, "addon", "--helm", helm))
    assert [r["status"] for r in _releases(cluster)] == ["deployed"]
    for grid in GRIDS:
        crd = admin_request(cluster, f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{grid}.superedge.io")
        conditions = {c["type"]: c["status"] for c in crd.body["status"]["conditions"]}
        assert conditions["Established"] == "True"
        assert crd.body["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kubectl-edge"
    kube_proxy = admin_request(cluster, "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy").body
    terms = kube_proxy["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert {"key": "superedge.io/node-edge", "operator": "NotIn", "values": ["enable"]} in terms[0]["matchExpressions"]
    for path in ("/api/v1/namespaces/default/endpoints/kubernetes",
                 "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes"):
        annotations = admin_request(cluster, path).body["metadata"]["annotations"]
        assert annotations["superedge.io/local-endpoint"] == "169.254.20.11"
        assert annotations["superedge.io/local-port"] == "51003"
    endpoints = admin_request(cluster, "/api/v1/namespaces/default/endpoints/kubernetes").body
    assert endpoints["metadata"]["annotations"]["owner/note"] == "kept"
    certificate = admin_request(cluster, TUNNEL_CERT).body["data"]

    mark = audit_mark(cluster)
    succeeded(run_plugin(cluster.kubeconfig, "addon", "--helm", helm))
    assert persisted_writes_since(cluster, mark) == [], "same chart, same values: the release is left alone"
    assert len(_releases(cluster)) == 1

    succeeded(run_plugin(cluster.kubeconfig, "addon", "--helm", helm, "--set", "tunnelCloud.nodePort=31042"))
    assert [r["status"] for r in _releases(cluster)][-1] == "deployed" and len(_releases(cluster)) == 2
    service = admin_request(cluster, "/api/v1/namespaces/edge-system/services/tunnel-cloud").body
    assert 31042 in [port.get("nodePort") for port in service["spec"]["ports"]]
    assert admin_request(cluster, TUNNEL_CERT).body["data"] == certificate, "an upgrade keeps the certificates"

    # A custom resource of the ServiceGroup CRDs keeps them (and the record) until it is gone.
    grid = {"apiVersion": "superedge.io/v1", "kind": "DeploymentGrid",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"gridUniqKey": "zone", "template": {"selector": {"matchLabels": {"app": "web"}},
                                                         "template": {"metadata": {"labels": {"app": "web"}},
                                                                      "spec": {"containers": [{"name": "w",
                                                                                               "image": "x"}]}}}}}
    created = admin_request(cluster, "/apis/superedge.io/v1/namespaces/default/deploymentgrids", method="POST",
                            body=grid)
    assert created.status == 201, created.body
    kept = succeeded(run_plugin(cluster.kubeconfig, "detach", "--helm", helm))
    assert "deploymentgrids.superedge.io: 1 custom resource(s) of it remain" in kept.stderr
    assert admin_request(cluster, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                                   "deploymentgrids.superedge.io").status == 200
    assert _releases(cluster) == []
    admin_request(cluster, "/apis/superedge.io/v1/namespaces/default/deploymentgrids/web", method="DELETE")
    succeeded(run_plugin(cluster.kubeconfig, "detach", "--helm", helm))
    assert settled_differences(cluster, before) == [], "kube-proxy, the endpoints and everything else as before addon"
    for grid_name in GRIDS:
        assert admin_request(cluster, f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                                      f"{grid_name}.superedge.io").status == 404


def _normalised(cluster: Any) -> dict[str, Any]:
    """The cluster after addon; the release's own objects by name only (keys and helm's times differ per run)."""
    objects = snapshot(cluster)
    result: dict[str, Any] = {}
    for key, item in objects.items():
        helm_made = (item["metadata"].get("labels") or {}).get("app.kubernetes.io/managed-by") == "Helm"
        if helm_made or item["metadata"].get("namespace") == "edge-system" or key.endswith("kube-system/kubectl-edge"):
            result[key] = "present"
            continue
        item["metadata"].pop("uid", None)
        result[key] = item
    return result


def test_components_phase_killed_after_each_write_resumes(tmp_path: Path) -> None:
    with localcluster.running(tmp_path / "cluster", "bare") as cluster:
        succeeded(run_plugin(cluster.kubeconfig, "addon", "--skip-phases", "components"))
        mark = audit_mark(cluster)
        succeeded(run_plugin(cluster.kubeconfig, "addon"))
        writes = len(persisted_writes_since(cluster, mark, "kubectl-edge/"))
        reference = _normalised(cluster)
        succeeded(run_plugin(cluster.kubeconfig, "detach", "--keep-tokens"))
        succeeded(run_plugin(cluster.kubeconfig, "addon", "--skip-phases", "components"))
        assert writes >= 5
        for kill_after in range(1, writes):
            fault = {"KUBECTL_EDGE_FAULT_KILL_AFTER_WRITES": str(kill_after)}
            assert run_plugin(cluster.kubeconfig, "addon", extra_env=fault).returncode == -9
            succeeded(run_plugin(cluster.kubeconfig, "addon"))
            assert _normalised(cluster) == reference, f"resumed after a kill at write {kill_after}"
            succeeded(run_plugin(cluster.kubeconfig, "detach"))
            succeeded(run_plugin(cluster.kubeconfig, "addon", "--skip-phases", "components"))
        succeeded(run_plugin(cluster.kubeconfig, "detach"))
        assert "kube-system/kubectl-edge" not in json.dumps(sorted(snapshot(cluster)))


def test_dry_run_shows_the_helm_values_and_the_rendered_objects(bare_cluster: Any) -> None:
    mark = audit_mark(bare_cluster)
    result = succeeded(run_plugin(bare_cluster.kubeconfig, "addon", "--dry-run", "-o", "json"))
    plan = json.loads(result.stdout)
    assert plan["helmValues"]["tunnelCloud"]["publicHost"] == "127.0.0.1"
    assert "kind: DaemonSet" in plan["rendered"] and "name: tunnel-edge" in plan["rendered"]
    assert "kind: CustomResourceDefinition" in plan["rendered"]
    assert persisted_writes_since(bare_cluster, mark) == []
