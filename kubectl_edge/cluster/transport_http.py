"""The standard-library transport: ``ssl`` and ``http.client`` over one kept-alive connection.

It serves kubeconfigs whose credentials are static (client certificate and key, a bearer token or token
file, username and password, or none) and that need no proxy: what almost every command meets. It spares
each command the ``kubernetes`` package's import (about 0.3 s: its ``__init__`` loads the config loaders,
urllib3, requests, oauthlib and pydantic before anything else).
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from kubectl_edge.cluster.ca import load_ca
from kubectl_edge.cluster.credentials import authorization, load_client_certificate, needs_generated_client
from kubectl_edge.cluster.errors import unreachable
from kubectl_edge.cluster.kubeconfig import ResolvedConfig


class _Connection(http.client.HTTPSConnection):
    """HTTPS to the server's address, with TLS checking ``server_name`` (kubeconfig's ``tls-server-name``)."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext, server_name: str | None,
                 timeout: float | None) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._tls = context
        self._server_name = server_name or host

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._tls.wrap_socket(self.sock, server_hostname=self._server_name)


@dataclass
class Trust:
    """What a TLS client trusts: the given DER CA certificates, the system's store when none, or nothing."""

    ca_certificates: tuple[bytes, ...] = ()
    insecure: bool = False

    def context(self) -> ssl.SSLContext:
        """A new client context; ``insecure`` checks neither the chain nor the name."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif self.ca_certificates:
            context.load_verify_locations(cadata=b"".join(self.ca_certificates))
        else:
            context.load_default_certs()
        return context


@dataclass
class DirectTransport:
    """Requests over one kept-alive ``http.client`` connection with the kubeconfig's TLS and credentials.

    ``trust`` None means a plain-HTTP server. ``context`` is the TLS context with the client certificate, if
    any; ``as_identity`` makes one from ``trust`` alone.
    """

    server: str
    trust: Trust | None
    context: ssl.SSLContext | None
    server_name: str | None
    authorization: str | None = field(default=None, repr=False)
    _connection: http.client.HTTPConnection | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        url = urlsplit(self.server)
        self._host = url.hostname or ""
        self._port = url.port or (443 if url.scheme == "https" else 80)
        self._prefix = url.path.rstrip("/")  # a server behind a path prefix (e.g. a proxying gateway)

    def _open(self, timeout: float | None) -> http.client.HTTPConnection:
        if self._connection is None:
            if self.context is None:
                self._connection = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
            else:
                self._connection = _Connection(self._host, self._port, self.context, self.server_name, timeout)
        connection = self._connection
        connection.timeout = timeout
        if connection.sock is not None:
            if _dropped(connection.sock):
                connection.close()  # the server closed the idle connection; the next request opens a new one
            else:
                connection.sock.settimeout(timeout)
        return connection

    def send(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any,
             timeout: float | None) -> tuple[int, bytes]:
        """One request on the kept connection; any failure closes it and raises ClusterUnreachable."""
        target = self._prefix + path + (f"?{urlencode(query)}" if query else "")
        headers = dict(headers)
        if self.authorization:
            headers["Authorization"] = self.authorization
        payload = None if body is None else json.dumps(body).encode()
        connection = self._open(timeout)
        try:
            connection.request(method, target, body=payload, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise unreachable(self.server, exc) from exc

    def as_identity(self, bearer_token: str | None) -> DirectTransport:
        """The same server and trust, without this identity's client certificate."""
        return DirectTransport(self.server, self.trust, None if self.trust is None else self.trust.context(),
                               self.server_name, f"Bearer {bearer_token}" if bearer_token else None)

    def close(self) -> None:
        """Close the kept connection."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _dropped(sock: socket.socket) -> bool:
    """Whether an idle kept-alive connection was closed by the server (readable means EOF or junk)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def direct_transport(resolved: ResolvedConfig) -> DirectTransport | None:
    """The standard-library transport for this kubeconfig, or None when it needs the generated client.

    Raises:
        ConfigError: The kubeconfig's CA certificate cannot be used.
        ValueError, OSError, ssl.SSLError: A client certificate, key or token cannot be read.
    """
    cluster: dict[str, Any] = resolved.config["clusters"][0]["cluster"]
    user: dict[str, Any] = resolved.config["users"][0]["user"] or {}
    scheme = urlsplit(resolved.server).scheme
    if scheme not in ("https", "http") or needs_generated_client(cluster, user, scheme):
        return None
    trust = context = None
    if scheme == "https":
        ca = load_ca(resolved, offer_flag=False)
        trust = Trust(ca.certificates if ca else (), insecure=bool(cluster.get("insecure-skip-tls-verify")))
        context = trust.context()
        load_client_certificate(context, user)
    return DirectTransport(resolved.server.rstrip("/"), trust, context, cluster.get("tls-server-name") or None,
                           authorization(user))
