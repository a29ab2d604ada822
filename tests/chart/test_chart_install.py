"""The chart installed, upgraded and uninstalled by the real helm 3 and helm 4 on a real control plane.

Each helm major gets a kubeadm-flavoured cluster of its own (kube-proxy objects made by the real kubeadm).
The cluster has no nodes, so pods never start: the tests check objects, never readiness, and never --wait.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from chartkit import HELMS, REPO, binary, helm, helm_env
from clusterkit import diff_snapshots, snapshot

from kubectl_edge.addon import certs, chart
from kubectl_edge.addon.helm import (
    Helm,
    HelmFailed,
    owned_by_release,
    private_file,
    run_uninstall,
    run_upgrade,
    uninstall_argv,
    upgrade_argv,
)
from kubectl_edge.addon.values import ChartFacts, certificate_names, compute_values, values_yaml

sys.path.insert(0, str(REPO / "hack"))
import localcluster

pytestmark = pytest.mark.integration

CHART = REPO / "helm" / "superedge-addon"
CRDS = ("deploymentgrids.superedge.io", "servicegrids.superedge.io", "statefulsetgrids.superedge.io")
BOOTSTRAPPER = ["--as", "system:bootstrap:abcdef", "--as-group", "system:bootstrappers:kubeadm:default-node-token",
                "--as-group", "system:authenticated"]


@dataclass
class Setup:
    cluster: localcluster.LocalCluster
    helm: Helm
    env: dict[str, str]
    work: Path

    def kubectl(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.cluster.kubectl(*args, check=check, input=input)

    def get(self, *args: str) -> dict[str, Any]:
        return json.loads(self.kubectl("get", "-o", "json", *args).stdout)

    def helm_cmd(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.helm.path, *args, "--kubeconfig", self.cluster.kubeconfig], capture_output=True,
                              text=True, env=self.env, timeout=300, check=check)


@pytest.fixture(scope="module", params=HELMS)
def setup(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """A kubeadm-flavoured cluster of this helm major's own, started once for the module."""
    binary(request.param)  # skip early when the binaries are not built
    work = tmp_path_factory.mktemp(f"chart-{request.param}")
    cluster = localcluster.start(work / "cluster", flavour="kubeadm", bin_dir=Path(binary("kubectl")).parent)
    try:
        yield Setup(cluster, helm(request.param, work / "helm"), helm_env(work / "helm"), work)
    finally:
        localcluster.stop(work / "cluster", remove=False)


def live_facts(setup: Setup, **changes: Any) -> ChartFacts:
    """The facts the components phase reads off the cluster."""
    def optional(*args: str) -> dict[str, Any] | None:
        result = setup.kubectl("get", "-o", "json", *args, check=False)
        return json.loads(result.stdout) if result.returncode == 0 else None

    fields: dict[str, Any] = {
        "public_address": "203.0.113.10:6443", "ca_pem": Path(setup.cluster.ca_cert).read_text(),
        "service_cidr": localcluster.SERVICE_CIDR, "cluster_domain": localcluster.CLUSTER_DOMAIN,
        "kube_proxy_daemonset": optional("-n", "kube-system", "daemonset", "kube-proxy"),
        "kube_proxy_configmap": optional("-n", "kube-system", "configmap", "kube-proxy"),
        "edge_info": optional("-n", "edge-system", "configmap", "edge-info")}
    return ChartFacts(**{**fields, **changes})


def live_existing(setup: Setup) -> certs.Existing:
    """What the installed release holds, read from the live objects as the components phase does."""
    objects: dict[str, dict[str, Any] | None] = {}
    for role, ref in chart.existing_refs().items():
        result = setup.kubectl("get", "-o", "json", "-n", ref.namespace or "", ref.kind.plural, ref.name, check=False)
        objects[role] = json.loads(result.stdout) if result.returncode == 0 else None
    return chart.existing_from_objects(objects)


