"""The objects a kubeadm-style join needs (SPEC 2.1), built from facts read off the live cluster.

Pure: facts in, object bodies out. Each object says how an existing copy is treated: kept as it is, given
its missing data keys, or given the missing top-level fields of a YAML document stored in one data key.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import yaml

from edge_protocol import contract
from edge_protocol import token as bootstrap_token
from edge_protocol.versions import KubeVersion
from kubectl_edge.record import MANAGED_BY

RBAC_API = "rbac.authorization.k8s.io/v1"
BOOTSTRAP_GROUP = bootstrap_token.DEFAULT_GROUP
NODES_GROUP = "system:nodes"
#: Where a node reads the CA its kubelet must trust for client certificates, when that is not the cluster CA.
KUBELET_CLIENT_CA_NAME = "kubectl-edge-kubelet-client-ca"
KUBELET_CLIENT_CA_NAMESPACE = "kube-system"
KUBELET_CLIENT_CA_KEY = "ca.crt"


class WhenPresent(str, Enum):
    """What addon does to an object that exists already."""

    keep = "keep"
    add_missing_keys = "add-missing-keys"
    add_missing_yaml_fields = "add-missing-yaml-fields"


@dataclass(frozen=True)
class ClusterFacts:
    """What the prerequisites are computed from; every value is read from the cluster or the flags."""

    version_major: int
    version_minor: int
    git_version: str
    service_cidr: str
    dns_service_ip: str
    cluster_domain: str
    cgroup_driver: str
    ca_pem: str
    cluster_info_server: str
    control_plane_endpoint: str
    notes: tuple[str, ...] = field(default=())
    #: the ClusterIP of default/kubernetes as read from the cluster ("" when not read)
    kubernetes_service_ip: str = ""
    #: the API server's client CA(s) when they are not the serving CA (k3s, RKE2); "" when they are the same
    kubelet_client_ca_pem: str = ""

    @property
    def kubelet_config_name(self) -> str:
        """``kubelet-config`` from 1.24 on, ``kubelet-config-1.X`` before (kubeadm's naming, see the contract)."""
        return contract.kubelet_config_name(KubeVersion(self.version_major, self.version_minor))

    @property
    def kubeadm_api_version(self) -> str:
        """The ClusterConfiguration version kubeadm stores for this Kubernetes version."""
        return "kubeadm.k8s.io/v1beta4" if (self.version_major, self.version_minor) >= (1, 31) else \
            "kubeadm.k8s.io/v1beta3"


@dataclass(frozen=True)
class Desired:
    """One object addon wants, and how an existing one is treated."""

    body: dict[str, Any]
    when_present: WhenPresent = WhenPresent.keep
    yaml_key: str | None = None


def dns_ip_for(service_cidr: str) -> str:
    """kubeadm's choice of the cluster DNS Service IP: the tenth address of the service range."""
    network = ipaddress.ip_network(service_cidr.split(",")[0].strip(), strict=False)
    return str(network.network_address + 10)


def _meta(name: str, namespace: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "labels": dict(MANAGED_BY)}
    if namespace:
        metadata["namespace"] = namespace
    return metadata


def _dump(document: dict[str, Any]) -> str:
    return str(yaml.safe_dump(document, sort_keys=True, default_flow_style=False))


def cluster_info_kubeconfig(server: str, ca_pem: str) -> str:
    """The ``kubeconfig`` key of cluster-info, shaped as kubeadm writes it (one cluster named "")."""
    import base64

    ca_data = base64.b64encode(ca_pem.encode()).decode()
    return _dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "", "cluster": {"server": server, "certificate-authority-data": ca_data}}],
        "contexts": None, "current-context": "", "preferences": {}, "users": None,
    })


def cluster_configuration(facts: ClusterFacts) -> dict[str, Any]:
    """kubeadm's ClusterConfiguration with the values of the live cluster."""
    return {
        "apiVersion": facts.kubeadm_api_version,
        "kind": "ClusterConfiguration",
        "kubernetesVersion": facts.git_version,
        "clusterName": "kubernetes",
        "controlPlaneEndpoint": facts.control_plane_endpoint,
        "certificatesDir": "/etc/kubernetes/pki",
        "networking": {"serviceSubnet": facts.service_cidr, "dnsDomain": facts.cluster_domain},
    }


def kubelet_configuration(facts: ClusterFacts) -> dict[str, Any]:
    """A KubeletConfiguration as kubeadm writes it, for this cluster's DNS and domain."""
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"cacheTTL": "0s", "enabled": True},
            "x509": {"clientCAFile": "/etc/kubernetes/pki/ca.crt"},
        },
        "authorization": {"mode": "Webhook",
                          "webhook": {"cacheAuthorizedTTL": "0s", "cacheUnauthorizedTTL": "0s"}},
        "cgroupDriver": facts.cgroup_driver,
        "clusterDNS": [facts.dns_service_ip],
        "clusterDomain": facts.cluster_domain,
        "rotateCertificates": True,
        "staticPodPath": "/etc/kubernetes/manifests",
    }


