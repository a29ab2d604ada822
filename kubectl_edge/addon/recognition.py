"""What SuperEdge's edgeadm left on a cluster: its components without Helm ownership, and its rewrites.

``recognise`` only reads. For each rewrite whose original is known it computes the repair (an ``Edit`` that
``--repair`` makes through adoption's saved originals, so ``detach`` can put edgeadm's version back): cluster-info's
server from kubeadm-config's ``controlPlaneEndpoint``, the bootstrap RBAC (``system:node-bootstrapper``,
``kubeadm:nodes-kubeadm-config``) as the API server and kubeadm define them, and ``kubelet-config-1.XX``
objects for a minor no node runs.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from edge_protocol import contract
from edge_protocol.versions import KubeVersion
from kubectl_edge import yamltext
from kubectl_edge.addon import chart
from kubectl_edge.addon.adopt import SERVICE_ACCOUNT, Edit, cleaned
from kubectl_edge.addon.helm import owned_by_release
from kubectl_edge.cluster.client import Cluster
from kubectl_edge.cluster.kinds import (
    CLUSTER_ROLE,
    CONFIG_MAP,
    DAEMON_SET,
    DEPLOYMENT,
    NODE,
    ROLE,
    ROLE_BINDING,
    SECRET,
    ObjectRef,
)

#: What edgeadm's ``addon edge-apps`` makes in edge-system (none of it carries ownership metadata).
SIGNS = (
    ObjectRef(DEPLOYMENT, "tunnel-cloud", chart.NAMESPACE),
    ObjectRef(DAEMON_SET, "tunnel-edge", chart.NAMESPACE),
    ObjectRef(CONFIG_MAP, "tunnel-cloud-token", chart.NAMESPACE),
    ObjectRef(SECRET, "tunnel-cloud-cert", chart.NAMESPACE),
    ObjectRef(DAEMON_SET, "edge-health", chart.NAMESPACE),
    ObjectRef(DEPLOYMENT, "edge-health-admission", chart.NAMESPACE),
    ObjectRef(DEPLOYMENT, "application-grid-controller", chart.NAMESPACE),
    ObjectRef(SERVICE_ACCOUNT, "application-grid-controller", chart.NAMESPACE),
    ObjectRef(DAEMON_SET, "application-grid-wrapper-node", chart.NAMESPACE),
    ObjectRef(DAEMON_SET, "edge-coredns", chart.NAMESPACE),
    ObjectRef(DAEMON_SET, "edge-kube-proxy", chart.NAMESPACE),
    ObjectRef(CONFIG_MAP, contract.EDGE_INFO, chart.NAMESPACE),
)
CLUSTER_INFO = ObjectRef(CONFIG_MAP, "cluster-info", "kube-public")
KUBEADM_CONFIG = ObjectRef(CONFIG_MAP, "kubeadm-config", "kube-system")
NODES_KUBEADM_CONFIG = ObjectRef(ROLE, "kubeadm:nodes-kubeadm-config", "kube-system")
NODE_BOOTSTRAPPER = ObjectRef(CLUSTER_ROLE, "system:node-bootstrapper")
#: The server edgeadm writes into cluster-info (its port is fixed in edgeadm).
EDGEADM_SERVER_HOST = "kubernetes.default"
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAPPING = "kubernetes.io/bootstrapping"
#: The API server's own definition of system:node-bootstrapper (edgeadm overwrites it and drops both marks).
NODE_BOOTSTRAPPER_RULES = [{"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests"],
                            "verbs": ["create", "get", "list", "watch"]}]
#: kubeadm's rule for kubeadm:nodes-kubeadm-config (edgeadm widens it to apiGroups "*", get/list/watch).
NODES_KUBEADM_CONFIG_RULES = [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["kubeadm-config"],
                               "verbs": ["get"]}]


@dataclass
class Recognition:
    """What SuperEdge's edgeadm left on the cluster."""

    components: list[str] = field(default_factory=list)
    rewrites: list[str] = field(default_factory=list)
    repairs: list[Edit] = field(default_factory=list)

    @property
    def installed(self) -> bool:
        """Whether edgeadm's components are there without helm's ownership."""
        return bool(self.components)

    def notes(self, repair: bool) -> list[str]:
        """One line per finding, for the plan."""
        lines = []
        if self.components:
            lines.append(f"made by SuperEdge's edgeadm (no Helm ownership): {', '.join(self.components)}")
        for rewrite in self.rewrites:
            lines.append(f"edgeadm's rewrite: {rewrite}" + ("" if repair else "; left as it is (--repair restores "
                                                                             "it where the original is known)"))
        return lines


def cluster_info_server(body: Mapping[str, Any] | None) -> str | None:
    """The server in cluster-info's kubeconfig, None when it has none."""
    try:
        config = yamltext.load(((body or {}).get("data") or {}).get("kubeconfig") or "")
        return str(config["clusters"][0]["cluster"]["server"])
    except (yaml.YAMLError, KeyError, IndexError, TypeError):
        return None


def _control_plane_endpoint(cluster: Cluster) -> str | None:
    body = cluster.get(KUBEADM_CONFIG)
    try:
        configuration = yamltext.load(((body or {}).get("data") or {}).get("ClusterConfiguration") or "")
    except yaml.YAMLError:
        return None
    endpoint = (configuration or {}).get("controlPlaneEndpoint") if isinstance(configuration, dict) else None
    return str(endpoint) if endpoint else None


