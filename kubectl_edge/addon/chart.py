"""The chart: where it and helm are, what its objects hold, and the release's names.

Where the chart is: ``--chart DIR`` when given; else the source tree's ``helm/superedge-addon`` when the
plugin runs from a checkout (the tree is the truth there, and an editable install has no packaged copy);
else the copy the wheel carries as package data in ``kubectl_edge/_chart/superedge-addon`` (pyproject's
hatch ``force-include``), so an installed plugin needs no checkout.

The values are computed in ``values.py``; helm's command lines, running helm and reading its storage are in
``helm.py``.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from edge_protocol import contract
from kubectl_edge import yamltext
from kubectl_edge.addon import certs
from kubectl_edge.addon.certificates import KeyPair
from kubectl_edge.cluster.kinds import CONFIG_MAP, SECRET, ObjectRef
from kubectl_edge.errors import ConfigError, PreconditionFailed

RELEASE = "superedge-addon"
#: The release's namespace: the contract's, where edge nodes look for edge-info.
NAMESPACE = contract.EDGE_NAMESPACE
CHART_NAME = "superedge-addon"
#: Where the wheel carries the chart (see pyproject.toml, [tool.hatch.build.targets.wheel.force-include]).
PACKAGED_CHART = Path(__file__).resolve().parent.parent / "_chart" / CHART_NAME
#: Where a checkout has it.
SOURCE_CHART = Path(__file__).resolve().parents[2] / "helm" / CHART_NAME
#: Where the kubelets' heartbeat Leases are (status reads them; node delete removes a node's).
NODE_LEASE_NAMESPACE = "kube-node-lease"


# --- the chart and helm ------------------------------------------------------------------------------------

def _is_chart(directory: Path) -> bool:
    try:
        chart = yamltext.load((directory / "Chart.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(chart, dict) and chart.get("name") == CHART_NAME


def locate_chart(explicit: str | None = None) -> Path:
    """The chart directory: ``--chart``, else the checkout's, else the wheel's (see the module docstring)."""
    if explicit:
        directory = Path(explicit)
        if not (directory / "Chart.yaml").is_file():
            raise ConfigError(f"--chart {explicit}: no Chart.yaml there", "pass the directory of a Helm chart")
        return directory
    for candidate in (SOURCE_CHART, PACKAGED_CHART):
        if _is_chart(candidate):
            return candidate
    raise PreconditionFailed(f"the {CHART_NAME} chart is not installed with kubectl-edge "
                             f"(looked in {SOURCE_CHART} and {PACKAGED_CHART})",
                             "reinstall kubectl-edge, or pass --chart DIR")


def find_helm(explicit: str | None = None) -> str:
    """The helm executable: the given path or name, else ``helm`` on PATH."""
    name = explicit or "helm"
    found = shutil.which(name)
    if not found:
        raise PreconditionFailed(f"helm not found ({name})",
                                 "install helm 3.8 or newer (or helm 4) and put it on PATH")
    return found


# --- what exists already -----------------------------------------------------------------------------------

def existing_refs(namespace: str = NAMESPACE) -> dict[str, ObjectRef]:
    """The objects that hold the keys and certificates of an installed release, by role."""
    return {
        "tunnel-cloud-cert": ObjectRef(SECRET, "tunnel-cloud-cert", namespace),
        "tunnel-edge-cert": ObjectRef(SECRET, "tunnel-edge-cert", namespace),
        "tunnel-cloud-token": ObjectRef(CONFIG_MAP, "tunnel-cloud-token", namespace),
        "webhook": ObjectRef(SECRET, "validate-admission-control-server-certs", namespace),
        "hmac-config": ObjectRef(CONFIG_MAP, "hmac-config", namespace),
        "edge-info": ObjectRef(CONFIG_MAP, contract.EDGE_INFO, namespace),
        "edge-info-secret": ObjectRef(SECRET, contract.EDGE_INFO, namespace),
    }


def _decoded(body: Mapping[str, Any] | None, key: str) -> str | None:
    value = ((body or {}).get("data") or {}).get(key)
    if not value:
        return None
    try:
        return base64.b64decode(value).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def _plain(body: Mapping[str, Any] | None, key: str) -> str | None:
    value = ((body or {}).get("data") or {}).get(key)
    return str(value) if value else None


def _pair(cert: str | None, key: str | None) -> KeyPair | None:
    return KeyPair(cert, key) if cert and key else None


def existing_from_objects(objects: Mapping[str, Mapping[str, Any] | None]) -> certs.Existing:
    """What an installed release holds, from the live objects of ``existing_refs()`` (same keys; None if absent)."""
    cloud, edge, webhook = objects.get("tunnel-cloud-cert"), objects.get("tunnel-edge-cert"), objects.get("webhook")
    token = _plain(objects.get("tunnel-cloud-token"), "token")
    if token:
        token = token.strip().removeprefix("default:")
    return certs.Existing(
        tunnel_ca=_decoded(edge, "ca.crt"),
        tunnel_cloud=_pair(_decoded(cloud, "cloud.crt"), _decoded(cloud, "cloud.key")),
        tunnel_egress=_pair(_decoded(cloud, "egress.crt"), _decoded(cloud, "egress.key")),
        tunnel_token=token or None,
        webhook_ca=_decoded(webhook, "ca.crt"),
        webhook=_pair(_decoded(webhook, "server.crt"), _decoded(webhook, "server.key")),
        hmac_key=_plain(objects.get("hmac-config"), "hmackey"),
        lite_apiserver=_pair(_plain(objects.get("edge-info"), contract.LITE_APISERVER_CERT_KEY),
                             _decoded(objects.get("edge-info-secret"), contract.LITE_APISERVER_KEY_KEY)),
    )


# --- rendered objects --------------------------------------------------------------------------------------

def manifest_objects(text: str) -> list[dict[str, Any]]:
    """The objects of a multi-document manifest (``helm template``, ``helm get manifest``)."""
    return [document for document in yamltext.load_all(text) if isinstance(document, dict) and document.get("kind")]


def crd_bodies(chart_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The CustomResourceDefinitions in the chart's ``crds/`` (helm installs them only when absent)."""
    bodies: list[dict[str, Any]] = []
    for path in sorted(Path(chart_dir, "crds").glob("*.y*ml")):
        bodies += [o for o in manifest_objects(path.read_text()) if o.get("kind") == "CustomResourceDefinition"]
    return bodies


def node_port_users(services: Iterable[Mapping[str, Any]], node_port: int, namespace: str = NAMESPACE
                    ) -> list[str]:
    """Services (``namespace/name``) other than the release's tunnel-cloud that hold ``node_port``.

    The API server refuses a second Service on the same NodePort, and helm would then leave a failed
    release behind; checking first turns that into a clear precondition.
    """
    users = []
    for service in services:
        metadata = service.get("metadata") or {}
        if (metadata.get("namespace"), metadata.get("name")) == (namespace, "tunnel-cloud"):
            continue
        if any(port.get("nodePort") == node_port for port in (service.get("spec") or {}).get("ports") or []):
            users.append(f"{metadata.get('namespace')}/{metadata.get('name')}")
    return users
