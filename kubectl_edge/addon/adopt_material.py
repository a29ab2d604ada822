"""What adoption keeps of SuperEdge's installation: the material edge nodes trust, tunnel-cloud's NodePort,
the host tunnel-edge dials and the address of the nodes' interface (read off the cluster, checked for shape)."""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from edge_protocol import contract, network
from edge_protocol.errors import EndpointError
from kubectl_edge.addon import certs, chart
from kubectl_edge.addon.adopt import MUTATING_WEBHOOK
from kubectl_edge.addon.certificates import KeyPair
from kubectl_edge.cluster.client import Cluster
from kubectl_edge.cluster.kinds import CONFIG_MAP, ObjectRef


def superedge_existing(cluster: Cluster, live: Mapping[str, Mapping[str, Any] | None],
                       existing: certs.Existing) -> certs.Existing:
    """What edgeadm keeps where the chart does not: the webhook CA only in the webhook's caBundle, the
    lite-apiserver key in the edge-info ConfigMap."""
    webhook_ca = existing.webhook_ca
    if not webhook_ca:
        webhook = cluster.get(ObjectRef(MUTATING_WEBHOOK, "edge-health-admission")) or {}
        bundles = [w.get("clientConfig", {}).get("caBundle") for w in webhook.get("webhooks") or []]
        bundle = next((b for b in bundles if b), None)
        if bundle:
            try:
                webhook_ca = base64.b64decode(bundle).decode()
            except (ValueError, UnicodeDecodeError):
                webhook_ca = None
    lite = existing.lite_apiserver
    info = ((live.get("edge-info") or {}).get("data") or {})
    cert, key = info.get(contract.LITE_APISERVER_CERT_KEY), info.get(contract.LITE_APISERVER_KEY_KEY)
    if lite is None and cert and key:
        lite = KeyPair(str(cert), str(key))
    return certs.Existing(tunnel_ca=existing.tunnel_ca, tunnel_cloud=existing.tunnel_cloud,
                          tunnel_egress=existing.tunnel_egress, tunnel_token=existing.tunnel_token,
                          webhook_ca=webhook_ca, webhook=existing.webhook, hmac_key=existing.hmac_key,
                          lite_apiserver=lite)


def keep_material(existing: certs.Existing, made: certs.Result) -> certs.Result:
    """The material edge nodes already trust, as it is; only what is missing comes from ``made``.

    Adoption keeps certificates even where kubectl-edge would want other names: tunnel-edge checks
    tunnel-cloud by the name 127.0.0.1, which SuperEdge's certificate carries.
    """
    generated = made.material
    kept: list[str] = []
    tunnel = (existing.tunnel_ca, existing.tunnel_cloud, existing.tunnel_egress)
    if all(tunnel):
        tunnel_ca, tunnel_cloud, tunnel_egress = existing.tunnel_ca, existing.tunnel_cloud, existing.tunnel_egress
        kept.append("the tunnel CA and certificates")
    else:
        tunnel_ca, tunnel_cloud, tunnel_egress = generated.tunnel_ca, generated.tunnel_cloud, generated.tunnel_egress
    if existing.webhook_ca and existing.webhook:
        webhook_ca, webhook = existing.webhook_ca, existing.webhook
        kept.append("the webhook certificate and its CA")
    else:
        webhook_ca, webhook = generated.webhook_ca, generated.webhook
    token = existing.tunnel_token or generated.tunnel_token
    hmac_key = existing.hmac_key or generated.hmac_key
    kept += (["the tunnel token"] if existing.tunnel_token else []) + \
        (["the health-check key"] if existing.hmac_key else [])
    lite = existing.lite_apiserver or generated.lite_apiserver
    if existing.lite_apiserver:
        kept.append("the lite-apiserver certificate")
    material = certs.Material(tunnel_ca=str(tunnel_ca), tunnel_cloud=tunnel_cloud or generated.tunnel_cloud,
                              tunnel_egress=tunnel_egress or generated.tunnel_egress, tunnel_token=token,
                              webhook_ca=str(webhook_ca), webhook=webhook or generated.webhook, hmac_key=hmac_key,
                              lite_apiserver=lite)
    notes = [f"adopt: kept what SuperEdge's edgeadm made: {', '.join(kept)}"] if kept else []
    missing = [what for what, have in (("tunnel certificates", all(tunnel)),
                                       ("webhook certificate", existing.webhook_ca and existing.webhook),
                                       ("tunnel token", existing.tunnel_token), ("health-check key", existing.hmac_key))
               if not have]
    if missing:
        notes.append(f"adopt: made what SuperEdge's installation lacks: {', '.join(missing)}")
    return certs.Result(material, made.generated, tuple(notes))


def grpc_node_port(service: Mapping[str, Any] | None) -> int | None:
    """tunnel-cloud's grpc NodePort, the one tunnel-edge's configuration names."""
    for port in ((service or {}).get("spec") or {}).get("ports") or []:
        if port.get("name") == "grpc" and port.get("nodePort"):
            return int(port["nodePort"])
    return None


TUNNEL_EDGE_CONF = ObjectRef(CONFIG_MAP, "tunnel-edge-conf", chart.NAMESPACE)
_SERVER_NAME = re.compile(r'^\s*server_name\s*=\s*"([^"]+)"\s*$', re.MULTILINE)


def tunnel_host(conf: Mapping[str, Any] | None) -> str | None:
    """The host tunnel-edge dials (``server_name`` of tunnel-edge-conf's mode.toml), checked for the shape of
    an IP address or DNS name; None when there is none."""
    found = _SERVER_NAME.search(str(((conf or {}).get("data") or {}).get("mode.toml") or ""))
    if not found:
        return None
    try:
        return network.parse_endpoint(found.group(1))[0]
    except EndpointError:
        return None


def edge_virtual_addr(edge_info: Mapping[str, Any] | None) -> str | None:
    """edge-info's ``edge-virtual-addr`` when it is an IPv4 address (joined nodes carry it)."""
    text = str(((edge_info or {}).get("data") or {}).get(contract.EDGE_VIRTUAL_ADDR_KEY) or "").strip()
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        return None
