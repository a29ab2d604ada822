"""The CA the kubelet trusts for client certificates, where the cluster's client CA is not its serving CA.

On clusters laid out as k3s and RKE2 lay them out, the API server authenticates to kubelets (logs, exec,
port-forward) with a certificate of a client CA that cluster-info does not carry. ``kubectl edge addon``
publishes that CA in ``kube-system/kubectl-edge-kubelet-client-ca`` (key ``ca.crt``), readable with the
bootstrap token; join reads it over the verified connection, checks that it is certificates and nothing
else, writes it to its own file and points the kubelet's ``--client-ca-file`` at it.
"""

from __future__ import annotations

from typing import Optional

from edge_installer import clusterdata
from edge_installer.apiclient import TransportError, request, trusting_context
from edge_installer.discovery import Discovery, transport_failure
from edge_installer.errors import DiscoveryError
from edge_protocol.token import BootstrapToken

NAMESPACE = "kube-system"
NAME = "kubectl-edge-kubelet-client-ca"
KEY = "ca.crt"
#: The node's copy; cluster-info's CA stays in /etc/kubernetes/pki/ca.crt.
KUBELET_CLIENT_CA = "/etc/kubernetes/pki/kubelet-client-ca.crt"


def read_client_ca(found: Discovery, token: BootstrapToken, timeout: float = 10.0) -> Optional[str]:
    """The published client CA (PEM, re-encoded from what was parsed), or None when the cluster publishes none.

    Without a separate client CA addon makes neither the ConfigMap nor the Role that lets bootstrap tokens
    read it, so the API server answers 403 (authorization comes before the lookup) or 404.

    Raises:
        DiscoveryError: The connection failed, the answer is not what the API server sends, or the value is
            not PEM certificates.
    """
    path = f"/api/v1/namespaces/{NAMESPACE}/configmaps/{NAME}"
    try:
        response = request(found.host, found.port, path, trusting_context(found.ca_pem), found.server_name,
                           token=token.value, timeout=timeout)
    except TransportError as exc:
        raise transport_failure(exc, found.host, found.port) from None
    if response.status in (403, 404):
        return None
    where = f"{NAMESPACE}/{NAME} key {KEY}"
    hint = clusterdata.fix_hint(NAMESPACE, NAME)
    if response.status != 200:
        raise DiscoveryError("bad-cluster-data", f"reading {NAMESPACE}/{NAME} answered {response.status}", hint)
    document = response.json()
    data = document.get("data") if isinstance(document, dict) else None
    value = data.get(KEY) if isinstance(data, dict) else None
    if value is None:
        raise clusterdata.refuse(where, "it is missing", hint)
    return clusterdata.certificates(value, where, hint)
