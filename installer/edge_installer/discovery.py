"""Token discovery as kubeadm does it, with the standard library, and the reads join needs afterwards.

1. GET ``kube-public/cluster-info`` anonymously without trusting TLS;
2. find ``jws-kubeconfig-<token-id>`` and check the detached JWS (constant-time comparison);
3. take the CA from its kubeconfig and check it against the pins;
4. GET it again trusting only that CA, checking the name ``kubernetes.default`` when the address is an IP
   the certificate does not name (the hosts mapping), and require the same kubeconfig;
5. with the token, read ``kube-system/kubelet-config`` (the names of
   :func:`edge_protocol.contract.kubelet_config_names`), ``edge-system/edge-info`` (absent is fine) and
   whether a Ready Node of the same name exists.

Each way this can fail has its own message (:class:`DiscoveryError` with a ``reason``).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import ipaddress
import ssl
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from edge_installer import clusterdata, system
from edge_installer.apiclient import Response, TransportError, insecure_context, request, trusting_context
from edge_installer.errors import DiscoveryError, InstallerError
from edge_installer.kubeconfig import parse_cluster_info
from edge_installer.output import Output
from edge_protocol import capin, contract, jws
from edge_protocol.endpoint import DIRECT, HOSTS_MAPPING_NAME, endpoint_strategy
from edge_protocol.errors import CertificateError, EndpointError
from edge_protocol.network import format_endpoint
from edge_protocol.token import BootstrapToken
from edge_protocol.versions import KubeVersion

PHASE = "discovery"
CLUSTER_INFO_PATH = "/api/v1/namespaces/kube-public/configmaps/cluster-info"
#: More than this between the node's clock and the API server's is reported as clock skew.
CLOCK_SKEW_LIMIT = 300.0
# OpenSSL's X509_V_ERR_CERT_NOT_YET_VALID, X509_V_ERR_CERT_HAS_EXPIRED, X509_V_ERR_HOSTNAME_MISMATCH,
# X509_V_ERR_IP_ADDRESS_MISMATCH.
_NOT_YET_VALID, _EXPIRED, _HOSTNAME_MISMATCH, _IP_MISMATCH = 9, 10, 62, 64
_NEW_TOKEN = "create a new token on the cluster: kubectl edge token create --print-join-command"


@dataclass
class Discovery:
    """What discovery established and read.

    Attributes:
        host: The address typed on the command line.
        port: Its port.
        ca_pem: The cluster CA(s) verified by the JWS and the pins: exactly the pinned certificates,
            re-encoded from what was parsed (never the text cluster-info carried).
        cluster_info_server: The ``server`` cluster-info names (informational; an https URL).
        strategy: ``direct`` or ``hosts-mapping``.
        server_name: The name TLS checks: ``host`` (direct) or ``kubernetes.default``.
        server_version: The API server's ``/version`` fields that have their shape (``gitVersion``, ``major``,
            ``minor``).
        kubelet_config: The KubeletConfiguration text of ``kubelet-config``, as stored (checked to be one).
        kubelet_config_name: The ConfigMap it came from.
        edge_info: ``edge-system/edge-info``'s keys that join uses, each checked and normalised (see
            :func:`checked_edge_info`), or None when the cluster has none.
        lite_apiserver_key: The lite-apiserver private key (one PEM key, re-encoded) from edge-info or its
            Secret, if readable.
    """

    host: str
    port: int
    ca_pem: str
    cluster_info_server: str
    strategy: str
    server_name: str
    server_version: Dict[str, Any]
    kubelet_config: str
    kubelet_config_name: str
    edge_info: Optional[Dict[str, str]] = None
    lite_apiserver_key: Optional[str] = field(default=None, repr=False)


def _where(host: str, port: int) -> str:
    return format_endpoint(host, port)


def transport_failure(exc: TransportError, host: str, port: int) -> DiscoveryError:
    """The discovery error for a request that got no HTTP answer (before any trust was established)."""
    where = _where(host, port)
    if exc.kind == "unreachable":
        return DiscoveryError("unreachable", f"cannot reach the API server at {where}: {exc.detail}",
                              "check the address and port, that kube-apiserver runs, and that no firewall blocks "
                              "the way from this node")
    return DiscoveryError("not-kubernetes", f"{where} is not a Kubernetes API server: it does not speak HTTPS "
                          f"({exc.detail})", "check the address and port: kube-apiserver usually listens on 6443")


def _not_kubernetes(host: str, port: int, what: str) -> DiscoveryError:
    return DiscoveryError("not-kubernetes", f"{_where(host, port)} is not a Kubernetes API server: {what}",
                          "check the address and port: kube-apiserver usually listens on 6443")


def _is_status(document: Any) -> bool:
    return isinstance(document, dict) and document.get("kind") == "Status"


def _format_time(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def check_clock(response: Response) -> None:
    """Compare the node's clock with the API server's ``Date``.

    Raises:
        DiscoveryError: They differ by more than :data:`CLOCK_SKEW_LIMIT`.
    """
    server = response.server_time()
    if server is None:
        return
    local = system.now()
    skew = local - server
    if abs(skew) > CLOCK_SKEW_LIMIT:
        direction = "ahead of" if skew > 0 else "behind"
        raise DiscoveryError(
            "clock-skew",
            f"this node's clock is {abs(skew):.0f} s {direction} the API server's (node: {_format_time(local)}, "
            f"server: {_format_time(server)}); certificates will not verify",
            "set the clock (e.g. timedatectl set-ntp true, or chronyd/ntpd), then run join again",
        )


def probe(host: str, port: int, timeout: float) -> Response:
    """GET ``/version`` without trust or credentials: does the endpoint answer as kube-apiserver does?

    Raises:
        DiscoveryError: It does not answer, or not like a Kubernetes API server.
    """
    try:
        response = request(host, port, "/version", insecure_context(), timeout=timeout)
    except TransportError as exc:
        raise transport_failure(exc, host, port) from None
    document = response.json()
    if response.status == 200 and isinstance(document, dict) and "gitVersion" in document:
        return response
    if response.status in (401, 403) and _is_status(document):
        return response
    raise _not_kubernetes(host, port, f"GET /version answered HTTP {response.status} without a version document")


def _cluster_info_failure(response: Response, host: str, port: int) -> DiscoveryError:
    document = response.json()
    if response.status == 401 and _is_status(document):
        return DiscoveryError(
            "anonymous-forbidden",
            f"the API server at {_where(host, port)} refuses anonymous requests (401 Unauthorized), so this node "
            "cannot read kube-public/cluster-info to find the cluster",
            "token discovery needs kube-apiserver --anonymous-auth=true (kubeadm's default); ask the cluster "
            "admin to enable it",
        )
    if response.status == 403 and _is_status(document):
        return DiscoveryError(
            "anonymous-forbidden",
            "anonymous access to kube-public/cluster-info is forbidden (403): the cluster does not let nodes "
            "discover it",
            "run kubectl edge addon on the cluster: it grants system:anonymous read access to that ConfigMap "
            "(Role kubeadm:bootstrap-signer-clusterinfo)",
        )
    if response.status == 404 and _is_status(document):
        return DiscoveryError("no-cluster-info", "the cluster has no ConfigMap kube-public/cluster-info",
                              "run kubectl edge addon on the cluster; it creates it")
    return _not_kubernetes(host, port, f"GET {CLUSTER_INFO_PATH} answered HTTP {response.status}")


def _read_cluster_info(response: Response, host: str, port: int) -> Dict[str, str]:
    if response.status != 200:
        raise _cluster_info_failure(response, host, port)
    document = response.json()
    if not isinstance(document, dict) or document.get("kind") != "ConfigMap":
        raise _not_kubernetes(host, port, f"GET {CLUSTER_INFO_PATH} did not return a ConfigMap")
    data = document.get("data") or {}
    if not isinstance(data, dict) or not isinstance(data.get(jws.KUBECONFIG_KEY), str):
        raise DiscoveryError("no-cluster-info", "kube-public/cluster-info has no kubeconfig key",
                             "run kubectl edge addon on the cluster; it adds the key")
    return {str(key): str(value) for key, value in data.items()}


def _check_signature(data: Dict[str, str], token: BootstrapToken) -> None:
    signature = data.get(jws.signature_key(token.id))
    if signature is None:
        signed = jws.signed_token_ids(data)
        if not signed:
            raise DiscoveryError(
                "never-signed",
                "cluster-info carries no signature for any token: nothing signs it in this cluster (the "
                "controller manager's bootstrap signer is off and no kubectl edge token signed it), so no token "
                "can be used to discover the cluster",
                "create the token with kubectl edge token create (it signs cluster-info itself when the signer is "
                "off), or run kube-controller-manager with --controllers=*,bootstrapsigner,tokencleaner",
            )
        raise DiscoveryError(
            "token-unknown",
            f"the token {token.id} is unknown to the cluster or has expired: cluster-info has no signature for it "
            f"(it has signatures for {len(signed)} other token(s))",
            _NEW_TOKEN,
        )
    if not jws.verify_detached(data[jws.KUBECONFIG_KEY], signature, token.id, token.secret):
        raise DiscoveryError(
            "bad-signature",
            f"cluster-info's signature for token {token.id} does not match: the token's secret part is wrong, or "
            "someone between this node and the cluster altered cluster-info",
            "check the token you typed; " + _NEW_TOKEN,
        )


def trusted_ca(ca_pem: str, pins: List[str], out: Output) -> Tuple[str, List[bytes]]:
    """Check cluster-info's CA data against the pins; return the PEM to trust and its DER certificates.

    The data must hold ``CERTIFICATE`` blocks and nothing else (OpenSSL would also load other block types
    from it); with pins, every certificate must have one of them. What is returned is re-encoded from the
    parsed certificates, so a TLS context built from it trusts exactly what was checked.

    Raises:
        DiscoveryError: The data holds anything else, a certificate without a pin, or no pinned one.
    """
    try:
        ders = capin.strict_pem_certificates(ca_pem, "cluster-info's CA data")
        actual = [capin.format_pin(capin.spki_of(der)) for der in ders]
    except CertificateError as exc:
        raise DiscoveryError("bad-ca", f"cluster-info's CA certificate cannot be used: {exc.message}",
                             "the cluster's cluster-info is damaged or altered; run kubectl edge addon on the cluster"
                             ) from None
    if not pins:
        out.warn(PHASE, "the cluster CA is not checked against a pin (--discovery-token-unsafe-skip-ca-verification): "
                        "anyone who knows the token could pose as this cluster")
        return capin.der_to_pem(ders), ders
    wanted = {capin.parse_pin(pin) for pin in pins}
    unpinned = [pin for pin in actual if pin not in wanted]
    if unpinned and len(unpinned) < len(actual):
        raise DiscoveryError(
            "unpinned-ca",
            f"cluster-info's CA data holds {len(actual)} certificates, and {len(unpinned)} of them has no pin among "
            f"--discovery-token-ca-cert-hash ({', '.join(unpinned)}); only pinned certificates are trusted",
            "if the cluster really has several CAs, pass each pin with its own --discovery-token-ca-cert-hash; "
            "otherwise cluster-info was altered",
        )
    if unpinned:
        raise DiscoveryError(
            "pin-mismatch",
            f"the cluster's CA does not match --discovery-token-ca-cert-hash: expected {', '.join(pins)}, the CA in "
            f"cluster-info has {', '.join(actual)}",
            "copy the join command again from kubectl edge token create --print-join-command; if the pin is right, "
            "this node is not talking to the cluster you meant",
        )
    return capin.der_to_pem(ders), ders


def _server_name(host: str, certificate: Optional[bytes]) -> str:
    if not certificate:
        raise DiscoveryError("not-kubernetes", f"{host} sent no TLS certificate")
    try:
        dns, ips = capin.subject_alt_names(certificate)
    except CertificateError as exc:
        raise DiscoveryError("bad-certificate", f"the API server's certificate cannot be read: {exc.message}") from None
    try:
        strategy = endpoint_strategy(host, dns, ips)
    except EndpointError as exc:
        raise DiscoveryError("san-mismatch", exc.message, exc.hint) from None
    return host if strategy == DIRECT else HOSTS_MAPPING_NAME


def _verify_failure(exc: TransportError, host: str, port: int, server_name: str) -> DiscoveryError:
    if exc.kind != "verify":
        return transport_failure(exc, host, port)
    if exc.verify_code in (_NOT_YET_VALID, _EXPIRED):
        state = "not valid yet" if exc.verify_code == _NOT_YET_VALID else "expired"
        return DiscoveryError(
            "clock-skew",
            f"the API server's certificate is {state} by this node's clock ({_format_time(system.now())}); the "
            "node's clock is probably wrong",
            "set the clock (e.g. timedatectl set-ntp true), then run join again",
        )
    if exc.verify_code in (_HOSTNAME_MISMATCH, _IP_MISMATCH) or "match" in exc.detail.lower():
        return DiscoveryError("san-mismatch", f"the API server's certificate is not valid for {server_name}: "
                              f"{exc.detail}", "use an address the certificate names")
    return DiscoveryError(
        "untrusted",
        f"the API server at {_where(host, port)} presents a certificate that the cluster CA from cluster-info does "
        f"not verify ({exc.detail})",
        "the CA in cluster-info (the one the pin names) did not sign the API server's certificate: on the cluster, "
        "run kubectl edge addon with --ca-cert set to the CA that signed the serving certificate (the server CA, "
        "not a client CA), then copy a new join command; if cluster-info's CA is right, something between this "
        "node and the cluster intercepts TLS, or the address belongs to another server",
    )


def _token_read(host: str, port: int, path: str, ca_pem: str, server_name: str, token: BootstrapToken,
                timeout: float) -> Response:
    try:
        response = request(host, port, path, trusting_context(ca_pem), server_name, token=token.value,
                           timeout=timeout)
    except TransportError as exc:
        raise _verify_failure(exc, host, port, server_name) from None
    if response.status == 401:
        raise DiscoveryError(
            "token-rejected",
            f"the API server did not accept the token {token.id} (401 Unauthorized): it expired or was deleted, "
            "or bootstrap-token authentication is off",
            _NEW_TOKEN,
        )
    return response


def _config_map_data(response: Response) -> Dict[str, str]:
    document = response.json()
    data = document.get("data") if isinstance(document, dict) else None
    # A real API server sends strings only; anything else is dropped rather than turned into text.
    return {str(k): v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def _read_kubelet_config(host: str, port: int, ca_pem: str, server_name: str, token: BootstrapToken,
                         version: Dict[str, Any], timeout: float) -> Tuple[str, str]:
    statuses = []
    for name in contract.kubelet_config_names(KubeVersion.from_version_info(version)):
        path = f"/api/v1/namespaces/{contract.KUBELET_CONFIG_NAMESPACE}/configmaps/{name}"
        response = _token_read(host, port, path, ca_pem, server_name, token, timeout)
        if response.status == 200:
            text = _config_map_data(response).get(contract.KUBELET_CONFIG_KEY)
            if not text:
                raise DiscoveryError("no-kubelet-config", f"{contract.KUBELET_CONFIG_NAMESPACE}/{name} has no "
                                     f"{contract.KUBELET_CONFIG_KEY!r} key", "run kubectl edge addon on the cluster")
            where = f"{contract.KUBELET_CONFIG_NAMESPACE}/{name} key {contract.KUBELET_CONFIG_KEY}"
            hint = clusterdata.fix_hint(contract.KUBELET_CONFIG_NAMESPACE, name)
            return name, clusterdata.kubelet_config(text, where, hint)
        statuses.append(f"{name}: HTTP {response.status}")
    raise DiscoveryError(
        "no-kubelet-config",
        f"cannot read the cluster's kubelet configuration with the token ({'; '.join(statuses)})",
        f"run kubectl edge addon on the cluster: it creates {contract.KUBELET_CONFIG_NAMESPACE}/"
        f"{contract.KUBELET_CONFIG} and lets bootstrap tokens read it",
    )


def _check_node(host: str, port: int, ca_pem: str, server_name: str, token: BootstrapToken, node_name: str,
                timeout: float) -> None:
    response = _token_read(host, port, f"/api/v1/nodes/{node_name}", ca_pem, server_name, token, timeout)
    if response.status != 200:
        return  # absent, or the token may not read nodes: kubelet's own registration decides then
    document = response.json()
    status = document.get("status") if isinstance(document, dict) else None
    conditions = status.get("conditions") if isinstance(status, dict) else None
    if not isinstance(conditions, list):
        return
    if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions if isinstance(c, dict)):
        raise DiscoveryError(
            "node-exists",
            f"a Ready node named {node_name} is registered in the cluster already",
            "choose another name with --node-name, or delete that node first (kubectl delete node "
            f"{node_name})",
        )


def _read_edge_info(host: str, port: int, ca_pem: str, server_name: str, token: BootstrapToken, timeout: float,
                    out: Output) -> Tuple[Optional[Dict[str, str]], Optional[str]]:
    path = f"/api/v1/namespaces/{contract.EDGE_NAMESPACE}/configmaps/{contract.EDGE_INFO}"
    response = _token_read(host, port, path, ca_pem, server_name, token, timeout)
    if response.status != 200:
        out.debug(PHASE, f"{contract.EDGE_INFO_REF}: HTTP {response.status}; taken as absent")
        return None, None
    data = _config_map_data(response)
    key = data.get(contract.LITE_APISERVER_KEY_KEY)
    if not key and data.get(contract.LITE_APISERVER_CERT_KEY):
        secret = _token_read(host, port, f"/api/v1/namespaces/{contract.EDGE_NAMESPACE}/secrets/{contract.EDGE_INFO}",
                             ca_pem, server_name, token, timeout)
        if secret.status == 200:
            encoded = _config_map_data(secret).get(contract.LITE_APISERVER_KEY_KEY)
            if encoded:
                try:
                    key = base64.b64decode(encoded, validate=True).decode("ascii")
                except (binascii.Error, ValueError):
                    raise clusterdata.refuse(f"{contract.EDGE_INFO_REF} Secret key {contract.LITE_APISERVER_KEY_KEY}",
                                             "it is not base64 of ASCII text") from None
    return data, key


def checked_edge_info(data: Dict[str, str], key: Optional[str], cluster_cas: List[bytes]
                      ) -> Tuple[Dict[str, str], Optional[str]]:
    """edge-info's keys that join uses, each checked for its shape and normalised; and the checked key.

    ``edge-virtual-addr`` is an IP address (canonical form); ``host-config`` is ``IP name...`` lines;
    ``node-delay-domain`` DNS names and ``insecure-registries`` ``host[:port]``, one a line;
    ``kube-api-ca.crt`` certificates of the pinned cluster CA; ``lite-apiserver.crt`` certificates;
    ``tls.json`` lite-apiserver's list of key/cert paths; the key one PEM private key. Certificates, key and
    JSON are re-encoded from what was parsed. Other keys are dropped.

    Raises:
        DiscoveryError: A value has the wrong shape (reason ``bad-cluster-data``).
    """
    hint = clusterdata.fix_hint(contract.EDGE_NAMESPACE, contract.EDGE_INFO)

    def where(name: str) -> str:
        return f"{contract.EDGE_INFO_REF} key {name}"

    checked: Dict[str, str] = {}
    for name in contract.EDGE_INFO_KEYS:
        value = data.get(name)
        if value is None or not value.strip():
            continue
        if name == contract.EDGE_VIRTUAL_ADDR_KEY:
            address = clusterdata.ip_address(value, where(name), hint)
            parsed = ipaddress.ip_address(address)
            if parsed.is_unspecified or parsed.is_multicast:
                raise clusterdata.refuse(where(name), f"{address} cannot be a node's own address", hint)
            checked[name] = address
        elif name == contract.HOST_CONFIG_KEY:
            checked[name] = "".join(line + "\n" for line in clusterdata.host_lines(value, where(name), hint))
        elif name == contract.NODE_DELAY_DOMAIN_KEY:
            checked[name] = "".join(item + "\n" for item in clusterdata.name_list(value, where(name), hint))
        elif name == contract.INSECURE_REGISTRIES_KEY:
            checked[name] = "".join(item + "\n" for item in clusterdata.registry_list(value, where(name), hint))
        elif name == contract.LITE_APISERVER_TLS_KEY:
            checked[name] = clusterdata.tls_json(value, where(name), hint)
        else:
            pem = clusterdata.certificates(value, where(name), hint)
            if name == contract.KUBE_API_CA_KEY and any(der not in cluster_cas for der in capin.pem_to_der_list(pem)):
                raise clusterdata.refuse(where(name), "it is not the cluster CA that cluster-info and the pin "
                                                      "verified", hint)
            checked[name] = pem
    checked_key = None
    if key:
        checked_key = clusterdata.private_key(key, f"{contract.EDGE_INFO_REF} {contract.LITE_APISERVER_KEY_KEY}", hint)
    return checked, checked_key


def discover(host: str, port: int, token: BootstrapToken, pins: List[str], node_name: str, out: Output,
             timeout: float = 10.0) -> Discovery:
    """Find and verify the cluster at ``host:port`` with the token and pins; read what join needs.

    Args:
        host: The API server address as typed (IP or DNS name).
        port: Its port.
        token: The bootstrap token.
        pins: CA pins to check; empty only with the explicit unsafe flag.
        node_name: The node's name, to refuse one that is registered and Ready already.
        out: Progress output.
        timeout: Seconds per request.

    Raises:
        DiscoveryError: One of the failures of SPEC 4.1 phase 2, each with its own message.
    """
    try:
        first = request(host, port, CLUSTER_INFO_PATH, insecure_context(), timeout=timeout)
    except TransportError as exc:
        raise transport_failure(exc, host, port) from None
    check_clock(first)
    data = _read_cluster_info(first, host, port)
    _check_signature(data, token)
    out.progress(PHASE, f"cluster-info is signed with token {token.id}; the signature verifies")
    kubeconfig_text = data[jws.KUBECONFIG_KEY]
    try:
        entry = parse_cluster_info(kubeconfig_text)
    except InstallerError as exc:
        raise DiscoveryError("bad-cluster-info", exc.message, exc.hint) from None
    server = clusterdata.server_url(entry.server, "kube-public/cluster-info's kubeconfig server",
                                    "run kubectl edge addon on the cluster; it rewrites cluster-info")
    ca_pem, cluster_cas = trusted_ca(entry.ca_pem, pins, out)
    if pins:
        out.progress(PHASE, "the cluster CA matches the pin")
    server_name = _server_name(host, first.peer_certificate)
    try:
        second = request(host, port, CLUSTER_INFO_PATH, trusting_context(ca_pem), server_name,
                         timeout=timeout)
    except TransportError as exc:
        raise _verify_failure(exc, host, port, server_name) from None
    except ssl.SSLError as exc:
        raise DiscoveryError("bad-ca", f"cluster-info's CA cannot be loaded: {exc}") from None
    if _read_cluster_info(second, host, port).get(jws.KUBECONFIG_KEY) != kubeconfig_text:
        raise DiscoveryError("changed", "cluster-info changed between the unverified and the verified read",
                             "run join again; if it keeps happening, something alters the traffic")
    strategy = DIRECT if server_name == host else "hosts-mapping"
    out.progress(PHASE, f"TLS verified with the cluster CA as {server_name} ({strategy}); cluster-info names the "
                        f"server {server}")
    version_response = _token_read(host, port, "/version", ca_pem, server_name, token, timeout)
    version = clusterdata.version(version_response.json() if version_response.status == 200 else None)
    kubelet_name, kubelet_text = _read_kubelet_config(host, port, ca_pem, server_name, token, version, timeout)
    out.progress(PHASE, f"read the kubelet configuration from {contract.KUBELET_CONFIG_NAMESPACE}/{kubelet_name}")
    _check_node(host, port, ca_pem, server_name, token, node_name, timeout)
    raw_edge_info, raw_key = _read_edge_info(host, port, ca_pem, server_name, token, timeout, out)
    edge_info: Optional[Dict[str, str]] = None
    lite_key: Optional[str] = None
    if raw_edge_info is not None:
        edge_info, lite_key = checked_edge_info(raw_edge_info, raw_key, cluster_cas)
    out.progress(PHASE, f"{contract.EDGE_INFO_REF}: " + ("read; every value has its shape"
                                                                       if edge_info is not None else
                                                                       "not present (fine)"))
    return Discovery(host=host, port=port, ca_pem=ca_pem, cluster_info_server=server, strategy=strategy,
                     server_name=server_name, server_version=version, kubelet_config=kubelet_text,
                     kubelet_config_name=kubelet_name, edge_info=edge_info, lite_apiserver_key=lite_key)
