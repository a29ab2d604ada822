"""The cloud<->node contract's rules (the chart's side of it is checked in tests/chart/test_chart_contract.py)."""

from __future__ import annotations

import pytest

from edge_protocol import contract
from edge_protocol.versions import KubeVersion


@pytest.mark.parametrize(("version", "names"), [
    (KubeVersion(1, 37, 2), ["kubelet-config", "kubelet-config-1.37"]),
    (KubeVersion(1, 30), ["kubelet-config", "kubelet-config-1.30"]),
    (KubeVersion(1, 24), ["kubelet-config", "kubelet-config-1.24"]),
    (KubeVersion(1, 23, 9), ["kubelet-config-1.23", "kubelet-config"]),
    (KubeVersion(1, 22), ["kubelet-config-1.22", "kubelet-config"]),
    (None, ["kubelet-config"]),
])
def test_kubelet_config_names_put_kubeadms_name_for_the_version_first(version: KubeVersion | None,
                                                                       names: list[str]) -> None:
    assert contract.kubelet_config_names(version) == names
    if version is not None:
        # The cloud side reads and creates exactly the name the node tries first.
        assert contract.kubelet_config_name(version) == names[0]


@pytest.mark.parametrize(("name", "minor"), [
    ("kubelet-config-1.22", KubeVersion(1, 22)), ("kubelet-config-1.9", KubeVersion(1, 9)),
    ("kubelet-config", None), ("kubelet-config-1", None), ("kubelet-config-1.22x", None),
    ("kubelet-config-v1.22", None), ("kubelet-config-1.\u0662", None), ("my-kubelet-config-1.22", None)])
def test_versioned_kubelet_config_minor(name: str, minor: KubeVersion | None) -> None:
    assert contract.versioned_kubelet_config_minor(name) == minor


def test_versioned_name_round_trips() -> None:
    version = KubeVersion(1, 23)
    assert contract.versioned_kubelet_config_minor(contract.versioned_kubelet_config(version)) == version


@pytest.mark.parametrize(("labels", "edge"), [
    ({"superedge.io/node-edge": "enable"}, True), ({"superedge.io/edge-node": "enable"}, True),
    ({"superedge.io/node-edge": "disable"}, False), ({"superedge.io/node-cloud": "enable"}, False), ({}, False),
    (None, False)])
def test_is_edge_node(labels: dict[str, str] | None, edge: bool) -> None:
    assert contract.is_edge_node(labels) is edge


def test_edge_labels_are_what_the_selectors_find() -> None:
    # A node joined by edgeadm carries both labels; the first selector finds it, the second excludes it.
    first, second = contract.EDGE_NODE_SELECTORS
    assert first == "superedge.io/node-edge=enable"
    assert second == "superedge.io/edge-node=enable,superedge.io/node-edge!=enable"
    assert contract.EDGE_LABELS == {"superedge.io/node-edge": "enable", "superedge.io/edge-node": "enable"}
    assert contract.CLOUD_LABELS == {"superedge.io/node-cloud": "enable"}
