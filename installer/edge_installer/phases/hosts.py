"""Phase 3, hosts: map the API server's IP to ``kubernetes.default`` in ``/etc/hosts`` (SuperEdge's trick).

Every API server certificate names ``kubernetes.default``, so a node that reaches the API server at an IP
the certificate does not name (NAT, a public address) still verifies it. edge-info's ``host-config`` lines
and ``node-delay-domain`` names join the block, as SuperEdge does. A DNS endpoint is used as is. A line
elsewhere in the file that maps one of these names to another address makes the phase refuse (it would win
in glibc's lookups), before anything is changed.
"""

from __future__ import annotations

from edge_installer.config import ETC_HOSTS
from edge_installer.hostsfile import mapping_lines
from edge_installer.join import JoinContext
from edge_protocol.endpoint import HOSTS_MAPPING_NAME
from edge_protocol.network import is_ip

PHASE = "hosts"


def run(context: JoinContext) -> None:
    """Write (or replace) edgeadm's block in /etc/hosts."""
    host = context.options.host
    edge_info = context.discovery().edge_info or {}
    # Discovery checked and normalised both: "IP name..." lines and DNS names, each ending in "\n".
    extra = [line for line in edge_info.get("host-config", "").split("\n") if line.strip()]
    delay_domains = [name.strip() for name in edge_info.get("node-delay-domain", "").split("\n") if name.strip()]
    if is_ip(host):
        lines = mapping_lines(host, [HOSTS_MAPPING_NAME, *delay_domains], extra)
    elif extra:
        lines = mapping_lines(host, [], extra)
    else:
        context.out.progress(PHASE, f"{host} is a DNS name the certificate names; /etc/hosts is left alone")
        return
    changed = context.changes.set_hosts_block(PHASE, ETC_HOSTS, lines)
    target = context.changes.host(ETC_HOSTS)
    if changed and not context.options.dry_run:
        context.out.progress(PHASE, f"mapped {host} to {HOSTS_MAPPING_NAME} in {target}" if is_ip(host) else
                             f"added edge-info's host-config to {target}")
    elif not changed:
        context.out.progress(PHASE, f"{target} holds the mapping already")