def components(setup: Setup, *set_values: str, facts: ChartFacts | None = None, force_conflicts: bool = False
               ) -> tuple[certs.Result, str]:
    """The components phase: material (kept where it exists), values, helm upgrade --install (its output)."""
    chart_facts = facts or live_facts(setup)
    result = certs.ensure_material(chart_facts.ca_pem, Path(setup.cluster.ca_key).read_text(), live_existing(setup),
                                   certificate_names(chart_facts))
    values = compute_values(chart_facts, result.material).values
    with private_file(values_yaml(values)) as values_file:
        argv = upgrade_argv(setup.helm, chart.locate_chart(), [values_file], set_values=list(set_values),
                            kubeconfig=setup.cluster.kubeconfig, timeout=240, force_conflicts=force_conflicts)
        output = run_upgrade(argv, setup.env)
    return result, output


def manifest(setup: Setup) -> list[dict[str, Any]]:
    return chart.manifest_objects(setup.helm_cmd("get", "manifest", "superedge-addon", "-n", "edge-system").stdout)


def write_manifest(setup: Setup, objects: list[dict[str, Any]]) -> Path:
    path = setup.work / "manifest.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    return path


def secrets_data(setup: Setup) -> dict[str, Any]:
    listing = setup.get("-n", "edge-system", "secrets", "-l", "app.kubernetes.io/instance=superedge-addon")
    return {item["metadata"]["name"]: item["data"] for item in listing["items"]}


def release_revision(setup: Setup) -> int:
    status = json.loads(setup.helm_cmd("status", "superedge-addon", "-n", "edge-system", "-o", "json").stdout)
    return int(status["version"])


# --- the lifecycle, in order ---------------------------------------------------------------------------------

def test_a_wrong_value_is_refused_before_anything_changes(setup):
    before = snapshot(setup.cluster)
    with pytest.raises(HelmFailed) as failure:
        components(setup, "tunnelCloud.nodePort=not-a-port")
    assert "nodePort" in failure.value.message and "schema" in failure.value.message
    # helm installs a chart's crds/ before it validates the values (kubectl edge addon makes the CRDs itself,
    # before helm runs); nothing else may change.
    changes = diff_snapshots(before, snapshot(setup.cluster))
    assert [line for line in changes if "/customresourcedefinitions " not in line] == []
    assert setup.helm_cmd("status", "superedge-addon", "-n", "edge-system", check=False).returncode != 0


def test_install_creates_every_rendered_object(setup):
    result, output = components(setup)
    assert "lite-apiserver" in result.generated  # the CA key was given
    assert "kubectl edge token create --print-join-command" in output  # NOTES.txt
    assert "TCP port 31000" in output and "Edge autonomy is off" not in output
    objects = manifest(setup)
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "DaemonSet", "Service", "MutatingWebhookConfiguration", "Role", "ClusterRole"} <= kinds
    assert {o["metadata"]["name"] for o in objects if o["kind"] == "DaemonSet"} >= {"edge-kube-proxy", "tunnel-edge"}
    live = setup.get("-n", "edge-system", "-f", str(write_manifest(setup, objects)))["items"]
    assert len(live) == len(objects)
    for rendered, found in zip(objects, live, strict=True):
        assert (found["kind"], found["metadata"]["name"]) == (rendered["kind"], rendered["metadata"]["name"])
        assert owned_by_release(found), found["metadata"]
        assert rendered["metadata"]["labels"].items() <= found["metadata"]["labels"].items()
        if rendered["kind"] in ("ConfigMap", "Secret"):
            assert found.get("data") == rendered.get("data"), rendered["metadata"]["name"]
        if "namespace" in found["metadata"]:
            assert found["metadata"]["namespace"] == "edge-system"


def test_the_crds_are_established(setup):
    for name in CRDS:
        crd = setup.get("crd", name)
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions.get("Established") == "True", name
        assert crd["spec"]["scope"] == "Namespaced"


