"""The chart under the real helm 3 and helm 4, without a cluster: lint, schema, and what it renders."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from chartkit import HELMS, REPO, ca_pair, computed, facts, helm, helm_env
from cryptography import x509

from kubectl_edge.addon import certs, chart
from kubectl_edge.addon.helm import Helm, HelmFailed, run_template, template_argv
from kubectl_edge.addon.values import values_yaml

CHART = REPO / "helm" / "superedge-addon"
EDGE_SELECTOR = {"superedge.io/node-edge": "enable"}


@pytest.fixture(scope="module")
def ca() -> tuple[str, str]:
    return ca_pair()


@pytest.fixture(scope="module", params=HELMS)
def helm_bin(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Helm, dict]:
    home = tmp_path_factory.mktemp(request.param)
    return helm(request.param, home), helm_env(home)


def write_values(tmp_path: Path, values: dict[str, Any], name: str = "values.yaml") -> Path:
    path = tmp_path / name
    path.write_text(values_yaml(values))
    return path


def lint(helm_bin, *args: str) -> subprocess.CompletedProcess[str]:
    tool, env = helm_bin
    return subprocess.run([tool.path, "lint", "--strict", str(CHART), *args], capture_output=True, text=True,
                          env=env, timeout=120)


def render(helm_bin, values_files: list[Path], set_values: tuple[str, ...] = (), kube_version: str = "v1.37.2"
           ) -> dict[tuple[str, str], dict[str, Any]]:
    # Always with the cluster's version: helm built without release flags assumes an old Kubernetes (v1.20).
    tool, env = helm_bin
    manifest = run_template(template_argv(tool, CHART, values_files, set_values=list(set_values),
                                          kube_version=kube_version), env)
    return {(o["kind"], o["metadata"]["name"]): o for o in chart.manifest_objects(manifest)}


def b64(obj: dict[str, Any], key: str) -> str:
    return base64.b64decode(obj["data"][key]).decode()


def test_helm_reports_its_major(helm_bin):
    tool, _ = helm_bin
    assert tool.version.major == (3 if tool.path.endswith("helm3") else 4)


@pytest.mark.parametrize("case", ["kube-proxy and CA key", "no kube-proxy, no CA key", "defaults"])
def test_lint_strict_is_clean(helm_bin, ca, tmp_path, case):
    if case == "defaults":
        args: list[str] = []
    else:
        with_kube_proxy = case.startswith("kube-proxy")
        values, _ = computed(facts(ca[0], kube_proxy=with_kube_proxy), ca[1] if with_kube_proxy else None)
        args = ["--values", str(write_values(tmp_path, values))]
    result = lint(helm_bin, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


@pytest.mark.parametrize(("assignment", "field"), [
    ("--set-string=tunnelCloud.nodePort=31000", "nodePort"),
    ("--set=tunnelCloud.replicas=many", "replicas"),
    ("--set=edgeKubeProxy.enabled=maybe", "enabled"),
    ("--set=images.tunnel.tag=latest", "tag"),
    ("--set=tunnelCloud.nodeport=31000", "nodeport"),
])
def test_wrong_values_are_rejected_by_the_schema(helm_bin, assignment, field):
    result = lint(helm_bin, assignment, "--set", "tunnelCloud.publicHost=203.0.113.10")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "schema" in output and field in output, output


def test_every_value_is_described_by_the_schema():
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    missing: list[str] = []
    checked: set[str] = set()

    def walk(node: Any, where: dict[str, Any], path: str) -> None:
        if not isinstance(node, dict) or "properties" not in where:
            return
        for key, value in node.items():
            checked.add(f"{path}{key}")
            if key not in where["properties"]:
                missing.append(f"{path}{key}")
                continue
            described = where["properties"][key]
            if not described.get("description") and "$ref" not in described:
                missing.append(f"{path}{key} (no description)")
            walk(value, described, f"{path}{key}.")

    walk(values, schema, "")
    assert missing == []
    # the walk went down the tree (a schema without top-level properties would check nothing)
    assert {"tunnelCloud", "tunnelCloud.nodePort", "tunnelCloud.tls.cipherSuites", "edgeHealth.hmacKey",
            "liteApiserver.cert", "images.tunnel.repository", "edgeKubeProxy.enabled"} <= checked


def test_no_private_key_is_written_in_the_chart():
    files = [path for path in CHART.rglob("*") if path.is_file()]
    for path in files:
        assert "PRIVATE KEY-----" not in path.read_text(), path
    # the chart's own files were looked at, secrets' templates among them
    assert {"Chart.yaml", "values.yaml", "templates/_helpers.tpl", "templates/tunnel-cloud-cert-secret.yaml",
            "templates/edge-health-admission-secret.yaml"} <= {path.relative_to(CHART).as_posix() for path in files}


def test_computed_values_are_rendered_verbatim(helm_bin, ca, tmp_path):
    values, material = computed(facts(ca[0]), ca[1])
    objects = render(helm_bin, [write_values(tmp_path, values)])
    cloud = objects[("Secret", "tunnel-cloud-cert")]
    assert b64(cloud, "cloud.key") == material.tunnel_cloud.key
    assert b64(cloud, "egress.crt") == material.tunnel_egress.cert
    assert b64(objects[("Secret", "tunnel-edge-cert")], "ca.crt") == material.tunnel_ca
    assert objects[("ConfigMap", "tunnel-cloud-token")]["data"]["token"].strip() == f"default:{material.tunnel_token}"
    assert objects[("ConfigMap", "hmac-config")]["data"]["hmackey"] == material.hmac_key
    webhook = objects[("MutatingWebhookConfiguration", "edge-health-admission")]
    assert {base64.b64decode(w["clientConfig"]["caBundle"]).decode() for w in webhook["webhooks"]} == \
        {material.webhook_ca}
    # what the components phase reads back from the live objects is what it gave
    live = {role: objects.get((ref.kind.kind, ref.name)) for role, ref in chart.existing_refs().items()}
    assert chart.existing_from_objects(live) == certs.Existing(**{
        field: getattr(material, field) for field in certs.Material.__dataclass_fields__})


def test_material_generated_by_the_chart_fits_together(helm_bin, ca, tmp_path):
    values = {"tunnelCloud": {"publicHost": "edge.example.org"}, "cluster": {"caCert": ca[0]}}
    objects = render(helm_bin, [write_values(tmp_path, values)])
    tunnel_ca = x509.load_pem_x509_certificate(b64(objects[("Secret", "tunnel-edge-cert")], "ca.crt").encode())
    for key in ("cloud.crt", "egress.crt"):
        x509.load_pem_x509_certificate(b64(objects[("Secret", "tunnel-cloud-cert")], key).encode()
                                       ).verify_directly_issued_by(tunnel_ca)
    token = objects[("ConfigMap", "tunnel-cloud-token")]["data"]["token"].strip().removeprefix("default:")
    assert len(token) == 32
    assert f'token = "{token}"' in objects[("ConfigMap", "tunnel-edge-conf")]["data"]["mode.toml"]
    webhook_ca = x509.load_pem_x509_certificate(base64.b64decode(
        objects[("MutatingWebhookConfiguration", "edge-health-admission")]["webhooks"][0]["clientConfig"]["caBundle"]))
    secret = objects[("Secret", "validate-admission-control-server-certs")]
    x509.load_pem_x509_certificate(b64(secret, "server.crt").encode()).verify_directly_issued_by(webhook_ca)
    # generated per render, never a fixed key
    again = render(helm_bin, [write_values(tmp_path, values)])
    assert again[("Secret", "tunnel-cloud-cert")]["data"] != objects[("Secret", "tunnel-cloud-cert")]["data"]


def test_placement_control_plane_and_edge(helm_bin, ca, tmp_path):
    values, _ = computed(facts(ca[0]), None)
    objects = render(helm_bin, [write_values(tmp_path, values)])
    for name in ("tunnel-cloud", "edge-health-admission", "application-grid-controller"):
        spec = objects[("Deployment", name)]["spec"]["template"]["spec"]
        terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        keys = {e["key"] for term in terms for e in term["matchExpressions"]}
        assert keys == {"node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"}, name
        assert {t["key"] for t in spec["tolerations"]} >= keys
    daemonsets = [o for (kind, _), o in objects.items() if kind == "DaemonSet"]
    assert {d["metadata"]["name"] for d in daemonsets} == {
        "tunnel-edge", "edge-health", "application-grid-wrapper-node", "edge-coredns", "edge-kube-proxy"}
    for daemonset in daemonsets:
        selector = daemonset["spec"]["template"]["spec"]["nodeSelector"]
        assert EDGE_SELECTOR.items() <= selector.items(), daemonset["metadata"]["name"]
        assert daemonset["spec"]["selector"]["matchLabels"].items() <= \
            daemonset["spec"]["template"]["metadata"]["labels"].items()


def test_tunnel_uses_the_fixed_node_port_and_the_public_host(helm_bin, ca, tmp_path):
    values, _ = computed(facts(ca[0]), None)
    objects = render(helm_bin, [write_values(tmp_path, values)], ("tunnelCloud.nodePort=30999",))
    ports = {p["name"]: p for p in objects[("Service", "tunnel-cloud")]["spec"]["ports"]}
    assert set(ports) == {"grpc", "ssh", "tunnel-metrics", "egress", "http-proxy"}
    assert ports["grpc"]["port"] == 9000 and ports["grpc"]["nodePort"] == 30999
    assert 'server_name = "203.0.113.10:30999"' in objects[("ConfigMap", "tunnel-edge-conf")]["data"]["mode.toml"]


def test_edge_info_is_the_join_contract(helm_bin, ca, tmp_path):
    values, material = computed(facts(ca[0], edge_info={"data": {"insecure-registries": "registry.local:5000\n"}}),
                                ca[1])
    objects = render(helm_bin, [write_values(tmp_path, values)])
    info = objects[("ConfigMap", "edge-info")]["data"]
    assert material.lite_apiserver is not None
    assert info["edge-virtual-addr"] == "169.254.20.11"
    assert info["kube-api-ca.crt"].strip() == ca[0].strip()
    assert info["lite-apiserver.crt"].strip() == material.lite_apiserver.cert.strip()
    assert info["kube-api-cluster-ip"] == "198.19.0.1"
    assert json.loads(info["tls.json"])[0]["cert"] == "/var/lib/kubelet/pki/kubelet-client-current.pem"
    assert info["insecure-registries"] == "registry.local:5000\n"
    assert not any("PRIVATE KEY" in value for value in info.values())
    assert b64(objects[("Secret", "edge-info")], "lite-apiserver.key") == material.lite_apiserver.key
    role = objects[("Role", "lite-apiserver")]
    assert {(r["resources"][0], tuple(r["resourceNames"]), tuple(r["verbs"])) for r in role["rules"]} == {
        ("configmaps", ("edge-info",), ("get",)), ("secrets", ("edge-info",), ("get",))}
    binding = objects[("RoleBinding", "lite-apiserver")]
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                    "name": "system:bootstrappers:kubeadm:default-node-token"}]


def test_without_lite_apiserver_there_is_no_key_to_read(helm_bin, ca, tmp_path):
    values, _ = computed(facts(ca[0], kube_proxy=False), None)
    objects = render(helm_bin, [write_values(tmp_path, values)])
    assert ("Secret", "edge-info") not in objects
    assert "lite-apiserver.crt" not in objects[("ConfigMap", "edge-info")]["data"]
    assert [r["resources"] for r in objects[("Role", "lite-apiserver")]["rules"]] == [["configmaps"]]
    assert not [key for key in objects if "kube-proxy" in key[1]]


def test_edge_kube_proxy_talks_to_the_wrapper(helm_bin, ca, tmp_path):
    values, _ = computed(facts(ca[0]), None)
    objects = render(helm_bin, [write_values(tmp_path, values)])
    pod = objects[("DaemonSet", "edge-kube-proxy")]["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "registry.k8s.io/kube-proxy:v1.37.2"
    assert pod["serviceAccountName"] == "kube-proxy" and ("ServiceAccount", "kube-proxy") in objects
    assert {"name": "kube-proxy", "configMap": {"name": "edge-kube-proxy", "defaultMode": 420}} in pod["volumes"]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux", **EDGE_SELECTOR}
    data = objects[("ConfigMap", "edge-kube-proxy")]["data"]
    kubeconfig = yaml.safe_load(data["kubeconfig.conf"])
    assert kubeconfig["clusters"][0]["cluster"]["server"] == "http://127.0.0.1:51006"
    assert "clusterCIDR: 198.19.64.0/18" in data["config.conf"]
    wrapper = objects[("DaemonSet", "application-grid-wrapper-node")]["spec"]["template"]["spec"]
    assert "--bind-address=127.0.0.1:51006" in wrapper["containers"][0]["command"]


def test_images_default_to_the_newest_superedge_release(helm_bin, ca, tmp_path):
    values, _ = computed(facts(ca[0], kube_proxy=False), None)
    objects = render(helm_bin, [write_values(tmp_path, values)],
                     ("images.coredns.repository=mirror.example.org/coredns",))
    images = {c["image"] for o in objects.values() if o["kind"] in ("Deployment", "DaemonSet")
              for c in o["spec"]["template"]["spec"]["containers"]}
    appversion = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    assert images == {f"superedge.tencentcloudcr.com/superedge/{name}:{appversion}" for name in (
        "tunnel", "edge-health", "edge-health-admission", "application-grid-controller",
        "application-grid-wrapper")} | {"mirror.example.org/coredns:1.6.9"}


def test_crds_are_rendered_with_the_chart(helm_bin, ca, tmp_path):
    values, _ = computed(facts(ca[0], kube_proxy=False), None)
    objects = render(helm_bin, [write_values(tmp_path, values)])
    crds = {name: o for (kind, name), o in objects.items() if kind == "CustomResourceDefinition"}
    assert {name: (o["spec"]["group"], o["spec"]["scope"], o["spec"]["names"]["shortNames"],
                   [v["name"] for v in o["spec"]["versions"]]) for name, o in crds.items()} == {
        "deploymentgrids.superedge.io": ("superedge.io", "Namespaced", ["dg"], ["v1"]),
        "servicegrids.superedge.io": ("superedge.io", "Namespaced", ["sg"], ["v1"]),
        "statefulsetgrids.superedge.io": ("superedge.io", "Namespaced", ["ssg"], ["v1"]),
    }


def test_managed_cluster_versions_satisfy_kube_version(helm_bin, ca, tmp_path):
    values, _ = computed(facts(ca[0], kube_proxy=False), None)
    files = [write_values(tmp_path, values)]
    assert render(helm_bin, files, kube_version="v1.30.4-eks-a737599")
    assert render(helm_bin, files, kube_version="v1.22.0")
    # an older version given (or a cluster's own) is refused; only helm's bare default is let through
    for old in ("v1.21.14", "v1.20.1", "v1.19.0"):
        with pytest.raises(HelmFailed, match="needs Kubernetes 1.22 or later; this cluster runs " + old):
            render(helm_bin, files, kube_version=old)


def test_a_missing_public_host_is_named(helm_bin, ca, tmp_path):
    with pytest.raises(HelmFailed, match=r"tunnelCloud\.publicHost is required"):
        render(helm_bin, [write_values(tmp_path, {"cluster": {"caCert": ca[0]}})])


def test_partial_certificate_values_are_refused(helm_bin, ca, tmp_path):
    values = {"tunnelCloud": {"publicHost": "203.0.113.10", "caCert": ca[0]}, "cluster": {"caCert": ca[0]}}
    with pytest.raises(HelmFailed, match="set all five or none"):
        render(helm_bin, [write_values(tmp_path, values)])


def test_the_webhook_can_be_left_out(helm_bin, ca, tmp_path):
    values, _ = computed(facts(ca[0], kube_proxy=False), None)
    objects = render(helm_bin, [write_values(tmp_path, values)], ("edgeHealthAdmission.enabled=false",))
    assert not [key for key in objects if "admission" in key[1] or key[0] == "MutatingWebhookConfiguration"]
    assert ("Deployment", "tunnel-cloud") in objects


def test_objects_carry_standard_labels_and_no_namespace(helm_bin, ca, tmp_path):
    values, _ = computed(facts(ca[0]), ca[1])
    objects = render(helm_bin, [write_values(tmp_path, values)])
    checked = set()
    for (kind, name), body in objects.items():
        if kind == "CustomResourceDefinition":
            continue
        checked.add((kind, name))
        labels = body["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "Helm", name
        assert labels["app.kubernetes.io/instance"] == "superedge-addon", name
        assert labels["helm.sh/chart"].startswith("superedge-addon-"), name
        assert "namespace" not in body["metadata"], name
    # every component was among the objects checked
    assert {("Deployment", "tunnel-cloud"), ("DaemonSet", "tunnel-edge"), ("DaemonSet", "edge-health"),
            ("Deployment", "edge-health-admission"), ("Deployment", "application-grid-controller"),
            ("DaemonSet", "application-grid-wrapper-node"), ("DaemonSet", "edge-coredns"),
            ("DaemonSet", "edge-kube-proxy"), ("Service", "tunnel-cloud"), ("ConfigMap", "edge-info"),
            ("Secret", "tunnel-cloud-cert")} <= checked
