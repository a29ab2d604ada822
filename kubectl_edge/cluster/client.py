"""A connected API client built from kubectl-style options, with kubectl-edge's identity.

Bodies stay plain JSON dicts: models drop unknown fields, and patches must be computed on what the server
really has. :class:`Cluster` is the API the domain layer uses; a :class:`Transport` carries its requests:

- :mod:`kubectl_edge.cluster.transport_http` for kubeconfigs whose credentials are static and that need no
  proxy (almost every command), without importing ``kubernetes``;
- :mod:`kubectl_edge.cluster.transport_kubernetes` for everything else (``exec`` plugins, ``auth-provider``,
  ``proxy-url``, a proxy in the environment), through the generated client's loader.

Credentials are read by :mod:`kubectl_edge.cluster.credentials`, the CA by :mod:`kubectl_edge.cluster.ca`.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode

from edge_protocol.platforms import go_arch
from kubectl_edge import __version__
from kubectl_edge.cluster.errors import error_from_status, translate
from kubectl_edge.cluster.kinds import Kind, ObjectRef
from kubectl_edge.cluster.kubeconfig import ConnectionOverrides, ResolvedConfig, load
from kubectl_edge.cluster.transport_http import direct_transport
from kubectl_edge.cluster.transport_kubernetes import client_transport
from kubectl_edge.errors import ClusterUnreachable, ConfigError, EdgeError, NotFound

log = logging.getLogger(__name__)

#: Audit logs and server metrics identify the plugin by this agent.
USER_AGENT = f"kubectl-edge/{__version__} ({platform.system().lower()}/{go_arch(platform.machine())})"
FIELD_MANAGER = "kubectl-edge"
_MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
# Review APIs are answered without storing anything; they do not count as changes.
_NON_PERSISTING = ("/selfsubjectaccessreviews", "/selfsubjectreviews", "/selfsubjectrulesreviews")
#: Fault injection for the interruption tests: the process kills itself after this many writes.
FAULT_KILL_AFTER_WRITES = "KUBECTL_EDGE_FAULT_KILL_AFTER_WRITES"


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


@contextmanager
def connect(overrides: ConnectionOverrides, request_timeout: float | None = None) -> Iterator[Cluster]:
    """Open a client for the cluster the kubectl-style options select; close it afterwards."""
    resolved = load(overrides)
    try:
        transport: Transport | None = direct_transport(resolved)
        if transport is None:
            transport = client_transport(resolved, USER_AGENT)
    except EdgeError:
        raise  # already says which file or entry is wrong
    except Exception as exc:  # the loader raises ConfigException and plain ValueErrors alike; files may be bad
        raise ConfigError(f"cannot use the kubeconfig context {resolved.context_name}: {exc}",
                          "fix the kubeconfig entries of that context") from exc
    log.debug("using context %s, server %s (%s)", resolved.context_name, resolved.server, type(transport).__name__)
    try:
        yield Cluster(resolved=resolved, api=transport, request_timeout=request_timeout)
    finally:
        transport.close()