def _with_server(body: Mapping[str, Any], server: str) -> dict[str, Any]:
    repaired = cleaned(body)
    config = yamltext.load(repaired["data"]["kubeconfig"])
    config["clusters"][0]["cluster"]["server"] = server
    repaired["data"]["kubeconfig"] = yaml.safe_dump(config, default_flow_style=False)
    return repaired


def _node_minors(cluster: Cluster) -> set[tuple[int, int]]:
    minors = set()
    for node in cluster.list_objects(NODE):
        kubelet = KubeVersion.read(str(((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion") or ""))
        if kubelet is not None:
            minors.add((kubelet.major, kubelet.minor))
    return minors


def edgeadm_components(cluster: Cluster) -> list[str]:
    """edgeadm's components in the cluster that no Helm release owns (reads only)."""
    components = []
    for ref in SIGNS:
        live = cluster.get(ref)
        if live is not None and not owned_by_release(live):
            components.append(str(ref))
    return components


def recognise(cluster: Cluster, version: tuple[int, int]) -> Recognition:
    """Read what edgeadm leaves (reads only); the repairs are computed but not made."""
    found = Recognition(components=edgeadm_components(cluster))

    cluster_info = cluster.get(CLUSTER_INFO)
    server = cluster_info_server(cluster_info)
    if cluster_info is not None and server and re.match(rf"https?://{re.escape(EDGEADM_SERVER_HOST)}(:|/|$)", server):
        endpoint = _control_plane_endpoint(cluster)
        if endpoint:
            repaired_server = f"https://{endpoint}"
            found.rewrites.append(f"{CLUSTER_INFO}'s server is {server} (kubeadm-config's controlPlaneEndpoint "
                                  f"says {repaired_server})")
            found.repairs.append(Edit(CLUSTER_INFO, "repair", cleaned(cluster_info),
                                      _with_server(cluster_info, repaired_server),
                                      f"server {server} -> {repaired_server}"))
        else:
            found.rewrites.append(f"{CLUSTER_INFO}'s server is {server}; kubeadm-config names no "
                                  "controlPlaneEndpoint, so the original is not known (not repaired)")

    role = cluster.get(NODES_KUBEADM_CONFIG)
    if role is not None and any("*" in (rule.get("apiGroups") or []) for rule in role.get("rules") or []):
        found.rewrites.append(f"{NODES_KUBEADM_CONFIG} is widened (apiGroups *, "
                              f"{','.join(sorted({v for r in role['rules'] for v in r.get('verbs') or []}))})")
        repaired = cleaned(role)
        repaired["rules"] = copy.deepcopy(NODES_KUBEADM_CONFIG_RULES)
        found.repairs.append(Edit(NODES_KUBEADM_CONFIG, "repair", cleaned(role), repaired, "kubeadm's rule"))

    bootstrapper = cluster.get(NODE_BOOTSTRAPPER)
    if bootstrapper is not None:
        metadata = bootstrapper.get("metadata") or {}
        if (metadata.get("annotations") or {}).get(AUTOUPDATE) != "true" or \
                (metadata.get("labels") or {}).get(BOOTSTRAPPING) != "rbac-defaults":
            found.rewrites.append(f"{NODE_BOOTSTRAPPER} lost its {AUTOUPDATE} annotation and {BOOTSTRAPPING} label "
                                  "(the API server no longer keeps it up to date)")
            repaired = cleaned(bootstrapper)
            repaired_metadata = repaired["metadata"]
            repaired_metadata["annotations"] = {**(repaired_metadata.get("annotations") or {}), AUTOUPDATE: "true"}
            repaired_metadata["labels"] = {**(repaired_metadata.get("labels") or {}), BOOTSTRAPPING: "rbac-defaults"}
            repaired["rules"] = copy.deepcopy(NODE_BOOTSTRAPPER_RULES)
            found.repairs.append(Edit(NODE_BOOTSTRAPPER, "repair", cleaned(bootstrapper), repaired,
                                      "the API server's definition"))

    minors: set[tuple[int, int]] | None = None
    for configmap in cluster.list_objects(CONFIG_MAP, "kube-system"):
        name = str(configmap["metadata"]["name"])
        minor = contract.versioned_kubelet_config_minor(name)
        if minor is None or (minor.major, minor.minor) == version:
            continue
        minors = _node_minors(cluster) if minors is None else minors
        if (minor.major, minor.minor) in minors:
            continue
        found.rewrites.append(f"kube-system/{name} is for kubelets {minor.minor_line}, which no node runs")
        listed = {**configmap, "apiVersion": "v1", "kind": "ConfigMap"}  # list items carry no kind
        found.repairs.append(Edit(ObjectRef(CONFIG_MAP, name, "kube-system"), "remove", cleaned(listed),
                                  note="no node runs that minor"))
        for kind in (ROLE_BINDING, ROLE):
            ref = ObjectRef(kind, f"kubeadm:{name}", "kube-system")
            live = cluster.get(ref)
            if live is not None:
                found.repairs.append(Edit(ref, "remove", cleaned(live), note=f"it grants {name}"))
    return found
