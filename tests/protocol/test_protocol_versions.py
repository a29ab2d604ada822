"""Kubernetes versions and the kubelet skew policy, as both sides read them."""

from __future__ import annotations

from typing import Any

import pytest

from edge_protocol.errors import ProtocolError
from edge_protocol.versions import (
    KUBELET_MAX_LAG,
    KubeVersion,
    VersionError,
    kubelet_lag,
    kubelet_skew_problem,
    kubelet_supported,
    release_version,
    supported_kubelets,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("v1.37.2", KubeVersion(1, 37, 2)), ("1.30", KubeVersion(1, 30)), ("v1.37.0-rc.1+abc", KubeVersion(1, 37)),
    ("v1.30.4-eks-a1b2c3", KubeVersion(1, 30, 4)), (" v1.31.2\n", KubeVersion(1, 31, 2)),
    ("v2.0.0", KubeVersion(2, 0)),
])
def test_parse(text: str, expected: KubeVersion) -> None:
    assert KubeVersion.parse(text) == expected


@pytest.mark.parametrize("text", ["", "latest", "v1", "vv1.2", "x1.2.3", "1"])
def test_parse_refuses_what_is_not_a_version(text: str) -> None:
    with pytest.raises(VersionError, match=r"is not a Kubernetes version such as v1\.31\.2") as info:
        KubeVersion.parse(text)
    assert isinstance(info.value, ProtocolError)
    assert KubeVersion.read(text) is None


def test_read_takes_none_and_empty_as_unknown() -> None:
    assert KubeVersion.read(None) is None and KubeVersion.read("") is None
    assert KubeVersion.read("v1.37.2") == KubeVersion(1, 37, 2)


@pytest.mark.parametrize(("info", "expected"), [
    ({"major": "1", "minor": "37", "gitVersion": "v1.37.2"}, KubeVersion(1, 37)),
    ({"major": "1", "minor": "31+"}, KubeVersion(1, 31)),  # managed clusters
    ({"major": "1"}, None), ({"minor": "30"}, None), ({"major": "", "minor": "x"}, None), ({}, None), (None, None),
])
def test_from_version_info(info: dict[str, Any] | None, expected: KubeVersion | None) -> None:
    assert KubeVersion.from_version_info(info) == expected


def test_order_and_minor_line() -> None:
    assert KubeVersion(1, 24) <= KubeVersion(1, 24, 3) < KubeVersion(1, 30) < KubeVersion(2, 0)
    assert KubeVersion(1, 37, 2).minor_line == "v1.37"


@pytest.mark.parametrize(("text", "expected"), [
    ("v1.31.2", "v1.31.2"), ("1.31.2", "v1.31.2"), (" 1.31.2-rc.0+abc ", "v1.31.2-rc.0+abc"), ("1.31", None),
    ("latest", None), ("v1.31.2 x", None)])
def test_release_version(text: str, expected: str | None) -> None:
    assert release_version(text) == expected


@pytest.mark.parametrize(("kubelet", "lag"), [
    ("v1.37.2", 0), ("v1.34.0", 3), ("v1.33.9", 4), ("v1.38.0", -1), ("v1.37.0-rc.1+abc", 0), ("v2.37.0", -100),
    ("v0.37.0", 100)])
def test_kubelet_lag(kubelet: str, lag: int) -> None:
    assert kubelet_lag(KubeVersion.parse(kubelet), KubeVersion(1, 37)) == lag


def test_kubelet_supported_follows_the_policy() -> None:
    server = KubeVersion(1, 37)
    assert KUBELET_MAX_LAG == 3
    assert [minor for minor in range(30, 40) if kubelet_supported(KubeVersion(1, minor), server)] == [34, 35, 36, 37]
    assert supported_kubelets(server) == "v1.34 to v1.37"
    assert supported_kubelets(KubeVersion(1, 2)) == "v1.0 to v1.2"


@pytest.mark.parametrize(("kubelet", "server", "problem"), [
    ("v1.31.2", "v1.31.0", None),
    ("v1.28.0", "v1.31.9", None),
    ("v1.27.9", "v1.31.0", "kubelet v1.27.9 is more than 3 minor versions older than the API server v1.31.0"),
    ("v1.32.0", "v1.31.4", "kubelet v1.32.0 is newer than the API server v1.31.4"),
    ("v2.0.0", "v1.31.4", "kubelet v2.0.0 is newer than the API server v1.31.4"),
])
def test_kubelet_skew_problem(kubelet: str, server: str, problem: str | None) -> None:
    assert kubelet_skew_problem(kubelet, server) == problem


def test_kubelet_skew_problem_refuses_a_non_version() -> None:
    with pytest.raises(VersionError):
        kubelet_skew_problem("latest", "v1.31.0")
