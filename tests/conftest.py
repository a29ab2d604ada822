"""Shared fixtures: real local clusters (one per flavour, started on first use) and process logs on failure."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "hack"))

import localcluster  # noqa: E402
from clusterkit import required_binary_dir  # noqa: E402

_started: dict[str, localcluster.LocalCluster] = {}
# L4 runs SuperEdge's binaries from SUPEREDGE_BIN (make l4); without that directory there is nothing to run.
collect_ignore = [] if os.environ.get("SUPEREDGE_BIN") else ["l4"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Everything under tests/integration, tests/e2e and tests/l4 talks to a real cluster: mark it so -m selects it."""
    for item in items:
        if {"integration", "e2e", "l4"} & set(item.path.parts):
            item.add_marker(pytest.mark.integration)
        if "e2e" in item.path.parts:
            item.add_marker(pytest.mark.e2e)


def _cluster(tmp_path_factory: pytest.TempPathFactory, name: str, flavour: str, signer: bool
             ) -> Iterator[localcluster.LocalCluster]:
    bin_dir = required_binary_dir()
    root = tmp_path_factory.mktemp(name)
    cluster = localcluster.start(root, flavour=flavour, signer=signer, bin_dir=bin_dir)
    _started[name] = cluster
    try:
        yield cluster
    finally:
        _started.pop(name, None)
        localcluster.stop(root, remove=False)


@pytest.fixture(scope="session")
def bare_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[localcluster.LocalCluster]:
    """A cluster with nothing kubeadm makes; bootstrap signer and token cleaner on."""
    yield from _cluster(tmp_path_factory, "bare", "bare", True)


@pytest.fixture(scope="session")
def kubeadm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[localcluster.LocalCluster]:
    """A cluster pre-seeded by the real kubeadm's init phases."""
    yield from _cluster(tmp_path_factory, "kubeadm", "kubeadm", True)


@pytest.fixture(scope="session")
def nosigner_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[localcluster.LocalCluster]:
    """A bare cluster whose controller manager neither signs cluster-info nor cleans tokens."""
    yield from _cluster(tmp_path_factory, "nosigner", "bare", False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach the tail of every running cluster component's log to a failed test's report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and _started:
        for name, cluster in _started.items():
            for component in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"):
                report.sections.append((f"{name} {component} log",
                                        localcluster.log_tail(Path(cluster.dir), component, 40)))
