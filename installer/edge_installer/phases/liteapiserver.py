"""Phase 5, lite-apiserver (edge autonomy), as SuperEdge sets it up (reference: superedge-edgeadm.md 4.6).

On when the package carries lite-apiserver and edge-system/edge-info has its certificate, key and the edge
virtual address: the certificate files, ``tls.json`` and the systemd unit (whose ExecStartPre puts the
virtual address on the dummy interface) are written, and kubelet is pointed at ``https://<addr>:51003``,
so the node's services keep running and restart from cache while the cloud is unreachable. Otherwise
kubelet talks to the API server directly and the phase says that edge autonomy is off.
"""

from __future__ import annotations

import ipaddress
import re

from edge_installer import system
from edge_installer.config import (
    DUMMY_INTERFACE,
    LITE_APISERVER_BINARY,
    LITE_APISERVER_CA,
    LITE_APISERVER_CACHE,
    LITE_APISERVER_CERT,
    LITE_APISERVER_KEY,
    LITE_APISERVER_TLS,
    LITE_APISERVER_UNIT,
)
from edge_installer.errors import InstallerError
from edge_installer.join import JoinContext
from edge_protocol import contract
from edge_protocol.endpoint import HOSTS_MAPPING_NAME
from edge_protocol.network import is_ip

PHASE = "lite-apiserver"
# SuperEdge's tls.json: lite-apiserver talks upstream with kubelet's client certificate.
DEFAULT_TLS_JSON = f'[{{"key":"{contract.KUBELET_CLIENT_CERT}","cert":"{contract.KUBELET_CLIENT_CERT}"}}]\n'


#: Characters a value may have to stand as one word of a unit line (systemd splits on blanks and expands
#: ``%`` and ``$``): everything the unit carries is a path, a number, an address or a host name.
_UNIT_WORD = re.compile(r"[A-Za-z0-9._:/=,+-]+")


def _word(value: str) -> str:
    if not _UNIT_WORD.fullmatch(value):
        raise InstallerError(f"refusing to write {value!r} into lite-apiserver's unit: it is not a plain address, "
                             "path or number", "check edge-system/edge-info and the join endpoint")
    return value


def unit(virtual_address: str, upstream_host: str, upstream_port: int, ip_program: str) -> str:
    """lite-apiserver's systemd unit, with SuperEdge's flags.

    The virtual address goes on the dummy interface in separate ``ExecStartPre`` lines with plain
    arguments (no shell). Creating the interface and adding the address may fail because they exist
    already (a restart); bringing the interface up may not, so a missing interface shows in the unit's
    status instead of as lite-apiserver's bind error.

    Raises:
        InstallerError: A value is not a plain address, host name or path.
    """
    try:
        address = str(ipaddress.ip_address(virtual_address))
    except ValueError:
        raise InstallerError(f"refusing to use {virtual_address!r} as the edge virtual address: it is not an IP "
                             "address", "check edge-virtual-addr in edge-system/edge-info") from None
    flags = " ".join(_word(flag) for flag in [
        f"--ca-file={LITE_APISERVER_CA}", f"--tls-cert-file={LITE_APISERVER_CERT}",
        f"--tls-private-key-file={LITE_APISERVER_KEY}", f"--kube-apiserver-url={upstream_host}",
        f"--kube-apiserver-port={int(upstream_port)}", f"--port={contract.LITE_APISERVER_PORT}", f"--address={address}",
        f"--tls-config-file={LITE_APISERVER_TLS}", f"--file-cache-path={LITE_APISERVER_CACHE}",
        "--sync-duration=120", "--timeout=3", "--v=4",
    ])
    ip = _word(ip_program)
    prefix = 32 if ipaddress.ip_address(address).version == 4 else 128
    return (
        "[Unit]\n"
        "Description=lite-apiserver: the edge node's caching proxy of kube-apiserver\n"
        "After=network.target\n"
        "\n"
        "[Service]\n"
        f"ExecStartPre=-{ip} link add {DUMMY_INTERFACE} type dummy\n"
        f"ExecStartPre=-{ip} addr add {address}/{prefix} dev {DUMMY_INTERFACE}\n"
        f"ExecStartPre={ip} link set {DUMMY_INTERFACE} up\n"
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
    changes.write_file(PHASE, LITE_APISERVER_CA, (edge_info.get(contract.KUBE_API_CA_KEY) or found.ca_pem).encode(),
                       0o644)
    changes.write_file(PHASE, LITE_APISERVER_CERT, edge_info[contract.LITE_APISERVER_CERT_KEY].encode(), 0o644)
    changes.write_file(PHASE, LITE_APISERVER_KEY, key.encode(), 0o600, shown="(the private key, not shown)")
    changes.write_file(PHASE, LITE_APISERVER_TLS, (edge_info.get(contract.LITE_APISERVER_TLS_KEY) or
                                                   DEFAULT_TLS_JSON).encode(), 0o644)
    upstream = HOSTS_MAPPING_NAME if is_ip(context.options.host) else context.options.host
    changes.write_file(PHASE, LITE_APISERVER_UNIT, unit(autonomy.virtual_address, upstream, context.options.port,
                                                        ip_program()).encode(), 0o644)
    # lite-apiserver makes its cache directory itself; made here, it is journaled and reset removes it.
    changes.ensure_dir(PHASE, LITE_APISERVER_CACHE, 0o700)
    context.out.progress(PHASE, f"edge autonomy is on: {autonomy.reason}; kubelet will use "
                                f"{context.kubelet_server()}")
    for reason in autonomy.kubelet_fit.reasons:
        context.out.progress(PHASE, f"kubelet gets the feature gate {reason}")


def ip_program() -> str:
    """The absolute path of iproute2's ``ip`` (systemd runs unit commands by absolute path)."""
    return system.find_program("ip") or "/usr/sbin/ip"