def test_servicegroup_resources_are_accepted(setup):
    grids = [
        {"apiVersion": "superedge.io/v1", "kind": "DeploymentGrid",
         "metadata": {"name": "chart-test-dg", "namespace": "default"},
         "spec": {"gridUniqKey": "superedge.io.hostname", "template": {
             "replicas": 1, "selector": {"matchLabels": {"app": "echo"}},
             "template": {"metadata": {"labels": {"app": "echo"}},
                          "spec": {"containers": [{"name": "echo", "image": "registry.k8s.io/pause:3.10"}]}}}}},
        {"apiVersion": "superedge.io/v1", "kind": "ServiceGrid",
         "metadata": {"name": "chart-test-sg", "namespace": "default"},
         "spec": {"gridUniqKey": "superedge.io.hostname",
                  "template": {"selector": {"app": "echo"}, "ports": [{"port": 80, "protocol": "TCP"}]}}},
    ]
    try:
        for grid in grids:
            created = json.loads(setup.kubectl("create", "-o", "json", "-f", "-", input=json.dumps(grid)).stdout)
            assert created["spec"] == grid["spec"]  # the templates are kept whole
        assert [i["metadata"]["name"] for i in setup.get("-n", "default", "dg")["items"]] == ["chart-test-dg"]
        wrong = {**grids[1], "metadata": {"name": "chart-test-bad", "namespace": "default"},
                 "spec": {"gridUniqKey": 5}}
        refused = setup.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(wrong), check=False)
        assert refused.returncode != 0 and "gridUniqKey" in refused.stderr
    finally:
        setup.kubectl("delete", "-n", "default", "dg/chart-test-dg", "sg/chart-test-sg", "--ignore-not-found")


def _workload(image: str, replicas: int) -> dict[str, Any]:
    """A Deployment/StatefulSet spec as a templatePool entry holds it (metadata of the pod template included)."""
    return {"replicas": replicas, "selector": {"matchLabels": {"appGrid": "echo"}},
            "template": {"metadata": {"creationTimestamp": None, "labels": {"appGrid": "echo"}},
                         "spec": {"containers": [{"name": "echo", "image": image}]}}}


@pytest.mark.parametrize("kind", ["DeploymentGrid", "StatefulSetGrid"])
def test_canary_grids_are_accepted_and_status_is_written(setup, kind):
    """SuperEdge's canary example: two templates in templatePool, each site given one; status via /status."""
    plural = {"DeploymentGrid": "deploymentgrids", "StatefulSetGrid": "statefulsetgrids"}[kind]
    name = f"canary-{plural}"
    grid = {"apiVersion": "superedge.io/v1", "kind": kind, "metadata": {"name": name, "namespace": "default"},
            "spec": {"defaultTemplateName": "test1", "autoDeleteUnusedTemplate": False, "gridUniqKey": "zone",
                     "template": _workload("superedge/echoserver:2.2", 1),
                     "templatePool": {"test1": _workload("superedge/echoserver:2.2", 2),
                                      "test2": _workload("superedge/echoserver:2.3", 3)},
                     "templates": {"zone1": "test1", "zone2": "test2"}}}
    if kind == "StatefulSetGrid":
        for spec in (grid["spec"]["template"], *grid["spec"]["templatePool"].values()):
            spec["serviceName"] = "echo"
    try:
        created = json.loads(setup.kubectl("create", "-o", "json", "-f", "-", input=json.dumps(grid)).stdout)
        # nothing pruned: the pod templates' metadata (labels) in templatePool are kept whole
        assert created["spec"]["templatePool"]["test2"]["template"]["metadata"]["labels"] == {"appGrid": "echo"}
        assert created["spec"]["templatePool"]["test2"]["replicas"] == 3
        assert created["spec"]["templates"] == {"zone1": "test1", "zone2": "test2"}

        # the controller's UpdateStatus is a PUT of .../status; status in a spec update is ignored
        states = {"zone1": {"replicas": 2, "readyReplicas": 2}, "zone2": {"replicas": 3, "readyReplicas": 1}}
        status_update = {**created, "status": {"states": states}}
        written = json.loads(setup.kubectl("replace", "--subresource=status", "-o", "json", "-f", "-",
                                           input=json.dumps(status_update)).stdout)
        assert written["status"] == {"states": states}
        assert written["metadata"]["generation"] == created["metadata"]["generation"]
        spec_update = {**written, "status": {"states": {}}}
        spec_update["spec"] = {**written["spec"], "templates": {"zone1": "test2"}}
        replaced = json.loads(setup.kubectl("replace", "-o", "json", "-f", "-",
                                            input=json.dumps(spec_update)).stdout)
        assert replaced["status"] == {"states": states}
        assert replaced["spec"]["templates"] == {"zone1": "test2"}
    finally:
        setup.kubectl("delete", "-n", "default", f"{plural}/{name}", "--ignore-not-found")


