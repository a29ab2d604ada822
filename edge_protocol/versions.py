"""Kubernetes versions as both sides read them, and the kubelet's version skew policy.

One parser for every place that needs a version's major and minor: a ``gitVersion`` (``v1.37.2``,
``v1.37.0-rc.1+abc``, ``v1.30.4-eks-...``), a short form (``1.30``), and the ``major``/``minor`` fields of
``/version`` (managed clusters write ``"31+"``). The skew rule is Kubernetes' own since 1.28: a kubelet may
be up to three minor versions older than kube-apiserver, never newer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from edge_protocol.errors import ProtocolError

#: How many minor versions kubelet may lag behind kube-apiserver (Kubernetes' skew policy since 1.28).
KUBELET_MAX_LAG = 3
#: A version at the start of a text; whatever follows (``-rc.1+abc``, ``-eks-...``) is not looked at.
_VERSION = re.compile(r"v?([0-9]+)\.([0-9]+)(?:\.([0-9]+))?")
#: A release version written out in full, as ``--kubernetes-version`` takes it.
_RELEASE = re.compile(r"v?([0-9]+)\.([0-9]+)\.([0-9]+)([-+.0-9A-Za-z]*)")
#: How far apart two major versions count, in minors: outside any skew.
_MAJOR_DISTANCE = 100


class VersionError(ProtocolError):
    """A text is not a Kubernetes version."""


@dataclass(frozen=True, order=True)
class KubeVersion:
    """A Kubernetes version's numbers (``v1.37.2`` is ``KubeVersion(1, 37, 2)``; a missing patch is 0)."""

    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, text: str) -> KubeVersion:
        """The version at the start of ``text`` (``v1.37.2``, ``1.30``, ``v1.37.0-alpha.1+abc``).

        Raises:
            VersionError: The text does not start with one.
        """
        match = _VERSION.match(text.strip())
        if not match:
            raise VersionError(f"{text!r} is not a Kubernetes version such as v1.31.2")
        return cls(int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))

    @classmethod
    def read(cls, text: Optional[str]) -> Optional[KubeVersion]:
        """Like :meth:`parse`, but None for None, empty or unreadable text (a node that never reported)."""
        try:
            return cls.parse(text) if text else None
        except VersionError:
            return None

    @classmethod
    def from_version_info(cls, info: Optional[Mapping[str, Any]]) -> Optional[KubeVersion]:
        """Major and minor from ``/version``'s ``major`` and ``minor`` fields (their digits: ``"31+"`` is 31).

        None when either field has no digits.
        """
        if not info:
            return None
        major = "".join(ch for ch in str(info.get("major", "")) if ch.isdigit())
        minor = "".join(ch for ch in str(info.get("minor", "")) if ch.isdigit())
        return cls(int(major), int(minor)) if major and minor else None

    @property
    def minor_line(self) -> str:
        """``v1.37``: the minor release line."""
        return f"v{self.major}.{self.minor}"


def release_version(text: str) -> Optional[str]:
    """``v1.31.2`` (suffix kept) for a full release version with or without the ``v``; None for anything else."""
    stripped = text.strip()
    return "v" + stripped.lstrip("v") if _RELEASE.fullmatch(stripped) else None


def kubelet_lag(kubelet: KubeVersion, server: KubeVersion) -> int:
    """How many minor versions the kubelet is older (positive) or newer (negative) than the API server.

    Another major version counts as 100 minors a major: outside any skew.
    """
    if kubelet.major != server.major:
        return _MAJOR_DISTANCE * (server.major - kubelet.major)
    return server.minor - kubelet.minor


def kubelet_supported(kubelet: KubeVersion, server: KubeVersion) -> bool:
    """Whether the skew policy lets a kubelet of this version talk to an API server of that one."""
    return 0 <= kubelet_lag(kubelet, server) <= KUBELET_MAX_LAG


def supported_kubelets(server: KubeVersion) -> str:
    """``v1.34 to v1.37``: the kubelet minors an API server of this version supports."""
    oldest = KubeVersion(server.major, max(server.minor - KUBELET_MAX_LAG, 0))
    return f"{oldest.minor_line} to {server.minor_line}"


def kubelet_skew_problem(kubelet_version: str, server_version: str) -> Optional[str]:
    """Why a kubelet of this version cannot join an API server of that version, or None when it can.

    Raises:
        VersionError: Either text is not a version.
    """
    lag = kubelet_lag(KubeVersion.parse(kubelet_version), KubeVersion.parse(server_version))
    if lag < 0:
        return f"kubelet {kubelet_version} is newer than the API server {server_version}"
    if lag > KUBELET_MAX_LAG:
        return (f"kubelet {kubelet_version} is more than {KUBELET_MAX_LAG} minor versions older than the API server "
                f"{server_version}")
    return None
