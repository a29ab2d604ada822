"""What ``edgeadm join`` was asked to do, validated; node-side paths (the names shared with the cloud side are
in :mod:`edge_protocol.contract`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, FrozenSet, List, Optional

from edge_installer.errors import UsageError
from edge_protocol.contract import CLOUD_LABELS, EDGE_LABELS, HOSTNAME_LABEL
from edge_protocol.network import is_ip
from edge_protocol.token import BootstrapToken

# Node paths (under --root), as kubeadm and SuperEdge use them.
ETC_HOSTS = "/etc/hosts"
BOOTSTRAP_KUBECONFIG = "/etc/kubernetes/bootstrap-kubelet.conf"
KUBELET_KUBECONFIG = "/etc/kubernetes/kubelet.conf"
CA_CERT = "/etc/kubernetes/pki/ca.crt"
KUBELET_DIR = "/var/lib/kubelet"
KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"
KUBELET_FLAGS = "/var/lib/kubelet/kubeadm-flags.env"
KUBELET_PKI = "/var/lib/kubelet/pki"
KUBELET_UNIT = "/etc/systemd/system/kubelet.service"
KUBELET_DROP_IN = "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf"
KUBELET_BINARY = "/usr/bin/kubelet"
LITE_APISERVER_BINARY = "/usr/bin/lite-apiserver"
LITE_APISERVER_UNIT = "/etc/systemd/system/lite-apiserver.service"
LITE_APISERVER_CA = "/etc/kubernetes/pki/lite-apiserver-ca.crt"
LITE_APISERVER_CERT = "/etc/kubernetes/edge/lite-apiserver.crt"
LITE_APISERVER_KEY = "/etc/kubernetes/edge/lite-apiserver.key"
LITE_APISERVER_TLS = "/etc/kubernetes/edge/tls.json"
LITE_APISERVER_CACHE = "/data/lite-apiserver/cache"
#: Where kubelet keeps the pods' logs (and its links to them).
POD_LOG_DIRS = ("/var/log/pods", "/var/log/containers")
#: The dummy interface SuperEdge puts the edge virtual address on.
DUMMY_INTERFACE = "tkeedgedns"

DEFAULT_CRI_SOCKET = "unix:///run/containerd/containerd.sock"

_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


def node_name_problem(name: str) -> Optional[str]:
    """Why ``name`` cannot be a node name here, or None."""
    if is_ip(name):
        return f"the node name {name!r} is an IP address; tunnel routing to edge nodes uses names (pass --node-name)"
    if len(name) > 253 or not _SUBDOMAIN.fullmatch(name):
        return (f"the node name {name!r} is not a valid DNS subdomain (lower-case letters, digits, '-' and '.'; at "
                "most 253 characters)")
    return None


def parse_labels(text: str) -> Dict[str, str]:
    """``k=v,k2=v2`` as ``--node-labels`` takes it.

    Raises:
        UsageError: A label is not ``key=value`` with a valid key and value.
    """
    labels: Dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, equals, value = item.partition("=")
        prefix, slash, name = key.rpartition("/")
        valid_key = bool(_LABEL_NAME.fullmatch(name)) and len(name) <= 63 and \
            (not slash or (bool(_SUBDOMAIN.fullmatch(prefix)) and len(prefix) <= 253))
        if not equals or not valid_key or not _LABEL_VALUE.fullmatch(value) or len(value) > 63:
            raise UsageError(f"invalid node label {item!r}", "write --node-labels key=value,key2=value2 with "
                             "Kubernetes label keys and values")
        labels[key] = value
    return labels


def cri_endpoint(socket: str) -> str:
    """kubelet's ``--container-runtime-endpoint`` for a ``--cri-socket`` value (a bare path gets ``unix://``)."""
    return socket if "://" in socket else f"unix://{socket}"


@dataclass(frozen=True)
class JoinOptions:
    """The validated flags of ``edgeadm join``."""

    host: str
    port: int
    token: BootstrapToken
    pins: List[str]
    node_name: str
    root: str
    root_given: bool = False
    install_pkg_path: Optional[str] = None
    install_pkg_sha256: Optional[str] = None
    node_labels: Dict[str, str] = field(default_factory=dict)
    cri_socket: str = DEFAULT_CRI_SOCKET
    cloud: bool = False
    no_autonomy: bool = False
    skip_phases: FrozenSet[str] = frozenset()
    ignore_preflight_errors: FrozenSet[str] = frozenset()
    dry_run: bool = False
    timeout: float = 240.0

    def labels(self) -> Dict[str, str]:
        """The node labels kubelet registers with: SPEC 1's, then the user's."""
        base = dict(CLOUD_LABELS) if self.cloud else {**EDGE_LABELS, HOSTNAME_LABEL: self.node_name}
        return {**base, **self.node_labels}