def test_servicegrid_status_is_written_through_the_subresource(setup):
    grid = {"apiVersion": "superedge.io/v1", "kind": "ServiceGrid",
            "metadata": {"name": "status-sg", "namespace": "default"},
            "spec": {"gridUniqKey": "zone", "template": {"selector": {"appGrid": "echo"},
                                                         "ports": [{"port": 80, "protocol": "TCP"}]}}}
    try:
        created = json.loads(setup.kubectl("create", "-o", "json", "-f", "-", input=json.dumps(grid)).stdout)
        status = {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}
        written = json.loads(setup.kubectl("replace", "--subresource=status", "-o", "json", "-f", "-",
                                           input=json.dumps({**created, "status": status})).stdout)
        assert written["status"] == status
    finally:
        setup.kubectl("delete", "-n", "default", "sg/status-sg", "--ignore-not-found")


def test_nodes_joining_may_read_edge_info_and_nothing_else(setup):
    def can(verb: str, what: str) -> bool:
        result = setup.kubectl("auth", "can-i", verb, what, "-n", "edge-system", *BOOTSTRAPPER, check=False)
        return result.stdout.strip() == "yes"

    assert can("get", "configmaps/edge-info") and can("get", "secrets/edge-info")
    assert not can("get", "secrets/tunnel-cloud-cert")
    assert not can("list", "secrets") and not can("update", "configmaps/edge-info")


def test_an_upgrade_keeps_keys_certificates_and_what_others_wrote(setup):
    before = secrets_data(setup)
    token = setup.get("-n", "edge-system", "configmap", "tunnel-cloud-token")["data"]
    revision = release_revision(setup)
    # The owner adds a key to edge-info; tunnel-cloud records nodes in tunnel-nodes (other field managers).
    setup.kubectl("patch", "-n", "edge-system", "configmap", "edge-info", "--type=merge",
                  "-p", json.dumps({"data": {"host-config": "203.0.113.30 registry.example.org"}}))
    setup.kubectl("patch", "-n", "edge-system", "configmap", "tunnel-nodes", "--type=merge",
                  "-p", json.dumps({"data": {"hosts": "198.18.0.5 edge-1"}}), "--field-manager=tunnel-cloud")

    result, _ = components(setup, "tunnelCloud.replicas=2")
    assert result.generated == ()
    assert release_revision(setup) == revision + 1
    assert setup.get("-n", "edge-system", "deployment", "tunnel-cloud")["spec"]["replicas"] == 2
    assert secrets_data(setup) == before
    assert setup.get("-n", "edge-system", "configmap", "tunnel-cloud-token")["data"] == token
    assert setup.get("-n", "edge-system", "configmap", "edge-info")["data"]["host-config"] == \
        "203.0.113.30 registry.example.org"
    assert setup.get("-n", "edge-system", "configmap", "tunnel-nodes")["data"]["hosts"] == "198.18.0.5 edge-1"

    # The chart keeps the owner's key by itself too (lookup), when the values do not carry it.
    components(setup, facts=live_facts(setup, edge_info=None), force_conflicts=True)
    assert release_revision(setup) == revision + 2
    assert setup.get("-n", "edge-system", "configmap", "edge-info")["data"]["host-config"] == \
        "203.0.113.30 registry.example.org"
    assert setup.get("-n", "edge-system", "deployment", "tunnel-cloud")["spec"]["replicas"] == 1
    assert secrets_data(setup) == before


def test_uninstall_removes_every_object_but_the_crds(setup):
    objects = manifest(setup)
    argv = uninstall_argv(setup.helm, kubeconfig=setup.cluster.kubeconfig, timeout=240)
    assert run_uninstall(argv, setup.env) is True
    remaining = setup.kubectl("get", "-n", "edge-system", "-f", str(write_manifest(setup, objects)),
                              "--ignore-not-found", "-o", "name")
    assert remaining.stdout.strip() == ""
    for name in CRDS:
        assert setup.kubectl("get", "crd", name, check=False).returncode == 0
    assert run_uninstall(argv, setup.env) is False  # nothing left to uninstall
    # helm's record of the release went with it
    assert setup.kubectl("get", "secrets", "-n", "edge-system", "-l", "owner=helm,name=superedge-addon",
                         "-o", "name").stdout.strip() == ""


