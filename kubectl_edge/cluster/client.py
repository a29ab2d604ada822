"""A connected API client built from kubectl-style options, with kubectl-edge's identity.

Bodies stay plain JSON dicts: models drop unknown fields, and patches must be computed on what the server
really has. Two transports carry the requests:

- kubeconfigs whose credentials are static (client certificate and key, a bearer token or token file,
  username and password, or none) and that need no proxy are served with ``ssl`` and ``http.client`` over
  one kept-alive connection. This is what almost every command meets, and it spares each command the
  ``kubernetes`` package's import (about 0.3 s: its ``__init__`` loads the config loaders, urllib3, requests,
  oauthlib and pydantic before anything else);
- everything else (``exec`` plugins, ``auth-provider``, ``proxy-url``, an HTTPS proxy in the environment)
  goes through the generated client's loader and transport, which implement those.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import json
import logging
import os
import platform
import select
import signal
import socket
import ssl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

from edge_protocol.platforms import go_arch
from kubectl_edge import __version__
from kubectl_edge.cluster.errors import error_from_status, translate
from kubectl_edge.cluster.kinds import Kind, ObjectRef
from kubectl_edge.cluster.kubeconfig import ConnectionOverrides, ResolvedConfig, load
from kubectl_edge.errors import ClusterUnreachable, ConfigError, NotFound

log = logging.getLogger(__name__)

#: Audit logs and server metrics identify the plugin by this agent.
USER_AGENT = f"kubectl-edge/{__version__} ({platform.system().lower()}/{go_arch(platform.machine())})"
FIELD_MANAGER = "kubectl-edge"
_MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
# Review APIs are answered without storing anything; they do not count as changes.
_NON_PERSISTING = ("/selfsubjectaccessreviews", "/selfsubjectreviews", "/selfsubjectrulesreviews")
#: Fault injection for the interruption tests: the process kills itself after this many writes.
FAULT_KILL_AFTER_WRITES = "KUBECTL_EDGE_FAULT_KILL_AFTER_WRITES"
# Credentials only the generated client's loader implements; a kubeconfig user with one of them uses it.
_LOADER_ONLY_USER_KEYS = ("exec", "auth-provider")


class Transport(Protocol):
    """Sends one request and returns the status and the raw body; raises on a transport failure."""

    def send(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any,
             timeout: float | None) -> tuple[int, bytes]:
        """One request; ``body`` is JSON-serialisable or None."""
        ...

    def as_identity(self, bearer_token: str | None) -> Transport:
        """A transport to the same server with the same trust, as another identity (no client certificate)."""
        ...

    def close(self) -> None:
        """Release the connection(s)."""
        ...


@dataclass
class Cluster:
    """An open connection: the kubeconfig that was resolved and the client built from it."""

    resolved: ResolvedConfig
    api: Transport
    request_timeout: float | None
    writes: int = 0
    _kill_after: int | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        configured = os.environ.get(FAULT_KILL_AFTER_WRITES)
        self._kill_after = int(configured) if configured else None

    @property
    def server(self) -> str:
        """The API server URL the client talks to."""
        return self.resolved.server

    # --- raw requests ---------------------------------------------------------------------------------

    def request(self, method: str, path: str, *, query: dict[str, str] | None = None, body: Any = None,
                content_type: str = "application/json") -> Any:
        """Send one request; return the decoded JSON body, raise a ClusterError on an error status."""
        headers = {"Accept": "application/json", "Content-Type": content_type, "User-Agent": USER_AGENT}
        try:
            status, raw = self.api.send(method, path, query or {}, headers, body, self.request_timeout)
        except ClusterUnreachable:
            raise
        except Exception as exc:
            raise translate(exc, self.server) from exc
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s%s %s", method, self.server, path + (f"?{urlencode(query)}" if query else ""), status)
        persisting = method in _MUTATING and not path.endswith(_NON_PERSISTING) and (query or {}).get("dryRun") != "All"
        if persisting and status < 400:
            self._count_write()
        if status >= 400:
            raise error_from_status(status, raw.decode(errors="replace"), f"{method} {path}")
        return json.loads(raw) if raw else None

    def _count_write(self) -> None:
        self.writes += 1
        if self._kill_after is not None and self.writes >= self._kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    # --- objects --------------------------------------------------------------------------------------

    def get(self, ref: ObjectRef) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        try:
            document: dict[str, Any] = self.request("GET", ref.path)
        except NotFound:
            return None
        return document

    def list_objects(self, kind: Kind, namespace: str | None = None, label_selector: str | None = None,
             page_size: int = 500, field_selector: str | None = None) -> Iterator[dict[str, Any]]:
        """Every object of a kind, fetched a page at a time."""
        query: dict[str, str] = {"limit": str(page_size)}
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector
        while True:
            page = self.request("GET", kind.path(namespace), query=query)
            yield from page.get("items") or []
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return
            query["continue"] = token

    def create(self, body: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        """Create an object from its body."""
        ref = ObjectRef.of(body)
        query = {"fieldManager": FIELD_MANAGER}
        if dry_run:
            query["dryRun"] = "All"
        created: dict[str, Any] = self.request("POST", ref.kind.path(ref.namespace), query=query, body=body)
        return created

    def replace(self, body: dict[str, Any]) -> dict[str, Any]:
        """Update an object; its metadata.resourceVersion makes the update fail if the object changed."""
        replaced: dict[str, Any] = self.request("PUT", ObjectRef.of(body).path, query={"fieldManager": FIELD_MANAGER},
                                                body=body)
        return replaced

    def json_patch(self, ref: ObjectRef, operations: list[dict[str, Any]], dry_run: bool = False) -> dict[str, Any]:
        """Apply an RFC 6902 patch; a failed ``test`` operation raises Invalid/Conflict and changes nothing."""
        query = {"fieldManager": FIELD_MANAGER}
        if dry_run:
            query["dryRun"] = "All"
        patched: dict[str, Any] = self.request("PATCH", ref.path, query=query, body=operations,
                                               content_type="application/json-patch+json")
        return patched

    def delete(self, ref: ObjectRef, uid: str | None = None) -> bool:
        """Delete an object (only if its uid matches, when given); False when it was not there."""
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
        if uid:
            body["preconditions"] = {"uid": uid}
        try:
            self.request("DELETE", ref.path, body=body)
        except NotFound:
            return False
        return True

    # --- identity -------------------------------------------------------------------------------------

    def can_i(self, verb: str, resource: str, group: str = "", namespace: str | None = None,
              name: str | None = None) -> bool:
        """Ask the API server whether the current user may do this (SelfSubjectAccessReview)."""
        attributes: dict[str, str] = {"verb": verb, "resource": resource, "group": group}
        if namespace:
            attributes["namespace"] = namespace
        if name:
            attributes["name"] = name
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                  "spec": {"resourceAttributes": attributes}}
        answer = self.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=review)
        return bool((answer.get("status") or {}).get("allowed"))

    def server_version(self) -> dict[str, Any]:
        """The API server's ``/version`` document."""
        document: dict[str, Any] = self.request("GET", "/version")
        return document

    @contextmanager
    def as_identity(self, bearer_token: str | None) -> Iterator[Cluster]:
        """The same server and trust, but as a bootstrap token's user, or anonymous when None."""
        transport = self.api.as_identity(bearer_token)
        try:
            yield Cluster(resolved=self.resolved, api=transport, request_timeout=self.request_timeout)
        finally:
            transport.close()


