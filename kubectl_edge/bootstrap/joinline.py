"""The join command line: which address nodes use, the CA pins, and a check of that address from here.

The address is ``--public-address``, else the one addon remembered, else the kubeconfig's server (with a
warning when that is loopback or private). Before the line is printed the address is tried the way a node
will use it (SPEC 3.1): TCP, TLS, the served chain against the CA whose pin is printed, the certificate's
names against the address. The answer is the strategy the node will follow: ``direct``, ``hosts-mapping``
(an IP the certificate does not name, mapped to ``kubernetes.default``), or an error for a DNS name the
certificate does not name. An address that does not answer from here is a warning only: nodes may well
reach an address that this machine cannot.
"""

from __future__ import annotations

import base64
import ipaddress
import socket
import ssl
from dataclasses import dataclass

from edge_protocol import capin
from edge_protocol.endpoint import DIRECT, HOSTS_MAPPING, HOSTS_MAPPING_NAME, endpoint_strategy
from edge_protocol.errors import ProtocolError
from edge_protocol.network import format_endpoint, is_ip, parse_endpoint, tls_server_name
from kubectl_edge.errors import ConfigError, PreconditionFailed

#: Endpoint strategy when the address could not be tried from here.
UNVERIFIED = "unverified"
SOURCE_FLAG = "--public-address"
SOURCE_REMEMBERED = "addon"
SOURCE_KUBECONFIG = "kubeconfig"
CHECK_TIMEOUT_SECONDS = 5.0
# Networks that do not route beyond a site: RFC 1918, carrier-grade NAT (RFC 6598) and IPv6 unique local.
_PRIVATE_NETWORKS = tuple(ipaddress.ip_network(text) for text in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"))


@dataclass(frozen=True)
class Address:
    """The address nodes are told to use, and where it came from."""

    host: str
    port: int
    source: str

    @property
    def text(self) -> str:
        """``HOST:PORT`` as the join line writes it."""
        return format_endpoint(self.host, self.port)


def _reachability_warning(host: str) -> str | None:
    """Why edge nodes elsewhere could not reach ``host``, or None when nothing is known against it."""
    if host == "localhost" or host.endswith(".localhost"):
        return "a loopback name"
    if not is_ip(host):
        return None
    address = ipaddress.ip_address(host)
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if any(address in network for network in _PRIVATE_NETWORKS if network.version == address.version):
        return "a private address"
    return None


def choose_address(flag: str | None, remembered: str | None, server: str) -> tuple[Address, list[str]]:
    """Pick the address for the join line; return it with warnings about it.

    A port left out means the port of the kubeconfig's server, as addon reads ``--public-address``.

    Raises:
        ConfigError: ``--public-address`` or the remembered address is malformed.
    """
    try:
        _, server_port = parse_endpoint(server, 443)
    except ProtocolError as exc:
        raise ConfigError(f"the kubeconfig's server {server!r} is not an https:// address ({exc.message})",
                          "fix the server of the kubeconfig's cluster") from exc
    if flag:
        try:
            host, port = parse_endpoint(flag, server_port)
        except ProtocolError as exc:
            raise ConfigError(f"--public-address: {exc.message}", exc.hint) from exc
        return Address(host, port, SOURCE_FLAG), []
    if remembered:
        try:
            host, port = parse_endpoint(remembered, server_port)
        except ProtocolError as exc:
            raise ConfigError(f"the public address remembered by addon is invalid: {exc.message}",
                              "pass --public-address, or run kubectl edge addon --public-address HOST[:PORT]"
                              ) from exc
        return Address(host, port, SOURCE_REMEMBERED), []
    host, port = parse_endpoint(server, 443)
    address = Address(host, port, SOURCE_KUBECONFIG)
    problem = _reachability_warning(host)
    warnings = []
    if problem:
        warnings.append(f"the join command uses the kubeconfig's server {address.text}, {problem} that edge nodes "
                        "elsewhere cannot reach; pass --public-address HOST[:PORT] (or run kubectl edge addon "
                        "--public-address once to remember it)")
    return address, warnings


def cluster_info_ca_pins(kubeconfig_text: str) -> list[str]:
    """The pins of the CA bundle inside cluster-info's kubeconfig (empty when it has none)."""
    import yaml

    from kubectl_edge import yamltext

    try:
        document = yamltext.load(kubeconfig_text)
        entry = document["clusters"][0]["cluster"]
        data = base64.b64decode(entry["certificate-authority-data"])
        return capin.pins_of(data.decode(errors="replace"))
    except (yaml.YAMLError, KeyError, IndexError, TypeError, ValueError):
        return []


def check_cluster_info_ca(kubeconfig_text: str | None, pins: list[str]) -> None:
    """Refuse pins that a node would not find in cluster-info (discovery compares them with its CA).

    Raises:
        PreconditionFailed: cluster-info carries a CA that none of the pins names.
    """
    if kubeconfig_text is None:
        return
    found = cluster_info_ca_pins(kubeconfig_text)
    if found and not set(found) & set(pins):
        raise PreconditionFailed(
            f"kube-public/cluster-info carries the CA {', '.join(found)}, not the one pinned ({', '.join(pins)}); "
            "nodes would refuse discovery",
            "pass --ca-cert with the CA that cluster-info carries, or correct cluster-info")


@dataclass(frozen=True)
class EndpointCheck:
    """How the address answered: the strategy (or ``unverified``), and what the certificate names."""

    strategy: str
    reachable: bool
    detail: str = ""
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()


def _verifying_context(ca_pem: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # the names are compared below, to tell direct from hosts-mapping
    context.verify_mode = ssl.CERT_REQUIRED
    # Go's verifier, which nodes use, does not apply OpenSSL's extra strictness (Python 3.13 turns it on).
    context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    context.load_verify_locations(cadata=ca_pem)
    return context


def check_endpoint(address: Address, ca_pem: str, pins: list[str], timeout: float = CHECK_TIMEOUT_SECONDS
                   ) -> EndpointCheck:
    """Try the address as a node will: TCP, TLS, the chain against the pinned CA, the names.

    Raises:
        PreconditionFailed: The address answers with a certificate that does not verify against the pinned
            CA, does not speak TLS, or is a DNS name the certificate does not name.
    """
    where = address.text
    try:
        raw = socket.create_connection((address.host, address.port), timeout=timeout)
    except OSError as exc:
        return EndpointCheck(UNVERIFIED, reachable=False, detail=exc.strerror or str(exc) or type(exc).__name__)
    try:
        with raw, _verifying_context(ca_pem).wrap_socket(
                raw, server_hostname=tls_server_name(address.host)) as tls:
            der = tls.getpeercert(binary_form=True)
    except ssl.SSLCertVerificationError as exc:
        raise PreconditionFailed(
            f"the API server at {where} serves a certificate that does not verify against the CA pinned in the "
            f"join command ({', '.join(pins)}): {exc.verify_message}; nodes would refuse it",
            "pass --ca-cert with the CA that signed the API server's certificate, or a --public-address that "
            "reaches this cluster's API server") from exc
    except ssl.SSLError as exc:
        raise PreconditionFailed(
            f"{where} accepts connections but the TLS handshake failed ({exc.reason or exc}); it is not a "
            "Kubernetes API server", "pass a --public-address that reaches the API server") from exc
    except OSError as exc:
        # Reset or timed out during the handshake: something in between drops us, as if unreachable.
        return EndpointCheck(UNVERIFIED, reachable=False, detail=exc.strerror or str(exc) or type(exc).__name__)
    if not der:
        raise PreconditionFailed(f"{where} sent no certificate", "pass a --public-address that reaches the API server")
    dns_names, ip_addresses = capin.subject_alt_names(der)
    try:
        strategy = endpoint_strategy(address.host, dns_names, ip_addresses)
    except ProtocolError as exc:
        raise PreconditionFailed(f"--public-address {address.host}: {exc.message}" if address.source == SOURCE_FLAG
                                 else f"{address.host} (from the {address.source}): {exc.message}", exc.hint
                                 ) from exc
    return EndpointCheck(strategy, reachable=True, dns_names=tuple(dns_names), ip_addresses=tuple(ip_addresses))


def describe(address: Address, check: EndpointCheck) -> str:
    """One sentence for the admin: how the node will reach the API server at this address."""
    if not check.reachable:
        return (f"cannot reach {address.text} from here ({check.detail}); the join command is printed without that "
                "check, so make sure edge nodes can reach it")
    if check.strategy == HOSTS_MAPPING:
        return (f"{address.text} answers with the cluster's certificate, which does not name {address.host}: the "
                f"node maps {address.host} to {HOSTS_MAPPING_NAME} in /etc/hosts and verifies that name "
                f"({HOSTS_MAPPING})")
    return (f"{address.text} answers with the cluster's certificate, which names {address.host}: the node connects "
            f"directly ({DIRECT})")
