"""The API kinds kubectl-edge reads and writes, and references to objects of them (pure data)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Kind:
    """An API resource: enough to build its REST paths."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """The collection path (no name) or the object path of this kind."""
        base = f"/api/{self.api_version}" if "/" not in self.api_version else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{quote(name, safe='')}"
        return base


RBAC = "rbac.authorization.k8s.io/v1"
NAMESPACE = Kind("v1", "Namespace", "namespaces", False)
CONFIG_MAP = Kind("v1", "ConfigMap", "configmaps", True)
SECRET = Kind("v1", "Secret", "secrets", True)
SERVICE = Kind("v1", "Service", "services", True)
NODE = Kind("v1", "Node", "nodes", False)
ROLE = Kind(RBAC, "Role", "roles", True)
ROLE_BINDING = Kind(RBAC, "RoleBinding", "rolebindings", True)
CLUSTER_ROLE = Kind(RBAC, "ClusterRole", "clusterroles", False)
CLUSTER_ROLE_BINDING = Kind(RBAC, "ClusterRoleBinding", "clusterrolebindings", False)
SERVICE_CIDR = Kind("networking.k8s.io/v1", "ServiceCIDR", "servicecidrs", False)
CSR = Kind("certificates.k8s.io/v1", "CertificateSigningRequest", "certificatesigningrequests", False)
POD = Kind("v1", "Pod", "pods", True)
LEASE = Kind("coordination.k8s.io/v1", "Lease", "leases", True)
DAEMON_SET = Kind("apps/v1", "DaemonSet", "daemonsets", True)
DEPLOYMENT = Kind("apps/v1", "Deployment", "deployments", True)
ENDPOINTS = Kind("v1", "Endpoints", "endpoints", True)
ENDPOINT_SLICE = Kind("discovery.k8s.io/v1", "EndpointSlice", "endpointslices", True)
CRD = Kind("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", False)

KINDS_BY_NAME = {k.kind: k for k in (NAMESPACE, CONFIG_MAP, SECRET, SERVICE, NODE, ROLE, ROLE_BINDING, CLUSTER_ROLE,
                                     CLUSTER_ROLE_BINDING, SERVICE_CIDR, CSR, POD, LEASE, DAEMON_SET, DEPLOYMENT,
                                     ENDPOINTS, ENDPOINT_SLICE, CRD)}


@dataclass(frozen=True)
class ObjectRef:
    """One object: its kind, namespace (None for cluster-scoped kinds) and name."""

    kind: Kind
    name: str
    namespace: str | None = None

    @property
    def path(self) -> str:
        """The object's REST path."""
        return self.kind.path(self.namespace, self.name)

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind.kind.lower()} {where}{self.name}"

    @classmethod
    def of(cls, body: dict[str, object]) -> ObjectRef:
        """The reference of an object body (apiVersion/kind/metadata)."""
        metadata = body.get("metadata")
        assert isinstance(metadata, dict)
        kind = KINDS_BY_NAME[str(body["kind"])]
        namespace = metadata.get("namespace") if kind.namespaced else None
        return cls(kind, str(metadata["name"]), str(namespace) if namespace else None)
