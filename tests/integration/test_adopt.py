"""A cluster SuperEdge's edgeadm prepared (made by tests/edgeadm_state.py): recognised, adopted, detached back."""

from __future__ import annotations

import base64
import copy
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import edgeadm_state
import pytest
import yaml
from clusterkit import (
    admin_request,
    audit_mark,
    diff_snapshots,
    persisted_writes_since,
    run_plugin,
    snapshot,
    succeeded,
    wait_for,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hack"))
import build_binaries
import localcluster

NS = "/api/v1/namespaces/edge-system"
SLICE_OWNER = "endpointslice.kubernetes.io/managed-by"


@pytest.fixture
def edgeadm_cluster(tmp_path: Path) -> Iterator[tuple[Any, edgeadm_state.EdgeadmState]]:
    """A kubeadm-flavoured cluster of this test's own, as SuperEdge's edgeadm addon leaves it."""
    with localcluster.running(tmp_path / "cluster", "kubeadm") as cluster:
        yield cluster, edgeadm_state.make(cluster)


def _comparable(objects: dict[str, Any]) -> dict[str, Any]:
    """A snapshot without what the API server and its controllers assign: uids (an object made again gets a
    new one, and so do the references to it) and the generated names of the EndpointSlices of a Service."""
    result: dict[str, Any] = {}
    for key, item in objects.items():
        item = copy.deepcopy(item)
        metadata = item["metadata"]
        metadata.pop("uid", None)
        for owner in metadata.get("ownerReferences") or []:
            owner.pop("uid", None)
        labels = metadata.get("labels") or {}
        if key.startswith("/apis/discovery.k8s.io") and labels.get(SLICE_OWNER) == "endpointslice-controller.k8s.io":
            metadata.pop("name", None)
            key = f"endpointslices of {metadata.get('namespace')}/{labels.get('kubernetes.io/service-name')}"
        result[key] = item
    return result


def _settled(cluster: Any, before: dict[str, Any]) -> list[str]:
    wanted = _comparable(before)
    wait_for(lambda: not diff_snapshots(wanted, _comparable(snapshot(cluster))), timeout=30)
    after = _comparable(snapshot(cluster))
    lines = diff_snapshots(wanted, after)
    for line in lines:
        if line.startswith("changed: "):
            key = line.removeprefix("changed: ")
            lines.append(f"  before {json.dumps(wanted[key], sort_keys=True)[:1500]}")
            lines.append(f"  after  {json.dumps(after[key], sort_keys=True)[:1500]}")
    return lines


def _get(cluster: Any, path: str) -> dict[str, Any]:
    answer = admin_request(cluster, path)
    assert answer.status == 200, (path, answer.status)
    return dict(answer.body)


def _b64(body: dict[str, Any], key: str) -> str:
    return base64.b64decode(body["data"][key]).decode()


def test_addon_and_status_recognise_edgeadm_and_change_nothing(
        edgeadm_cluster: tuple[Any, edgeadm_state.EdgeadmState]) -> None:
    cluster, made = edgeadm_cluster
    before = snapshot(cluster)
    mark = audit_mark(cluster)
    for args in ((), ("--dry-run",)):
        result = run_plugin(cluster.kubeconfig, "addon", *args)
        assert result.returncode != 0, result.stdout
        assert "prepared by SuperEdge's edgeadm" in result.stderr, result.stderr
        assert "deployment edge-system/tunnel-cloud" in result.stderr
        assert "kubectl edge addon --adopt" in result.stderr
        assert "cannot be imported" not in result.stderr
    status = run_plugin(cluster.kubeconfig, "status")
    assert "SuperEdge's edgeadm" in status.stdout + status.stderr, status
    assert "--adopt" in status.stdout + status.stderr

    plan = json.loads(succeeded(run_plugin(cluster.kubeconfig, "addon", "--adopt", "--dry-run", "-o", "json")).stdout)
    adoption = {(item["action"], item["kind"], item["name"]) for item in plan["adoption"]}
    assert ("replace", "Deployment", "tunnel-cloud") in adoption
    assert ("take over", "Service", "tunnel-cloud") in adoption
    assert ("take over", "ConfigMap", "edge-info") in adoption
    assert not any(action == "repair" for action, _, _ in adoption), "--repair is never the default"
    notes = "\n".join(plan["notes"])
    assert "https://kubernetes.default:6443" in notes and "--repair restores" in notes
    assert "kubelet-config-1.22" in notes and "system:node-bootstrapper" in notes
    values = plan["helmValues"]
    assert values["tunnelCloud"]["token"] == made.token
    assert values["tunnelCloud"]["nodePort"] == made.node_ports["grpc"]
    assert values["tunnelCloud"]["serverCert"] == made.cloud_cert
    assert values["edgeHealth"]["hmacKey"] == made.hmac_key
    assert values["edgeHealthAdmission"]["caCert"] == made.webhook_ca
    assert values["liteApiserver"]["cert"] == made.lite_cert
    assert values["edgeInfo"]["hostConfig"] == "198.18.0.5 registry.example.test\n"

    repair = json.loads(succeeded(run_plugin(cluster.kubeconfig, "addon", "--adopt", "--repair", "--dry-run",
                                             "-o", "json")).stdout)
    repairs = {(item["action"], item["kind"], item["name"]) for item in repair["adoption"]}
    assert ("repair", "ConfigMap", "cluster-info") in repairs
    assert ("repair", "ClusterRole", "system:node-bootstrapper") in repairs
    assert ("repair", "Role", "kubeadm:nodes-kubeadm-config") in repairs
    assert ("remove", "ConfigMap", "kubelet-config-1.22") in repairs
    assert persisted_writes_since(cluster, mark) == []
    assert diff_snapshots(before, snapshot(cluster)) == []


def _check_kept(cluster: Any, made: edgeadm_state.EdgeadmState) -> None:
    token = _get(cluster, f"{NS}/configmaps/tunnel-cloud-token")
    assert token["data"]["token"].strip() == f"default:{made.token}"
    assert _b64(_get(cluster, f"{NS}/secrets/tunnel-cloud-cert"), "cloud.crt").strip() == made.cloud_cert.strip()
    service = _get(cluster, f"{NS}/services/tunnel-cloud")
    assert {p["name"]: p["nodePort"] for p in service["spec"]["ports"]} == made.node_ports
    assert _get(cluster, f"{NS}/configmaps/hmac-config")["data"]["hmackey"] == made.hmac_key
    webhook = _get(cluster, "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/edge-health-admission")
    assert {base64.b64decode(w["clientConfig"]["caBundle"]).decode().strip() for w in webhook["webhooks"]} == \
        {made.webhook_ca.strip()}
    info = _get(cluster, f"{NS}/configmaps/edge-info")["data"]
    assert info["lite-apiserver.crt"].strip() == made.lite_cert.strip()
    assert "lite-apiserver.key" in info and info["host-config"] == "198.18.0.5 registry.example.test\n"
    assert info["edge-virtual-addr"] == "169.254.20.11"
    conf = _get(cluster, f"{NS}/configmaps/tunnel-edge-conf")["data"]["mode.toml"]
    assert f'server_name = "198.18.0.1:{made.node_ports["grpc"]}"' in conf, "tunnel-edge dials what it dialled"
    assert f'token = "{made.token}"' in conf


@pytest.mark.parametrize("helm_name", ["helm3", "helm4"])
def test_adopt_keeps_what_nodes_hold_and_detach_returns_to_edgeadms_state(
        edgeadm_cluster: tuple[Any, edgeadm_state.EdgeadmState], helm_name: str) -> None:
    cluster, made = edgeadm_cluster
    helm = ("--helm", str(build_binaries.binary_dir() / helm_name))
    before = snapshot(cluster)
    result = succeeded(run_plugin(cluster.kubeconfig, "addon", "--adopt", *helm))
    assert "replace deployment edge-system/tunnel-cloud" in result.stderr
    assert "take over service edge-system/tunnel-cloud" in result.stderr
    _check_kept(cluster, made)
    releases = admin_request(cluster, f"{NS}/secrets?labelSelector=owner%3Dhelm,status%3Ddeployed").body["items"]
    assert [r["metadata"]["labels"]["name"] for r in releases] == ["superedge-addon"]
    for path in ("deployments/tunnel-cloud", "daemonsets/tunnel-edge"):
        annotations = _get(cluster, f"/apis/apps/v1/namespaces/edge-system/{path}")["metadata"]["annotations"]
        assert annotations["meta.helm.sh/release-name"] == "superedge-addon"
    service = _get(cluster, f"{NS}/services/tunnel-cloud")
    assert service["spec"]["selector"].get("app.kubernetes.io/component") == "tunnel-cloud"
    assert "app" not in service["spec"]["selector"], "the Service selects the chart's tunnel-cloud pods"
    # edgeadm's rewrites stay without --repair.
    info = _get(cluster, "/api/v1/namespaces/kube-public/configmaps/cluster-info")
    assert "https://kubernetes.default:6443" in info["data"]["kubeconfig"]

    status = succeeded(run_plugin(cluster.kubeconfig, "status"))
    assert "superedge-addon" in status.stdout, status.stdout
    again = succeeded(run_plugin(cluster.kubeconfig, "addon", "--adopt", *helm))
    assert "adopted" not in again.stdout.split("\n")[0], again.stdout
    assert "nothing to change" in again.stderr, again.stderr
    plain = succeeded(run_plugin(cluster.kubeconfig, "addon", *helm))  # the release is there: no --adopt needed now
    assert "nothing to change" in plain.stderr, plain.stderr
    _check_kept(cluster, made)

    succeeded(run_plugin(cluster.kubeconfig, "detach", *helm))
    assert _settled(cluster, before) == []


def test_adopt_with_repair_and_detach_back(edgeadm_cluster: tuple[Any, edgeadm_state.EdgeadmState]) -> None:
    cluster, made = edgeadm_cluster
    before = snapshot(cluster)
    endpoint = yaml.safe_load(_get(cluster, "/api/v1/namespaces/kube-system/configmaps/kubeadm-config")["data"][
        "ClusterConfiguration"]).get("controlPlaneEndpoint")
    succeeded(run_plugin(cluster.kubeconfig, "addon", "--adopt", "--repair"))
    _check_kept(cluster, made)
    info = _get(cluster, "/api/v1/namespaces/kube-public/configmaps/cluster-info")
    assert yaml.safe_load(info["data"]["kubeconfig"])["clusters"][0]["cluster"]["server"] == f"https://{endpoint}"
    bootstrapper = _get(cluster, "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:node-bootstrapper")
    assert bootstrapper["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] == "true"
    assert bootstrapper["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
    role = _get(cluster, "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/roles/kubeadm:nodes-kubeadm-config")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["kubeadm-config"],
                              "verbs": ["get"]}]
    assert admin_request(cluster, "/api/v1/namespaces/kube-system/configmaps/kubelet-config-1.22").status == 404
    succeeded(run_plugin(cluster.kubeconfig, "detach"))
    assert _settled(cluster, before) == []
