"""The API server's serving certificate as a node would see it: one TLS handshake, no trust decided yet."""

from __future__ import annotations

import socket
import ssl

from edge_protocol.network import tls_server_name


def serving_certificate(host: str, port: int, timeout: float = 5.0, server_name: str | None = None) -> bytes:
    """The DER leaf certificate served at host:port (with SNI ``server_name``, or host when a DNS name).

    Raises:
        OSError: The address does not answer or the TLS handshake fails.
    """
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the caller checks the chain against the pinned CA itself
    sni = server_name or tls_server_name(host)
    with socket.create_connection((host, port), timeout=timeout) as raw, \
            context.wrap_socket(raw, server_hostname=sni) as tls:
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise OSError(f"{host}:{port} sent no certificate")
    return der