def _role(name: str, namespace: str, resource_names: list[str], resource: str = "configmaps") -> dict[str, Any]:
    return {"apiVersion": RBAC_API, "kind": "Role", "metadata": _meta(name, namespace),
            "rules": [{"apiGroups": [""], "resources": [resource], "resourceNames": resource_names,
                       "verbs": ["get"]}]}


def _binding(kind: str, name: str, namespace: str | None, role_kind: str, role: str,
             subjects: list[tuple[str, str]]) -> dict[str, Any]:
    return {"apiVersion": RBAC_API, "kind": kind, "metadata": _meta(name, namespace),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": k, "name": n} for k, n in subjects]}


def kubelet_client_ca(facts: ClusterFacts) -> list[Desired]:
    """On a cluster whose client CA is not its serving CA: the client CA, readable with a bootstrap token.

    The API server authenticates to kubelets (logs, exec, port-forward) with a certificate of its client
    CA, so a kubelet that trusts only cluster-info's CA (the serving CA) answers it 401. edgeadm join reads
    this ConfigMap and points the kubelet's client CA file at its content.
    """
    if not facts.kubelet_client_ca_pem:
        return []
    name, namespace = KUBELET_CLIENT_CA_NAME, KUBELET_CLIENT_CA_NAMESPACE
    role = f"kubectl-edge:{name}"
    return [
        Desired({"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(name, namespace),
                 "data": {KUBELET_CLIENT_CA_KEY: facts.kubelet_client_ca_pem}}, WhenPresent.add_missing_keys),
        Desired(_role(role, namespace, [name])),
        Desired(_binding("RoleBinding", role, namespace, "Role", role,
                         [("Group", BOOTSTRAP_GROUP), ("Group", NODES_GROUP)])),
    ]


def desired_prerequisites(facts: ClusterFacts) -> list[Desired]:
    """Every object of SPEC 2.1, in the order addon creates them (and the kubelet client CA where it differs)."""
    kubelet_cm = facts.kubelet_config_name
    kubelet_role = f"kubeadm:{kubelet_cm}"
    nodes_and_bootstrap = [("Group", BOOTSTRAP_GROUP), ("Group", NODES_GROUP)]
    return [
        Desired({"apiVersion": "v1", "kind": "Namespace", "metadata": _meta("kube-public")}),
        Desired({"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("cluster-info", "kube-public"),
                 "data": {"kubeconfig": cluster_info_kubeconfig(facts.cluster_info_server, facts.ca_pem)}},
                WhenPresent.add_missing_keys),
        Desired(_role("kubeadm:bootstrap-signer-clusterinfo", "kube-public", ["cluster-info"])),
        Desired(_binding("RoleBinding", "kubeadm:bootstrap-signer-clusterinfo", "kube-public", "Role",
                         "kubeadm:bootstrap-signer-clusterinfo", [("User", "system:anonymous")])),
        Desired({"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("kubeadm-config", "kube-system"),
                 "data": {"ClusterConfiguration": _dump(cluster_configuration(facts))}},
                WhenPresent.add_missing_yaml_fields, "ClusterConfiguration"),
        Desired({"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(kubelet_cm, "kube-system"),
                 "data": {"kubelet": _dump(kubelet_configuration(facts))}},
                WhenPresent.add_missing_yaml_fields, "kubelet"),
        Desired(_role("kubeadm:nodes-kubeadm-config", "kube-system", ["kubeadm-config"])),
        Desired(_binding("RoleBinding", "kubeadm:nodes-kubeadm-config", "kube-system", "Role",
                         "kubeadm:nodes-kubeadm-config", nodes_and_bootstrap)),
        Desired(_role(kubelet_role, "kube-system", [kubelet_cm])),
        Desired(_binding("RoleBinding", kubelet_role, "kube-system", "Role", kubelet_role, nodes_and_bootstrap)),
        Desired({"apiVersion": RBAC_API, "kind": "ClusterRole", "metadata": _meta("kubeadm:get-nodes"),
                 "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]}),
        Desired(_binding("ClusterRoleBinding", "kubeadm:get-nodes", None, "ClusterRole", "kubeadm:get-nodes",
                         [("Group", BOOTSTRAP_GROUP)])),
        Desired(_binding("ClusterRoleBinding", "kubeadm:kubelet-bootstrap", None, "ClusterRole",
                         "system:node-bootstrapper", [("Group", BOOTSTRAP_GROUP)])),
        Desired(_binding("ClusterRoleBinding", "kubeadm:node-autoapprove-bootstrap", None, "ClusterRole",
                         "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
                         [("Group", BOOTSTRAP_GROUP)])),
        Desired(_binding("ClusterRoleBinding", "kubeadm:node-autoapprove-certificate-rotation", None, "ClusterRole",
                         "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
                         [("Group", NODES_GROUP)])),
        *kubelet_client_ca(facts),
    ]
