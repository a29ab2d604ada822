"""How a node reaches the API server at an address: directly, or through the hosts mapping.

The hosts mapping (SuperEdge's ``/etc/hosts`` trick) maps the address to ``kubernetes.default``, a name
every API server certificate carries, so an IP the certificate does not name still verifies. A DNS name
cannot be mapped that way: one the certificate does not name is an error.
"""

from __future__ import annotations

from typing import Sequence

from edge_protocol.capin import san_covers
from edge_protocol.errors import EndpointError
from edge_protocol.network import is_ip

#: The name the hosts mapping points at the API server's address.
HOSTS_MAPPING_NAME = "kubernetes.default"
DIRECT = "direct"
HOSTS_MAPPING = "hosts-mapping"


def endpoint_strategy(host: str, dns_names: Sequence[str], ip_addresses: Sequence[str]) -> str:
    """``direct`` when the certificate names ``host``, ``hosts-mapping`` for an IP it does not name.

    Raises:
        EndpointError: ``host`` is a DNS name the certificate does not name (the message lists the names
            it has), or an IP while the certificate does not name ``kubernetes.default`` either.
    """
    if san_covers(host, dns_names, ip_addresses):
        return DIRECT
    valid = ", ".join(list(dns_names) + list(ip_addresses)) or "none"
    if not is_ip(host):
        raise EndpointError(
            f"the API server certificate does not name {host} (it names: {valid})",
            "use one of those names or an IP address of the API server",
        )
    if not san_covers(HOSTS_MAPPING_NAME, dns_names, ip_addresses):
        raise EndpointError(
            f"the API server certificate names neither {host} nor {HOSTS_MAPPING_NAME} (it names: {valid})",
            "use an address the certificate names",
        )
    return HOSTS_MAPPING
