"""kubectl_edge.addon.chart without helm: locating the chart, values, existing material, argv."""

from __future__ import annotations

import copy
import os
import re
import stat
from pathlib import Path

import pytest
import yaml
from chartkit import KUBEADM_KUBE_PROXY_CONFIGMAP, KUBEADM_KUBE_PROXY_DAEMONSET, REPO, ca_pair, computed, facts

from kubectl_edge.addon import certs, chart
from kubectl_edge.addon.helm import (
    Helm,
    HelmVersion,
    parse_helm_version,
    private_file,
    template_argv,
    uninstall_argv,
    upgrade_argv,
)
from kubectl_edge.addon.values import compute_values, edge_kube_proxy_values, kubernetes_service_ip, public_host
from kubectl_edge.errors import ConfigError, PreconditionFailed

HELM3 = Helm("/opt/helm3", HelmVersion(3, 22, 0))
HELM4 = Helm("/opt/helm4", HelmVersion(4, 3, 1))


@pytest.fixture(scope="module")
def ca() -> tuple[str, str]:
    return ca_pair()


# --- the chart's location --------------------------------------------------------------------------------

def test_a_checkout_uses_its_own_chart():
    assert chart.locate_chart() == REPO / "helm" / "superedge-addon"


def test_the_wheel_carries_the_chart_where_the_plugin_looks():
    # (tomllib is 3.11+; the plugin supports 3.10)
    section = (REPO / "pyproject.toml").read_text().split("[tool.hatch.build.targets.wheel.force-include]", 1)[1]
    mapping = dict(re.findall(r'^"([^"]+)"\s*=\s*"([^"]+)"', section.split("\n[", 1)[0], re.MULTILINE))
    package_root = Path(chart.__file__).resolve().parents[2]
    assert mapping["helm/superedge-addon"] == chart.PACKAGED_CHART.relative_to(package_root).as_posix()
    assert (REPO / "helm/superedge-addon/Chart.yaml").is_file()


def test_chart_flag_must_name_a_chart(tmp_path):
    assert chart.locate_chart(str(REPO / "helm/superedge-addon")) == REPO / "helm/superedge-addon"
    with pytest.raises(ConfigError, match=r"no Chart\.yaml"):
        chart.locate_chart(str(tmp_path))


def test_no_helm_on_path_is_a_precondition(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(PreconditionFailed, match="helm not found"):
        chart.find_helm()


# --- helm versions and argv ------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [("v3.22.0+g4e7c5a0\n", (3, 22, 0)), ("v4.3.1", (4, 3, 1)),
                                                ("v3.8.0", (3, 8, 0))])
def test_helm_versions(text, expected):
    version = parse_helm_version(text)
    assert (version.major, version.minor, version.patch) == expected


@pytest.mark.parametrize("text", ["v3.7.2", "v2.17.0", "not helm"])
def test_old_or_unknown_helm_is_refused(text):
    with pytest.raises(PreconditionFailed, match="helm"):
        parse_helm_version(text)


def test_upgrade_argv_for_helm3_and_helm4():
    for helm, wait_flag in ((HELM3, "--wait"), (HELM4, "--wait=watcher")):
        argv = upgrade_argv(helm, "/c", ["/v1.yaml", "/v2.yaml"], set_values=["a=b"], wait=True, timeout=300,
                            kubeconfig="/k")
        assert argv[:5] == [helm.path, "upgrade", "--install", "superedge-addon", "/c"]
        assert argv[argv.index("--namespace") + 1] == "edge-system" and "--create-namespace" in argv
        # later values files win in helm: the user's come after the computed ones
        assert [argv[i + 1] for i, a in enumerate(argv) if a == "--values"] == ["/v1.yaml", "/v2.yaml"]
        assert argv[argv.index("--set") + 1] == "a=b"
        assert wait_flag in argv and argv[argv.index("--timeout") + 1] == "300s"
        assert argv[argv.index("--kubeconfig") + 1] == "/k"
        assert not any(a.startswith("--wait") for a in upgrade_argv(helm, "/c", ["/v.yaml"]))
        assert "--create-namespace" not in upgrade_argv(helm, "/c", [], create_namespace=False)
    assert "--force-conflicts" in upgrade_argv(HELM4, "/c", [], force_conflicts=True)
    assert "--force-conflicts" not in upgrade_argv(HELM3, "/c", [], force_conflicts=True)  # no such flag


def test_template_and_uninstall_argv():
    argv = template_argv(HELM4, "/c", ["/v.yaml"], kube_version="v1.37.2", is_upgrade=True)
    assert argv[:4] == [HELM4.path, "template", "superedge-addon", "/c"]
    assert "--include-crds" in argv and "--is-upgrade" in argv
    assert argv[argv.index("--kube-version") + 1] == "v1.37.2"
    assert uninstall_argv(HELM3, wait=True) == [HELM3.path, "uninstall", "superedge-addon", "--namespace",
                                                "edge-system", "--wait"]
    assert "--wait=watcher" in uninstall_argv(HELM4, wait=True)


def test_private_file_is_for_the_user_only_and_removed():
    with private_file("secret: x\n") as path:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert path.read_text() == "secret: x\n"
    assert not path.exists()


# --- values ----------------------------------------------------------------------------------------------

