"""The keys and certificates the edge components need, made with ``cryptography`` and kept across runs.

Pure functions: given the cluster CA (its key only when the admin passed ``--ca-key``), what exists already
(read back from the release's live Secrets and ConfigMaps) and the names the certificates must
carry, return the material for the chart's values. Only what is missing, unusable (unparsable, a key that does
not match its certificate, not issued by the expected CA, names missing, expired or about to) or asked to be
rotated is generated again, so running ``addon`` twice changes no certificate.

What is made, with SuperEdge's subjects and names (reference: superedge-edgeadm.md §1.6):

- tunnel: a server certificate for tunnel-cloud's stream (CN ``TunnelCloudService``) and one for its egress
  server (CN ``TunnelAnpServer``), and the CA tunnel-edge trusts (``tunnel-edge-cert`` ``ca.crt``). They are
  signed by the cluster CA when its key was given, as SuperEdge does; otherwise by a CA made for the tunnel
  alone, whose key is thrown away (tunnel-edge only needs the CA certificate, so the cluster CA key is not
  required for the tunnel).
- the edge-health-admission webhook: its own CA (O ``superedge``) and a server certificate for the Service.
- lite-apiserver's serving certificate (CN ``LiteApiServer``), which must chain to the cluster CA because
  kubelet and pods on edge nodes verify it with that CA: made only with the CA key, kept when it exists.
- tunnel-cloud's token (32 letters and digits) and edge-health's HMAC key (16).

SuperEdge made every leaf valid for ten years whatever the CA's own expiry; here a leaf never outlives its
issuer. Reading, checking and making certificates is in ``certificates.py``; this module decides.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization

from edge_protocol import contract
from kubectl_edge.addon.certificates import (
    RENEW_BEFORE,
    KeyPair,
    LeafSpec,
    ca_problem,
    load_certificate,
    load_private_key,
    new_ca,
    pair_problem,
    public_der,
    random_secret,
    sign_leaf,
)
from kubectl_edge.errors import ConfigError

TUNNEL_CLOUD_CN = "TunnelCloudService"
TUNNEL_EGRESS_CN = "TunnelAnpServer"
LITE_APISERVER_CN = "LiteApiServer"
WEBHOOK_CN = "edge-health-admission"
#: tunnel-edge connects with TLS server name 127.0.0.1; the DNS names are SuperEdge's.
TUNNEL_CLOUD_DNS = ("tunnel.cloud.io", "tunnelcloud.superedge.io")
LOOPBACK = "127.0.0.1"
#: The names ``rotate`` accepts.
TUNNEL, WEBHOOK, LITE_APISERVER, TUNNEL_TOKEN, HMAC_KEY = "tunnel", "webhook", "lite-apiserver", "tunnel-token", \
    "hmac-key"
ROTATABLE = frozenset({TUNNEL, WEBHOOK, LITE_APISERVER, TUNNEL_TOKEN, HMAC_KEY})
TOKEN_LENGTH = 32
HMAC_KEY_LENGTH = 16


@dataclass(frozen=True)
class Existing:
    """What exists already (any field may be missing)."""

    tunnel_ca: str | None = None
    tunnel_cloud: KeyPair | None = None
    tunnel_egress: KeyPair | None = None
    tunnel_token: str | None = None
    webhook_ca: str | None = None
    webhook: KeyPair | None = None
    hmac_key: str | None = None
    lite_apiserver: KeyPair | None = None


@dataclass(frozen=True)
class Names:
    """The names the certificates must carry."""

    namespace: str = contract.EDGE_NAMESPACE
    cluster_domain: str = "cluster.local"
    #: extra DNS names or IPs for tunnel-cloud's stream certificate (e.g. the public address, --certSANs)
    tunnel_hosts: tuple[str, ...] = ()
    edge_virtual_addr: str = contract.DEFAULT_EDGE_VIRTUAL_ADDR
    #: the ClusterIP of default/kubernetes: in-cluster clients on edge nodes reach lite-apiserver by it
    kubernetes_service_ip: str | None = None


@dataclass(frozen=True)
class Material:
    """Everything the chart's values need; ``lite_apiserver`` is None without the cluster CA key."""

    tunnel_ca: str
    tunnel_cloud: KeyPair
    tunnel_egress: KeyPair
    tunnel_token: str
    webhook_ca: str
    webhook: KeyPair
    hmac_key: str
    lite_apiserver: KeyPair | None = None


