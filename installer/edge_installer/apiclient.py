"""Minimal HTTPS GET/POST to kube-apiserver with ``ssl`` and ``http.client`` only.

The TCP connection goes to the address the user typed while TLS checks a possibly different server name
(``kubernetes.default`` for an IP the certificate does not name), which is what the hosts mapping will do
for kubelet later. Failures are sorted into the kinds discovery reports differently: the address does not
answer, the peer does not speak TLS or HTTP, the certificate does not verify.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from edge_installer import PROGRAM, __version__, system
from edge_protocol.network import format_endpoint, tls_server_name

USER_AGENT = f"{PROGRAM}/{__version__} ({system.operating_system()}/{system.machine()})"
DEFAULT_TIMEOUT = 10.0
#: The largest answer read: the node's requests get small objects; a bigger answer is not an API server's.
MAX_BODY = 16 << 20


class TransportError(Exception):
    """No HTTP answer came back; ``kind`` says why: ``unreachable``, ``not-tls``, ``not-http``, ``verify``."""

    def __init__(self, kind: str, detail: str, verify_code: int = 0) -> None:
        """Create the error.

        Args:
            kind: ``unreachable`` (TCP), ``not-tls`` (handshake), ``not-http`` (garbage answer) or ``verify``
                (the certificate does not verify against the trusted CA or name).
            detail: What the library said.
            verify_code: OpenSSL's verification error code for ``verify``.
        """
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.verify_code = verify_code


@dataclass
class Response:
    """One HTTP answer."""

    status: int
    body: bytes
    headers: Dict[str, str] = field(default_factory=dict)
    peer_certificate: Optional[bytes] = None

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
            return None

    def server_time(self) -> Optional[float]:
        """The server's clock from the ``Date`` header, in seconds since the epoch, if it sent one."""
        value = self.headers.get("date")
        if not value:
            return None
        try:
            return email.utils.parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError):
            return None


def insecure_context() -> ssl.SSLContext:
    """TLS without any trust: only for the first discovery request, whose answer is verified by the JWS."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def trusting_context(ca_pem: str) -> ssl.SSLContext:
    """TLS that trusts only the given CA certificates and checks the server name."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=ca_pem)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


class _Connection(http.client.HTTPConnection):
    """An HTTP connection over TLS to ``host`` whose certificate is checked for ``server_name``."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext, server_name: Optional[str],
                 timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._context = context
        self._server_name = server_name
        self.peer_certificate: Optional[bytes] = None

    def connect(self) -> None:
        try:
            raw = socket.create_connection((self.host, self.port), self.timeout)
        except OSError as exc:
            raise TransportError("unreachable", _describe(exc)) from None
        try:
            tls = self._context.wrap_socket(raw, server_hostname=self._server_name)
        except ssl.SSLCertVerificationError as exc:
            raw.close()
            raise TransportError("verify", str(exc.verify_message or exc), exc.verify_code or 0) from None
        except ssl.CertificateError as exc:
            raw.close()
            raise TransportError("verify", str(exc)) from None
        except (ssl.SSLError, ConnectionResetError, socket.timeout) as exc:
            raw.close()
            raise TransportError("not-tls", _describe(exc)) from None
        self.peer_certificate = tls.getpeercert(binary_form=True)
        self.sock = tls


def _describe(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def request(host: str, port: int, path: str, context: ssl.SSLContext, server_name: Optional[str] = None,
            token: Optional[str] = None, method: str = "GET", body: Optional[Any] = None,
            timeout: float = DEFAULT_TIMEOUT) -> Response:
    """Send one request and read the whole answer.

    Args:
        host: Where to connect (IP or DNS name).
        port: TCP port.
        path: Request path with query.
        context: TLS context (trust and checks).
        server_name: SNI and the name the certificate must carry; default ``host`` when it is a DNS name.
        token: Bearer token, if any (none means anonymous).
        method: HTTP method.
        body: JSON-serialisable request body.
        timeout: Seconds for connect and each read.

    Raises:
        TransportError: No HTTP answer (see its ``kind``).
    """
    sni = server_name if server_name is not None else tls_server_name(host)
    connection = _Connection(host, port, context, sni, timeout)
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT,
               "Host": format_endpoint(sni if sni else host, port)}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        connection.request(method, path, body=payload, headers=headers)
        answer = connection.getresponse()
        data = answer.read(MAX_BODY + 1)
        if len(data) > MAX_BODY:
            raise TransportError("not-http", f"the answer is larger than {MAX_BODY >> 20} MiB")
    except TransportError:
        raise
    except (http.client.HTTPException, ConnectionResetError, socket.timeout, ssl.SSLError) as exc:
        raise TransportError("not-http", _describe(exc)) from None
    except OSError as exc:
        raise TransportError("unreachable", _describe(exc)) from None
    finally:
        connection.close()
    received = {key.lower(): value for key, value in answer.getheaders()}
    return Response(answer.status, data, received, connection.peer_certificate)
