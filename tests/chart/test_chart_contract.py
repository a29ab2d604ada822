"""The chart spells the cloud<->node contract as edge_protocol.contract does, so neither side changes alone.

edgeadm (and SuperEdge's components) read what the chart writes by the names in
:mod:`edge_protocol.contract`; the chart has its own spelling of each in ``values.yaml``,
``templates/_helpers.tpl`` and the templates. These tests compare the two: the defaults and helpers as
written, then what the real helm renders from them.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from chartkit import REPO, binary, ca_pair, helm_env

from edge_protocol import contract
from edge_protocol import token as bootstrap_token
from edge_protocol.network import endpoint_url

CHART = REPO / "helm" / "superedge-addon"
#: The edge components: they run on edge nodes and select them by the placement label.
EDGE_DAEMONSETS = ("tunnel-edge", "edge-health", "application-grid-wrapper-node", "edge-coredns")


def helper(name: str) -> str:
    """The body of a ``define`` in _helpers.tpl, stripped."""
    text = (CHART / "templates" / "_helpers.tpl").read_text()
    match = re.search(r'\{\{-? define "superedge-addon\.' + re.escape(name) + r'" -?\}\}(.*?)\{\{-? end \}\}', text,
                      re.DOTALL)
    assert match, f"_helpers.tpl has no define superedge-addon.{name}"
    return match.group(1).strip()


@pytest.fixture(scope="module")
def defaults() -> dict[str, Any]:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert isinstance(values, dict)
    return values


def test_values_defaults_are_the_contracts(defaults: dict[str, Any]) -> None:
    assert defaults["edgeVirtualAddr"] == contract.DEFAULT_EDGE_VIRTUAL_ADDR
    assert defaults["edgePlacement"]["nodeSelector"] == {contract.EDGE_NODE_LABEL: contract.ENABLED}
    # Nodes join with kubeadm's default group: that group must be able to read edge-info.
    assert bootstrap_token.DEFAULT_GROUP in defaults["edgeInfo"]["readerGroups"]


def test_helpers_spell_the_contracts_port() -> None:
    assert helper("liteApiserverPort") == str(contract.LITE_APISERVER_PORT)


def render(chart: Path, home: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """``chart`` as helm 3 renders it with its defaults, a CA, a public host and a lite-apiserver pair."""
    ca_cert, ca_key = ca_pair()
    values = home / "values.yaml"
    values.write_text(yaml.safe_dump({"cluster": {"caCert": ca_cert}, "tunnelCloud": {"publicHost": "203.0.113.10"},
                                      "liteApiserver": {"cert": ca_cert, "key": ca_key}}))
    result = subprocess.run([binary("helm3"), "template", "superedge-addon", str(chart), "--namespace",
                             contract.EDGE_NAMESPACE, "--kube-version", "v1.37.2", "-f", str(values)],
                            capture_output=True, text=True, env=helm_env(home), timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    objects = {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(result.stdout) if o}
    assert len(objects) > 20, "the chart rendered (almost) nothing"
    return objects


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict[str, Any]]:
    return render(CHART, tmp_path_factory.mktemp("helm-contract"))


def test_edge_info_has_the_contracts_names_and_keys(rendered: dict[tuple[str, str], dict[str, Any]]) -> None:
    config_map = rendered[("ConfigMap", contract.EDGE_INFO)]
    data = config_map["data"]
    written = set(contract.EDGE_INFO_KEYS) | {contract.KUBE_API_CLUSTER_IP_KEY}
    assert set(data) <= written, f"edge-info keys no side knows: {set(data) - written}"
    assert {contract.EDGE_VIRTUAL_ADDR_KEY, contract.KUBE_API_CA_KEY, contract.LITE_APISERVER_CERT_KEY,
            contract.LITE_APISERVER_TLS_KEY} <= set(data)
    assert data[contract.EDGE_VIRTUAL_ADDR_KEY] == contract.DEFAULT_EDGE_VIRTUAL_ADDR
    assert json.loads(data[contract.LITE_APISERVER_TLS_KEY]) == [
        {"key": contract.KUBELET_CLIENT_CERT, "cert": contract.KUBELET_CLIENT_CERT}]
    secret = rendered[("Secret", contract.EDGE_INFO)]
    assert set(secret["data"]) == {contract.LITE_APISERVER_KEY_KEY}
    # What joining nodes may read is exactly edge-info, ConfigMap and Secret.
    rules = rendered[("Role", "lite-apiserver")]["rules"]
    assert [(rule["resources"], rule["resourceNames"]) for rule in rules] == [
        (["configmaps"], [contract.EDGE_INFO]), (["secrets"], [contract.EDGE_INFO])]


def test_edge_components_reach_lite_apiserver_and_the_virtual_address(
        rendered: dict[tuple[str, str], dict[str, Any]]) -> None:
    kubeconfig = yaml.safe_load(rendered[("ConfigMap", "application-grid-wrapper")]["data"]["kubeconfig.conf"])
    server = kubeconfig["clusters"][0]["cluster"]["server"]
    assert server == endpoint_url(contract.DEFAULT_EDGE_VIRTUAL_ADDR, contract.LITE_APISERVER_PORT)
    corefile = rendered[("ConfigMap", "edge-coredns")]["data"]["Corefile"]
    assert re.search(rf"^\s*bind {re.escape(contract.DEFAULT_EDGE_VIRTUAL_ADDR)}$", corefile, re.MULTILINE)


@pytest.mark.parametrize("name", EDGE_DAEMONSETS)
def test_edge_daemonsets_select_the_contracts_edge_label(rendered: dict[tuple[str, str], dict[str, Any]],
                                                         name: str) -> None:
    selector = rendered[("DaemonSet", name)]["spec"]["template"]["spec"]["nodeSelector"]
    assert selector.get(contract.EDGE_NODE_LABEL) == contract.ENABLED


def test_the_chart_is_where_this_test_looks() -> None:
    assert (CHART / "Chart.yaml").is_file() and Path(binary("helm3")).is_file()