@dataclass(frozen=True)
class Result:
    """The material, which parts were made in this call, and one note per decision worth telling."""

    material: Material
    generated: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


# --- what each certificate must be -------------------------------------------------------------------------

def _split_hosts(hosts: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    dns_names: list[str] = []
    ips: list[str] = []
    for host in hosts:
        host = host.strip().strip("[]")
        if not host:
            continue
        try:
            ips.append(str(ipaddress.ip_address(host)))
        except ValueError:
            dns_names.append(host)
    return tuple(dict.fromkeys(dns_names)), tuple(dict.fromkeys(ips))


def wanted(names: Names) -> dict[str, LeafSpec]:
    """The leaf certificates by name, with the subject and names each must carry."""
    extra_dns, extra_ips = _split_hosts(names.tunnel_hosts)
    service = f"tunnel-cloud.{names.namespace}.svc"
    webhook = f"{WEBHOOK_CN}.{names.namespace}.svc"
    lite_ips = [LOOPBACK, names.edge_virtual_addr] + ([names.kubernetes_service_ip] if names.kubernetes_service_ip
                                                      else [])
    kubernetes_names = ("kubernetes", "kubernetes.default", "kubernetes.default.svc",
                        f"kubernetes.default.svc.{names.cluster_domain}")
    return {
        "tunnel-cloud": LeafSpec(TUNNEL_CLOUD_CN, tuple(dict.fromkeys(TUNNEL_CLOUD_DNS + extra_dns)),
                              tuple(dict.fromkeys((LOOPBACK, *extra_ips))), True),
        "tunnel-egress": LeafSpec(TUNNEL_EGRESS_CN, (service, f"{service}.{names.cluster_domain}"), (LOOPBACK,), True),
        "webhook": LeafSpec(WEBHOOK_CN, (f"{WEBHOOK_CN}.{names.namespace}", webhook,
                                      f"{webhook}.{names.cluster_domain}"), (), False),
        "lite-apiserver": LeafSpec(LITE_APISERVER_CN, ("localhost", *kubernetes_names),
                                tuple(dict.fromkeys(str(ipaddress.ip_address(ip)) for ip in lite_ips)), True),
    }


# --- the decision ----------------------------------------------------------------------------------------

def ensure_material(ca_cert_pem: str, ca_key_pem: str | None, existing: Existing, names: Names, *,
                    rotate: Collection[str] = (), now: datetime.datetime | None = None,
                    renew_before: datetime.timedelta = RENEW_BEFORE) -> Result:
    """Keep what is usable, make what is not; see the module docstring for the rules."""
    unknown = sorted(set(rotate) - ROTATABLE)
    if unknown:
        raise ConfigError(f"cannot rotate {', '.join(unknown)}", f"the names are: {', '.join(sorted(ROTATABLE))}")
    now = now or datetime.datetime.now(datetime.timezone.utc)
    ca_certificate = load_certificate(ca_cert_pem, "the cluster CA certificate")
    ca_key = load_private_key(ca_key_pem, "the cluster CA key") if ca_key_pem else None
    if ca_key is not None and public_der(ca_key) != ca_certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
        raise ConfigError("the cluster CA key does not belong to the CA certificate",
                          "pass the private key of the cluster CA")
    want = wanted(names)
    generated: list[str] = []
    notes: list[str] = []

    # tunnel: keep the CA tunnel-edge trusts and both server certificates together, or make all three.
    tunnel_ca, tunnel_cloud, tunnel_egress = existing.tunnel_ca, existing.tunnel_cloud, existing.tunnel_egress
    problems = {"tunnel CA": ca_problem(tunnel_ca, now, renew_before),
                "tunnel-cloud certificate": pair_problem(tunnel_cloud, tunnel_ca, want["tunnel-cloud"], now,
                                                         renew_before),
                "tunnel egress certificate": pair_problem(tunnel_egress, tunnel_ca, want["tunnel-egress"], now,
                                                          renew_before)}
    reason = _reason(problems, TUNNEL in rotate)
    if reason:
        if ca_key is not None:
            tunnel_ca, signer_key, signer = ca_cert_pem, ca_key, "the cluster CA"
        else:
            tunnel_ca, signer_key = new_ca("superedge-tunnel-ca", now)
            signer = "a CA made for the tunnel (no --ca-key)"
        tunnel_cloud = sign_leaf(want["tunnel-cloud"], tunnel_ca, signer_key, now)
        tunnel_egress = sign_leaf(want["tunnel-egress"], tunnel_ca, signer_key, now)
        generated.append(TUNNEL)
        notes.append(f"tunnel certificates made, signed by {signer} ({reason})")
    assert tunnel_ca and tunnel_cloud and tunnel_egress

    # webhook: its own CA, kept with its certificate or made again with it.
    webhook_ca, webhook = existing.webhook_ca, existing.webhook
    reason = _reason({"webhook CA": ca_problem(webhook_ca, now, renew_before),
                      "webhook certificate": pair_problem(webhook, webhook_ca, want["webhook"], now, renew_before)},
                     WEBHOOK in rotate)
    if reason:
        webhook_ca, webhook_ca_key = new_ca("edge-health-admission-ca", now)
        webhook = sign_leaf(want["webhook"], webhook_ca, webhook_ca_key, now)
        generated.append(WEBHOOK)
        notes.append(f"edge-health-admission webhook certificate made ({reason})")
    assert webhook_ca and webhook

    # lite-apiserver: must chain to the cluster CA, so it is made only with the CA key.
    lite = existing.lite_apiserver
    lite_problem = "asked to rotate" if LITE_APISERVER in rotate else \
        pair_problem(lite, ca_cert_pem, want["lite-apiserver"], now, renew_before)
    if lite_problem:
        if ca_key is not None:
            lite = sign_leaf(want["lite-apiserver"], ca_cert_pem, ca_key, now)
            generated.append(LITE_APISERVER)
            notes.append(f"lite-apiserver certificate made, signed by the cluster CA ({lite_problem})")
        else:
            if lite is not None and lite_problem != "missing":
                notes.append(f"the existing lite-apiserver certificate is dropped: {lite_problem}")
            lite = None
            notes.append("no lite-apiserver certificate: edge autonomy needs one signed by the cluster CA "
                         "(pass --ca-key)")

    token = existing.tunnel_token
    if not token or TUNNEL_TOKEN in rotate:
        token = random_secret(TOKEN_LENGTH)
        generated.append(TUNNEL_TOKEN)
    hmac_key = existing.hmac_key
    if not hmac_key or HMAC_KEY in rotate:
        hmac_key = random_secret(HMAC_KEY_LENGTH)
        generated.append(HMAC_KEY)

    material = Material(tunnel_ca=tunnel_ca, tunnel_cloud=tunnel_cloud, tunnel_egress=tunnel_egress,
                        tunnel_token=token, webhook_ca=webhook_ca, webhook=webhook, hmac_key=hmac_key,
                        lite_apiserver=lite)
    return Result(material, tuple(generated), tuple(notes))


def _reason(problems: dict[str, str | None], rotate: bool) -> str | None:
    if rotate:
        return "asked to rotate"
    found = [f"{what}: {problem}" for what, problem in problems.items() if problem]
    return "; ".join(found) or None

