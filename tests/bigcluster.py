"""Fill a local cluster with many Nodes and bootstrap tokens quickly (concurrent requests as the admin).

Used by the status tests and by bench/status.py. Each worker thread keeps one TLS connection open, so the
thousands of creates cost the API server's time, not handshakes. Nodes are created without status, as an
admin may; every other one carries both edge labels.
"""

from __future__ import annotations

import datetime
import http.client
import json
import secrets
import ssl
import string
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

EDGE_LABELS = {"superedge.io/node-edge": "enable", "superedge.io/edge-node": "enable"}
TOKEN_GROUP = "system:bootstrappers:kubeadm:default-node-token"
WORKERS = 8


class _Connections(threading.local):
    connection: http.client.HTTPSConnection | None = None


@dataclass
class AdminClient:
    """Admin requests over one kept-alive connection per thread."""

    cluster: Any
    _local: _Connections = field(default_factory=_Connections)

    def _context(self) -> ssl.SSLContext:
        pki = Path(self.cluster.dir) / "pki"
        context = ssl.create_default_context(cafile=self.cluster.ca_cert)
        context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        return context

    def send(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One request; reconnects once when the kept connection was closed by the server."""
        for attempt in (1, 2):
            if self._local.connection is None:
                url = urlsplit(self.cluster.server)
                self._local.connection = http.client.HTTPSConnection(url.hostname or "127.0.0.1", url.port,
                                                                     context=self._context(), timeout=60)
            connection = self._local.connection
            try:
                connection.request(method, path, body=None if body is None else json.dumps(body),
                                   headers={"Content-Type": "application/json", "Accept": "application/json"})
                response = connection.getresponse()
                raw = response.read()
            except (http.client.HTTPException, OSError):
                connection.close()
                self._local.connection = None
                if attempt == 2:
                    raise
                continue
            return response.status, json.loads(raw) if raw else None
        raise AssertionError("unreachable")


def _created(status: int, body: Any, what: str) -> None:
    if status not in (200, 201):
        raise AssertionError(f"creating {what} answered {status}: {body}")


def node_body(name: str, edge: bool, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A Node without status (as an admin may create it)."""
    all_labels = {"kubernetes.io/hostname": name, **(EDGE_LABELS if edge else {}), **(labels or {})}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": all_labels}}


def random_token_id() -> str:
    """Six characters of a bootstrap token ID."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(6))


def token_body(token_id: str, ttl: datetime.timedelta, description: str) -> dict[str, Any]:
    """A bootstrap-token Secret in kubeadm's format (no kubectl-edge labels)."""
    alphabet = string.ascii_lowercase + string.digits
    expiration = (datetime.datetime.now(datetime.timezone.utc) + ttl).strftime("%Y-%m-%dT%H:%M:%SZ")
    data = {"token-id": token_id, "token-secret": "".join(secrets.choice(alphabet) for _ in range(16)),
            "expiration": expiration, "description": description, "usage-bootstrap-authentication": "true",
            "usage-bootstrap-signing": "true", "auth-extra-groups": TOKEN_GROUP}
    return {"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
            "metadata": {"name": f"bootstrap-token-{token_id}", "namespace": "kube-system"}, "stringData": data}


@dataclass
class Population:
    """What ``populate`` created."""

    edge_nodes: list[str]
    other_nodes: list[str]
    token_ids: list[str]


def create_all(cluster: Any, bodies: Iterable[tuple[str, dict[str, Any]]], workers: int = WORKERS) -> None:
    """POST every (collection path, body) concurrently; raise on the first failure."""
    client = AdminClient(cluster)

    def create(item: tuple[str, dict[str, Any]]) -> None:
        path, body = item
        status, answer = client.send("POST", path, body)
        _created(status, answer, f"{body['kind']} {body['metadata']['name']}")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(create, bodies):
            pass


def populate(cluster: Any, nodes: int, tokens: int, prefix: str = "n") -> Population:
    """Create ``nodes`` Nodes (half with the edge labels) and ``tokens`` bootstrap tokens valid for a day."""
    edge = [f"{prefix}-{index:05d}" for index in range(0, nodes, 2)]
    other = [f"{prefix}-{index:05d}" for index in range(1, nodes, 2)]
    token_ids: set[str] = set()
    while len(token_ids) < tokens:
        token_ids.add(random_token_id())
    bodies: list[tuple[str, dict[str, Any]]] = []
    bodies += [("/api/v1/nodes", node_body(name, edge=True)) for name in edge]
    bodies += [("/api/v1/nodes", node_body(name, edge=False)) for name in other]
    bodies += [("/api/v1/namespaces/kube-system/secrets",
                token_body(token_id, datetime.timedelta(hours=24), f"bulk token {index}"))
               for index, token_id in enumerate(sorted(token_ids))]
    create_all(cluster, bodies)
    return Population(edge, other, sorted(token_ids))