# --- the standard-library transport -----------------------------------------------------------------------

def _unreachable(server: str, exc: BaseException) -> ClusterUnreachable:
    """The error for a request that got no HTTP answer (as ``errors.translate`` words it)."""
    return ClusterUnreachable(f"cannot reach the API server {server}: {exc}",
                              "check that the cluster is running and that --kubeconfig/--context point at it")


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
    """What a TLS client trusts: a CA file or PEM text, the system's store when neither, or nothing."""

    ca_file: str | None = None
    ca_pem: str | None = None
    insecure: bool = False

    def context(self) -> ssl.SSLContext:
        """A new client context; ``insecure`` checks neither the chain nor the name."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif self.ca_file or self.ca_pem:
            context.load_verify_locations(cafile=self.ca_file, cadata=self.ca_pem)
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
            raise _unreachable(self.server, exc) from exc

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


def _decoded(entry: dict[str, Any], key: str, what: str) -> bytes:
    """A kubeconfig ``...-data`` value, base64-decoded; line breaks are ignored, as Go's decoder does."""
    try:
        return base64.b64decode("".join(str(entry[key]).split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{key} of the {what} is not base64: {exc}") from None


def _load_client_certificate(context: ssl.SSLContext, user: dict[str, Any]) -> None:
    """The user's client certificate and key, from files or inline data (written to a private scratch dir)."""
    if not any(key in user for key in ("client-certificate", "client-certificate-data")):
        return
    with tempfile.TemporaryDirectory(prefix="kubectl-edge-") as scratch:
        paths = []
        for key in ("client-certificate", "client-key"):
            if f"{key}-data" in user:
                path = Path(scratch) / key
                path.touch(mode=0o600)
                path.write_bytes(_decoded(user, f"{key}-data", "user"))
                paths.append(str(path))
            elif key in user:
                paths.append(str(user[key]))
            else:
                raise ValueError(f"the user has a client certificate but no {key}")
        context.load_cert_chain(paths[0], paths[1])


def _authorization(user: dict[str, Any]) -> str | None:
    """The Authorization header: token (or tokenFile), else username and password, as the client's loader."""
    token = user.get("token") or None
    if not token and user.get("tokenFile"):
        token = Path(str(user["tokenFile"])).read_text().strip()
    if token:
        return f"Bearer {token}"
    if "username" in user and "password" in user:
        pair = f"{user['username']}:{user['password']}".encode()
        return "Basic " + base64.b64encode(pair).decode()
    return None


def _wants_loader(cluster: dict[str, Any], user: dict[str, Any], scheme: str) -> bool:
    """Whether this kubeconfig needs what only the generated client implements (exec, auth-provider, proxies)."""
    if any(key in user for key in _LOADER_ONLY_USER_KEYS) or cluster.get("proxy-url"):
        return True
    # The generated client takes a proxy from the environment (urllib's getproxies) for the server's scheme.
    return any(os.environ.get(name) for variable in (f"{scheme}_proxy", "all_proxy")
               for name in (variable, variable.upper()))


def direct_transport(resolved: ResolvedConfig) -> DirectTransport | None:
    """The standard-library transport for this kubeconfig, or None when it needs the generated client.

    Raises:
        ValueError, OSError, ssl.SSLError: A certificate, key or token cannot be read.
    """
    cluster: dict[str, Any] = resolved.config["clusters"][0]["cluster"]
    user: dict[str, Any] = resolved.config["users"][0]["user"] or {}
    scheme = urlsplit(resolved.server).scheme
    if scheme not in ("https", "http") or _wants_loader(cluster, user, scheme):
        return None
    trust = context = None
    if scheme == "https":
        trust = Trust(insecure=bool(cluster.get("insecure-skip-tls-verify")))
        if cluster.get("certificate-authority-data"):
            trust.ca_pem = _decoded(cluster, "certificate-authority-data", "cluster").decode("ascii", "replace")
        elif cluster.get("certificate-authority"):
            trust.ca_file = str(cluster["certificate-authority"])
        context = trust.context()
        _load_client_certificate(context, user)
    return DirectTransport(resolved.server.rstrip("/"), trust, context, cluster.get("tls-server-name") or None,
                           _authorization(user))


# --- the generated client's transport (exec plugins, auth providers, proxies) ------------------------------

@dataclass
class ClientTransport:
    """Requests through ``kubernetes.client.ApiClient`` (built by the client's kubeconfig loader)."""

    api: Any  # kubernetes.client.ApiClient

    def send(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any,
             timeout: float | None) -> tuple[int, bytes]:
        """One request; the client's exceptions propagate (``errors.translate`` words them)."""
        method_, url, header_params, serialized, _ = self.api.param_serialize(
            method=method, resource_path=path, query_params=list(query.items()), header_params=headers, body=body,
            auth_settings=["BearerToken"])
        response = self.api.call_api(method_, url, header_params=header_params, body=serialized,
                                     _request_timeout=timeout)
        return int(response.status), bytes(response.read())

    def as_identity(self, bearer_token: str | None) -> ClientTransport:
        """A client with the same host and trust, as a bootstrap token's user or anonymous."""
        from kubernetes import client

        original = self.api.configuration
        configuration = client.Configuration()
        configuration.host = original.host
        configuration.ssl_ca_cert = original.ssl_ca_cert
        configuration.verify_ssl = original.verify_ssl
        configuration.tls_server_name = getattr(original, "tls_server_name", None)
        configuration.proxy = getattr(original, "proxy", None)
        configuration.retries = 0
        if bearer_token:
            configuration.api_key = {"authorization": f"Bearer {bearer_token}"}
        api = client.ApiClient(configuration)
        api.user_agent = USER_AGENT
        return ClientTransport(api)

    def close(self) -> None:
        """Close the client's connection pool."""
        self.api.close()


def client_transport(resolved: ResolvedConfig) -> ClientTransport:
    """The generated client's loader and transport for this kubeconfig."""
    from kubernetes import config as kube_config

    api = kube_config.new_client_from_config_dict(resolved.config, context=resolved.context_name,
                                                  persist_config=False)
    api.user_agent = USER_AGENT
    # One try per request: an unreachable server is reported at once, not after urllib3's retries.
    api.configuration.retries = 0
    return ClientTransport(api)


@contextmanager
def connect(overrides: ConnectionOverrides, request_timeout: float | None = None) -> Iterator[Cluster]:
    """Open a client for the cluster the kubectl-style options select; close it afterwards."""
    resolved = load(overrides)
    try:
        transport: Transport | None = direct_transport(resolved)
        if transport is None:
            transport = client_transport(resolved)
    except Exception as exc:  # the loader raises ConfigException and plain ValueErrors alike; files may be bad
        raise ConfigError(f"cannot use the kubeconfig context {resolved.context_name}: {exc}",
                          "fix the kubeconfig entries of that context") from exc
    log.debug("using context %s, server %s (%s)", resolved.context_name, resolved.server, type(transport).__name__)
    try:
        yield Cluster(resolved=resolved, api=transport, request_timeout=request_timeout)
    finally:
        transport.close()
