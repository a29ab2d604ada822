"""Phase 5, lite-apiserver (edge autonomy), as SuperEdge sets it up (reference: superedge-edgeadm.md 4.6).

On when the package carries lite-apiserver and edge-system/edge-info has its certificate, key and the edge
virtual address: the certificate files, ``tls.json`` and the systemd unit (whose ExecStartPre puts the
virtual address on the dummy interface) are written, and kubelet is pointed at ``https://<addr>:51003``,
so the node's services keep running and restart from cache while the cloud is unreachable. Otherwise
kubelet talks to the API server directly and the phase says that edge autonomy is off.
"""

from __future__ import annotations

from edge_installer.config import (
    DUMMY_INTERFACE,
    KUBELET_PKI,
    LITE_APISERVER_BINARY,
    LITE_APISERVER_CA,
    LITE_APISERVER_CACHE,
    LITE_APISERVER_CERT,
    LITE_APISERVER_KEY,
    LITE_APISERVER_PORT,
    LITE_APISERVER_TLS,
    LITE_APISERVER_UNIT,
)
from edge_installer.join import JoinContext
from edge_protocol.endpoint import HOSTS_MAPPING_NAME
from edge_protocol.joincommand import is_ip

PHASE = "lite-apiserver"
# SuperEdge's tls.json: lite-apiserver talks upstream with kubelet's client certificate.
DEFAULT_TLS_JSON = (f'[{{"key":"{KUBELET_PKI}/kubelet-client-current.pem",'
                    f'"cert":"{KUBELET_PKI}/kubelet-client-current.pem"}}]\n')


def unit(virtual_address: str, upstream_host: str, upstream_port: int) -> str:
    """lite-apiserver's systemd unit, with SuperEdge's flags."""
    flags = " ".join([
        f"--ca-file={LITE_APISERVER_CA}", f"--tls-cert-file={LITE_APISERVER_CERT}",
        f"--tls-private-key-file={LITE_APISERVER_KEY}", f"--kube-apiserver-url={upstream_host}",
        f"--kube-apiserver-port={upstream_port}", f"--port={LITE_APISERVER_PORT}", f"--address={virtual_address}",
        f"--tls-config-file={LITE_APISERVER_TLS}", f"--file-cache-path={LITE_APISERVER_CACHE}",
        "--sync-duration=120", "--timeout=3", "--v=4",
    ])
    return (
        "[Unit]\n"
        "Description=lite-apiserver: the edge node's caching proxy of kube-apiserver\n"
        "After=network.target\n"
        "\n"
        "[Service]\n"
        f'ExecStartPre=-/bin/sh -c "ip link add {DUMMY_INTERFACE} type dummy; '
        f'ip addr add {virtual_address} dev {DUMMY_INTERFACE}"\n'
        f"ExecStart={LITE_APISERVER_BINARY} {flags}\n"
        "Environment=QCLOUD_NORM_URL=\n"
        "Restart=always\n"
        "RestartSec=10\n"
        "LimitNOFILE=65536\n"
        "\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    )


def run(context: JoinContext) -> None:
    """Set up lite-apiserver, or say why edge autonomy is off."""
    autonomy = context.autonomy()
    if not autonomy.on or not autonomy.virtual_address:
        context.out.progress(PHASE, f"edge autonomy is off: {autonomy.reason}; kubelet talks to the API server "
                                    "directly")
        return
    found = context.discovery()
    edge_info = found.edge_info or {}
    key = found.lite_apiserver_key or ""
    changes = context.changes
    changes.write_file(PHASE, LITE_APISERVER_CA, (edge_info.get("kube-api-ca.crt") or found.ca_pem).encode(), 0o644)
    changes.write_file(PHASE, LITE_APISERVER_CERT, edge_info["lite-apiserver.crt"].encode(), 0o644)
    changes.write_file(PHASE, LITE_APISERVER_KEY, key.encode(), 0o600, shown="(the private key, not shown)")
    changes.write_file(PHASE, LITE_APISERVER_TLS, (edge_info.get("tls.json") or DEFAULT_TLS_JSON).encode(), 0o644)
    upstream = HOSTS_MAPPING_NAME if is_ip(context.options.host) else context.options.host
    changes.write_file(PHASE, LITE_APISERVER_UNIT, unit(autonomy.virtual_address, upstream,
                                                        context.options.port).encode(), 0o644)
    context.out.progress(PHASE, f"edge autonomy is on: {autonomy.reason}; kubelet will use "
                                f"{context.kubelet_server()}")
