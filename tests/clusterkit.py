"""Small helpers for tests that talk to a local cluster as a particular identity (stdlib HTTP)."""

from __future__ import annotations

import json
import os
import secrets
import ssl
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class Response:
    """Status and decoded JSON body of one API request."""

    status: int
    body: Any


def request(server: str, path: str, *, ca_file: str, method: str = "GET", body: Any = None,
            token: str | None = None, client_cert: tuple[str, str] | None = None,
            content_type: str = "application/json", server_hostname: str | None = None) -> Response:
    """Send one request to the API server; no credentials means an anonymous request."""
    context = ssl.create_default_context(cafile=ca_file)
    if client_cert:
        context.load_cert_chain(*client_cert)
    data = None if body is None else json.dumps(body).encode()
    headers = {"Accept": "application/json", "Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(server + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, context=context, timeout=15) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        status = exc.code
    try:
        decoded = json.loads(raw) if raw else None
    except ValueError:
        decoded = raw.decode(errors="replace")
    return Response(status, decoded)


def admin_request(cluster: Any, path: str, **kwargs: Any) -> Response:
    """A request as the cluster's admin (client certificate)."""
    pki = Path(cluster.dir) / "pki"
    return request(cluster.server, path, ca_file=cluster.ca_cert,
                   client_cert=(str(pki / "admin.crt"), str(pki / "admin.key")), **kwargs)


def random_token() -> tuple[str, str]:
    """A fresh bootstrap token id and secret (the test's own, independent of the code under test)."""
    alphabet = string.ascii_lowercase + string.digits
    return ("".join(secrets.choice(alphabet) for _ in range(6)),
            "".join(secrets.choice(alphabet) for _ in range(16)))


def wait_for(check: Callable[[], T | None], timeout: float, interval: float = 0.5) -> T | None:
    """Poll ``check`` until it returns something truthy or ``timeout`` passes; return the last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() >= deadline:
            return result
        time.sleep(interval)


def audit_writes(cluster: Any, user_agent_prefix: str) -> list[dict[str, Any]]:
    """Write requests in the cluster's audit log sent with a user agent starting with the prefix."""
    events = []
    for line in Path(cluster.audit_log).read_text().splitlines():
        event = json.loads(line)
        if event.get("userAgent", "").startswith(user_agent_prefix) and event.get("verb") in (
                "create", "update", "patch", "delete", "deletecollection"):
            events.append(event)
    return events


# --- kubectl-edge as a user runs it ---------------------------------------------------------------------

PLUGIN_USER_AGENT = "kubectl-edge/"
# Review requests are creates that the API server answers without storing anything.
_NON_PERSISTING = {"selfsubjectaccessreviews", "selfsubjectreviews", "selfsubjectrulesreviews"}


def run_plugin(kubeconfig: str, *args: str, extra_env: dict[str, str] | None = None
               ) -> subprocess.CompletedProcess[str]:
    """Run ``kubectl edge ARGS`` as a separate process against a kubeconfig."""
    env = {**os.environ, "KUBECONFIG": kubeconfig, "NO_COLOR": "1", **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", "kubectl_edge", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def audit_mark(cluster: Any) -> int:
    """The number of audit events so far; pass it to ``persisted_writes_since``."""
    return len(Path(cluster.audit_log).read_text().splitlines())


def persisted_writes_since(cluster: Any, mark: int, user_agent_prefix: str = PLUGIN_USER_AGENT
                           ) -> list[dict[str, Any]]:
    """Write requests after ``mark`` that changed stored objects, sent by the plugin."""
    events = []
    for line in Path(cluster.audit_log).read_text().splitlines()[mark:]:
        event = json.loads(line)
        resource = (event.get("objectRef") or {}).get("resource", "")
        if (event.get("userAgent", "").startswith(user_agent_prefix) and resource not in _NON_PERSISTING
                and event.get("verb") in ("create", "update", "patch", "delete", "deletecollection")):
            events.append(event)
    return events


SNAPSHOT_PATHS = (
    "/api/v1/namespaces", "/api/v1/configmaps", "/api/v1/secrets", "/api/v1/serviceaccounts", "/api/v1/services",
    "/apis/rbac.authorization.k8s.io/v1/roles", "/apis/rbac.authorization.k8s.io/v1/rolebindings",
    "/apis/rbac.authorization.k8s.io/v1/clusterroles", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    "/apis/apps/v1/daemonsets", "/apis/apps/v1/deployments",
)


def snapshot(cluster: Any) -> dict[str, Any]:
    """Every object of the kinds addon may touch, minus what the server changes by itself."""
    objects: dict[str, Any] = {}
    for path in SNAPSHOT_PATHS:
        listing = admin_request(cluster, path).body
        for item in listing["items"]:
            metadata = dict(item["metadata"])
            for volatile in ("resourceVersion", "managedFields", "creationTimestamp", "generation"):
                metadata.pop(volatile, None)
            item = {**item, "metadata": metadata}
            item.pop("status", None)
            key = f"{path} {metadata.get('namespace', '')}/{metadata['name']}"
            objects[key] = item
    return objects


def diff_snapshots(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Readable differences between two snapshots (empty when identical)."""
    lines = [f"gone: {key}" for key in sorted(before.keys() - after.keys())]
    lines += [f"new: {key}" for key in sorted(after.keys() - before.keys())]
    lines += [f"changed: {key}" for key in sorted(before.keys() & after.keys()) if before[key] != after[key]]
    return lines



# --- a TCP forwarder: the API server at another address, as behind a NAT ------------------------------------

def _pump(source: Any, sink: Any) -> None:
    """Copy one direction of a connection until it ends, then pass the end on."""
    import contextlib
    import socket

    with contextlib.suppress(OSError):
        while True:
            chunk = source.recv(65536)
            if not chunk:
                break
            sink.sendall(chunk)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)  # the other direction keeps flowing until its own end


class tcp_forwarder:  # noqa: N801 - used like a function: ``with tcp_forwarder(host, port) as forwarder:``
    """Forward TCP connections from ``listen_host:listen_port`` (a free port by default) to a target.

    Like a NAT in front of a control plane: the API server answers at an address its certificate does not
    name, and TLS passes through untouched. Only loopback addresses are accepted, so a test cannot reach
    beyond the machine by mistake. ``host``, ``port``, ``address`` (``host:port``) and ``connections``
    (accepted so far) describe the running forwarder.
    """

    def __init__(self, target_host: str, target_port: int, listen_host: str = "127.0.0.2",
                 listen_port: int = 0) -> None:
        import ipaddress
        import threading

        for host in (listen_host, target_host):
            if not ipaddress.ip_address(host).is_loopback:
                raise ValueError(f"tcp_forwarder only forwards between loopback addresses, not {host}")
        self.target = (target_host, target_port)
        self.host = listen_host
        self.port = listen_port
        self.connections = 0
        self._listener: Any = None
        self._sockets: list[Any] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    @property
    def address(self) -> str:
        """``host:port`` as a join command writes it."""
        return f"{self.host}:{self.port}"

    def __enter__(self) -> tcp_forwarder:
        import socket
        import threading

        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((self.host, self.port))
        self._listener.listen(64)
        self.port = int(self._listener.getsockname()[1])
        acceptor = threading.Thread(target=self._serve, daemon=True)
        self._threads.append(acceptor)
        acceptor.start()
        return self

    def _serve(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # the listener was closed: the forwarder is stopping
            try:
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self.connections += 1
                self._sockets += [client, upstream]
                for source, sink in ((client, upstream), (upstream, client)):
                    pump = threading.Thread(target=_pump, args=(source, sink), daemon=True)
                    self._threads.append(pump)
                    pump.start()

    def __exit__(self, *exc_info: object) -> None:
        import contextlib
        import socket

        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=5)
