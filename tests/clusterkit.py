"""Small helpers for tests that talk to a local cluster as a particular identity (stdlib HTTP)."""

from __future__ import annotations

import json
import secrets
import ssl
import string
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
