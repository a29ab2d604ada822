"""The addon's Helm release as status shows it: the newest revision, whatever its status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge_protocol import token as bootstrap_token
from kubectl_edge.addon.chart import NAMESPACE, RELEASE
from kubectl_edge.addon.helm import newest_release_record
from kubectl_edge.cluster.client import Cluster
from kubectl_edge.status.common import format_time


@dataclass(frozen=True)
class Release:
    """The newest revision of the addon's Helm release."""

    name: str
    namespace: str
    revision: int
    status: str
    chart: str
    chart_version: str
    app_version: str
    updated: str | None
    description: str

    def to_json(self) -> dict[str, Any]:
        """The ``release`` part of ``status -o json|yaml``."""
        return {"name": self.name, "namespace": self.namespace, "revision": self.revision, "status": self.status,
                "chart": self.chart, "chartVersion": self.chart_version, "appVersion": self.app_version,
                "updated": self.updated, "description": self.description}


def release_from_record(record: dict[str, Any], revision: int) -> Release:
    """The fields ``status`` shows, from Helm's release record."""
    info = record.get("info") or {}
    metadata = (record.get("chart") or {}).get("metadata") or {}
    return Release(name=str(record.get("name") or RELEASE), namespace=str(record.get("namespace") or NAMESPACE),
                   revision=int(record.get("version") or revision), status=str(info.get("status") or "unknown"),
                   chart=str(metadata.get("name") or ""), chart_version=str(metadata.get("version") or ""),
                   app_version=str(metadata.get("appVersion") or ""),
                   updated=format_time(bootstrap_token.parse_api_time(info.get("last_deployed"))),
                   description=str(info.get("description") or ""))


def read_release(cluster: Cluster) -> Release | None:
    """The newest revision of the release (whatever its status), None when Helm has none stored."""
    newest = newest_release_record(cluster)
    if newest is None:
        return None
    revision, record = newest
    if record is None:
        return Release(RELEASE, NAMESPACE, revision, "unreadable", "", "", "", None,
                       "the release record cannot be decoded")
    return release_from_record(record, revision)