def test_keys_the_chart_generates_survive_an_upgrade(setup):
    """Plain helm, no computed values: the chart makes the keys once and keeps them."""
    base = ["upgrade", "--install", "superedge-addon", str(CHART), "-n", "edge-system", "--create-namespace",
            "--set", "tunnelCloud.publicHost=edge.example.org"]
    setup.helm_cmd(*base)
    before = secrets_data(setup)
    info = setup.get("-n", "edge-system", "configmap", "edge-info")["data"]
    assert info["kube-api-ca.crt"].strip() == Path(setup.cluster.ca_cert).read_text().strip()  # kube-root-ca.crt
    assert info["kube-api-cluster-ip"] == localcluster.KUBERNETES_SERVICE_IP
    assert "lite-apiserver.crt" not in info and "edge-info" not in before
    setup.helm_cmd(*base, "--set", "tunnelCloud.replicas=3")
    assert setup.get("-n", "edge-system", "deployment", "tunnel-cloud")["spec"]["replicas"] == 3
    assert secrets_data(setup) == before
    tunnel_ca = base64.b64decode(before["tunnel-edge-cert"]["ca.crt"]).decode()
    existing = live_existing(setup)
    assert existing.tunnel_ca == tunnel_ca
    # the components phase adopts what the chart made rather than replacing it
    kept = certs.ensure_material(Path(setup.cluster.ca_cert).read_text(), None, existing,
                                 certificate_names(live_facts(setup, public_address="edge.example.org")))
    assert kept.generated == ()
    assert run_uninstall(uninstall_argv(setup.helm, kubeconfig=setup.cluster.kubeconfig), setup.env)


def readme_commands() -> list[list[str]]:
    """The commands of the chart README's sh blocks, continuation lines joined, as argv lists."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", (CHART / "README.md").read_text(), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.strip().startswith("#"):
                commands.append(shlex.split(line))
    return commands


def test_the_readme_commands_work_as_written(setup, tmp_path):
    """Each helm command of the README, unchanged, from a directory laid out as it assumes."""
    commands = readme_commands()
    assert [argv[:2] for argv in commands] == [["helm", "upgrade"], ["helm", "template"], ["helm", "install"],
                                               ["helm", "uninstall"]]
    (tmp_path / "helm").mkdir()
    (tmp_path / "helm" / "superedge-addon").symlink_to(CHART)
    shutil.copy(setup.cluster.ca_cert, tmp_path / "ca.crt")
    # helm template runs where no cluster is known at all; helm install --dry-run asks the cluster's version
    offline = {**setup.env, "KUBECONFIG": str(tmp_path / "no-such-kubeconfig"), "HOME": str(tmp_path)}
    online = {**setup.env, "KUBECONFIG": setup.cluster.kubeconfig}

    def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        assert argv[0] == "helm"
        result = subprocess.run([setup.helm.path, *argv[1:]], cwd=tmp_path, env=env, capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0, f"{shlex.join(argv)}: {result.stderr}"
        return result

    upgrade, template, dry_run, uninstall = commands
    rendered = run(template, offline).stdout
    assert "name: tunnel-cloud-conf" in rendered and "kind: MutatingWebhookConfiguration" in rendered
    before = snapshot(setup.cluster)
    rendered = run(dry_run, online).stdout
    assert "name: tunnel-cloud-conf" in rendered and "kind: MutatingWebhookConfiguration" in rendered
    assert diff_snapshots(before, snapshot(setup.cluster)) == []

    run(upgrade, online)
    assert setup.get("-n", "edge-system", "deployment", "tunnel-cloud")["metadata"]["name"] == "tunnel-cloud"
    run(uninstall, online)
    assert setup.kubectl("get", "-n", "edge-system", "deployment", "tunnel-cloud", check=False).returncode != 0
