"""The cloud<->node contract: the names the cloud side writes and the node side reads.

``kubectl edge addon`` (and the superedge-addon chart it installs) writes these objects, labels and ports;
``edgeadm join`` on the node reads them with its bootstrap token, and SuperEdge's components look them up by
the same names. Each fact lives here once: both sides import it, and a test keeps the chart's
``values.yaml`` and ``templates/_helpers.tpl`` in step with it. The names are SuperEdge's own (v0.9 line).
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple

from edge_protocol.versions import KubeVersion

# --- node labels (SPEC 1) ----------------------------------------------------------------------------------

#: The value every SuperEdge node label has.
ENABLED = "enable"
#: What SuperEdge's components and the chart's edge placement select on; kube-proxy is kept off it.
EDGE_NODE_LABEL = "superedge.io/node-edge"
#: The label SuperEdge's documentation names; edge nodes carry both.
EDGE_NODE_LABEL_DOCUMENTED = "superedge.io/edge-node"
#: What a cloud node joined by edgeadm carries.
CLOUD_NODE_LABEL = "superedge.io/node-cloud"
#: SuperEdge's label with the node's own name on edge nodes.
HOSTNAME_LABEL = "superedge.io.hostname"
#: The labels an edge node registers with (plus :data:`HOSTNAME_LABEL`).
EDGE_LABELS: Dict[str, str] = {EDGE_NODE_LABEL: ENABLED, EDGE_NODE_LABEL_DOCUMENTED: ENABLED}
#: The labels a cloud node registers with.
CLOUD_LABELS: Dict[str, str] = {CLOUD_NODE_LABEL: ENABLED}
#: Label selectors that together find every edge node once: those with the placement label, then those
#: with only the documented one.
EDGE_NODE_SELECTORS: Tuple[str, str] = (
    f"{EDGE_NODE_LABEL}={ENABLED}",
    f"{EDGE_NODE_LABEL_DOCUMENTED}={ENABLED},{EDGE_NODE_LABEL}!={ENABLED}",
)


def is_edge_node(labels: Optional[Dict[str, str]]) -> bool:
    """Whether a node with these labels is an edge node (either SuperEdge label set to ``enable``)."""
    labels = labels or {}
    return labels.get(EDGE_NODE_LABEL) == ENABLED or labels.get(EDGE_NODE_LABEL_DOCUMENTED) == ENABLED


# --- edge-info ---------------------------------------------------------------------------------------------

#: Where the edge components live, edge-info included (the chart's release namespace).
EDGE_NAMESPACE = "edge-system"
#: The ConfigMap edge nodes read at join; a Secret of the same name may hold the lite-apiserver key.
EDGE_INFO = "edge-info"
#: ``edge-system/edge-info``, as messages name it.
EDGE_INFO_REF = f"{EDGE_NAMESPACE}/{EDGE_INFO}"
EDGE_VIRTUAL_ADDR_KEY = "edge-virtual-addr"
HOST_CONFIG_KEY = "host-config"
NODE_DELAY_DOMAIN_KEY = "node-delay-domain"
INSECURE_REGISTRIES_KEY = "insecure-registries"
KUBE_API_CA_KEY = "kube-api-ca.crt"
LITE_APISERVER_CERT_KEY = "lite-apiserver.crt"
LITE_APISERVER_TLS_KEY = "tls.json"
#: In the ConfigMap (SuperEdge's edgeadm) or the Secret (kubectl edge addon).
LITE_APISERVER_KEY_KEY = "lite-apiserver.key"
#: Written for SuperEdge's components (the ClusterIP of default/kubernetes); edgeadm does not read it.
KUBE_API_CLUSTER_IP_KEY = "kube-api-cluster-ip"
#: The client certificate (and key) lite-apiserver talks upstream with, named in ``tls.json``: kubelet's own.
KUBELET_CLIENT_CERT = "/var/lib/kubelet/pki/kubelet-client-current.pem"
#: The ConfigMap's keys edgeadm reads, in the order it checks them.
EDGE_INFO_KEYS: Tuple[str, ...] = (EDGE_VIRTUAL_ADDR_KEY, HOST_CONFIG_KEY, NODE_DELAY_DOMAIN_KEY,
                                   INSECURE_REGISTRIES_KEY, KUBE_API_CA_KEY, LITE_APISERVER_CERT_KEY,
                                   LITE_APISERVER_TLS_KEY)

# --- addresses and ports on edge nodes ---------------------------------------------------------------------

#: The link-local address of the dummy interface on edge nodes (SuperEdge's default), where lite-apiserver
#: and edge-coredns listen.
DEFAULT_EDGE_VIRTUAL_ADDR = "169.254.20.11"
#: lite-apiserver's port on the virtual address.
LITE_APISERVER_PORT = 51003
#: Annotations on default/kubernetes's Endpoints that send edge nodes' in-cluster API traffic to
#: lite-apiserver (application-grid-wrapper rewrites the endpoints with them).
LOCAL_ENDPOINT_ANNOTATION = "superedge.io/local-endpoint"
LOCAL_PORT_ANNOTATION = "superedge.io/local-port"

# --- the kubelet configuration -----------------------------------------------------------------------------

KUBELET_CONFIG_NAMESPACE = "kube-system"
#: The ConfigMap key holding the KubeletConfiguration.
KUBELET_CONFIG_KEY = "kubelet"
KUBELET_CONFIG = "kubelet-config"
#: kubeadm names the ConfigMap without the version from this minor on (UnversionedKubeletConfigMap).
UNVERSIONED_SINCE = KubeVersion(1, 24)
_VERSIONED_KUBELET_CONFIG = re.compile(re.escape(KUBELET_CONFIG) + r"-([0-9]+)\.([0-9]+)")


def versioned_kubelet_config(version: KubeVersion) -> str:
    """``kubelet-config-1.X``: kubeadm's name before 1.24 (and SuperEdge edgeadm's)."""
    return f"{KUBELET_CONFIG}-{version.major}.{version.minor}"


def kubelet_config_names(version: Optional[KubeVersion]) -> List[str]:
    """The kube-system ConfigMaps that may hold the cluster's KubeletConfiguration, in the order to read them.

    First the name kubeadm gives it for the cluster's version, the one ``kubectl edge addon`` reads and
    creates: ``kubelet-config`` from 1.24 on, ``kubelet-config-1.X`` before. Then the other spelling, which
    a cluster set up by an older tool may carry instead. With the version unknown, only ``kubelet-config``.
    """
    if version is None:
        return [KUBELET_CONFIG]
    versioned = versioned_kubelet_config(version)
    return [KUBELET_CONFIG, versioned] if version >= UNVERSIONED_SINCE else [versioned, KUBELET_CONFIG]


def kubelet_config_name(version: KubeVersion) -> str:
    """The one name the cloud side reads and creates for this version (the first of :func:`kubelet_config_names`)."""
    return kubelet_config_names(version)[0]


def versioned_kubelet_config_minor(name: str) -> Optional[KubeVersion]:
    """The minor a ``kubelet-config-1.X`` name is for; None for any other name."""
    match = _VERSIONED_KUBELET_CONFIG.fullmatch(name)
    return KubeVersion(int(match.group(1)), int(match.group(2))) if match else None