def test_addresses():
    assert public_host("203.0.113.10:6443") == "203.0.113.10"
    assert public_host("[2001:db8::1]:6443") == "2001:db8::1"
    assert public_host("edge.example.org") == "edge.example.org"
    assert kubernetes_service_ip("198.19.0.0/20") == "198.19.0.1"
    assert kubernetes_service_ip("10.96.0.0/12,fd00::/108") == "10.96.0.1"
    with pytest.raises(ConfigError):
        kubernetes_service_ip("nonsense")


def test_edge_kube_proxy_copies_the_cluster_pod_and_repoints_its_configmap():
    values, notes = edge_kube_proxy_values(copy.deepcopy(KUBEADM_KUBE_PROXY_DAEMONSET),
                                           copy.deepcopy(KUBEADM_KUBE_PROXY_CONFIGMAP))
    pod = KUBEADM_KUBE_PROXY_DAEMONSET["spec"]["template"]["spec"]
    assert values["enabled"] is True and notes == []
    assert values["containers"] == pod["containers"]
    config_volume = next(v for v in values["volumes"] if v["name"] == "kube-proxy")
    assert config_volume["configMap"] == {"name": "edge-kube-proxy", "defaultMode": 420}
    assert values["config"] == {"config.conf": KUBEADM_KUBE_PROXY_CONFIGMAP["data"]["config.conf"]}
    assert values["kubeconfigKey"] == "kubeconfig.conf"
    assert values["hostNetwork"] is True and values["tolerations"] == [{"operator": "Exists"}]
    # the caller's bodies are not changed
    assert KUBEADM_KUBE_PROXY_DAEMONSET["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"] == "kube-proxy"


def test_edge_kube_proxy_gets_a_kubeconfig_when_the_cluster_one_uses_in_cluster_credentials():
    configmap = copy.deepcopy(KUBEADM_KUBE_PROXY_CONFIGMAP)
    configmap["data"] = {"config.conf": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
                                        "kind: KubeProxyConfiguration\nmode: ipvs\n"}
    values, _ = edge_kube_proxy_values(copy.deepcopy(KUBEADM_KUBE_PROXY_DAEMONSET), configmap)
    configuration = yaml.safe_load(values["config"]["config.conf"])
    assert configuration["clientConnection"]["kubeconfig"] == "/var/lib/kube-proxy/kubeconfig.conf"
    assert configuration["mode"] == "ipvs" and values["kubeconfigKey"] == "kubeconfig.conf"


def test_no_edge_kube_proxy_without_a_cluster_kube_proxy_or_its_configuration():
    values, notes = edge_kube_proxy_values(None, None)
    assert values == {"enabled": False} and "no kube-system/kube-proxy DaemonSet" in notes[0]
    flags_only = copy.deepcopy(KUBEADM_KUBE_PROXY_CONFIGMAP)
    flags_only["data"] = {"kubeconfig.conf": flags_only["data"]["kubeconfig.conf"]}
    values, notes = edge_kube_proxy_values(copy.deepcopy(KUBEADM_KUBE_PROXY_DAEMONSET), flags_only)
    assert values == {"enabled": False} and "KubeProxyConfiguration" in notes[0]


def test_computed_values_carry_the_material_and_the_facts(ca):
    ca_pem, ca_key = ca
    live_info = {"data": {"host-config": "203.0.113.20 registry.local\n", "edge-virtual-addr": "x"}}
    values, material = computed(facts(ca_pem, edge_info=live_info, tunnel_node_port=31555), ca_key)
    assert values["tunnelCloud"]["publicHost"] == "203.0.113.10"
    assert values["tunnelCloud"]["nodePort"] == 31555
    assert values["tunnelCloud"]["serverKey"] == material.tunnel_cloud.key
    assert values["cluster"] == {"caCert": ca_pem, "domain": "cluster.local", "kubernetesServiceIP": "198.19.0.1"}
    assert material.lite_apiserver is not None and values["liteApiserver"]["cert"] == material.lite_apiserver.cert
    assert values["edgeInfo"] == {"hostConfig": "203.0.113.20 registry.local\n"}
    assert "cloudPlacement" not in values


def test_clusters_without_control_plane_nodes_place_central_components_off_edge_nodes(ca):
    result = compute_values(facts(ca[0], control_plane_nodes=False),
                            certs.ensure_material(ca[0], None, certs.Existing(), certs.Names()).material)
    terms = result.values["cloudPlacement"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{"key": "superedge.io/node-edge", "operator": "DoesNotExist"}]}]
    assert any("control-plane" in note for note in result.notes)


def test_the_chart_crds_are_readable_for_the_plugin():
    bodies = chart.crd_bodies(chart.locate_chart())
    assert sorted(b["metadata"]["name"] for b in bodies) == [
        "deploymentgrids.superedge.io", "servicegrids.superedge.io", "statefulsetgrids.superedge.io"]


def test_node_port_users_names_other_services_only():
    def service(namespace: str, name: str, *ports: int) -> dict:
        return {"metadata": {"namespace": namespace, "name": name},
                "spec": {"ports": [{"port": 80, "nodePort": p} for p in ports]}}

    services = [service("edge-system", "tunnel-cloud", 31000), service("shop", "web", 30080, 31000),
                service("shop", "db"), service("other", "api", 31001)]
    assert chart.node_port_users(services, 31000) == ["shop/web"]
    assert chart.node_port_users(services, 32000) == []
