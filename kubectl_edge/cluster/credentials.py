"""A kubeconfig user's static credentials, read as the generated client's loader reads them.

Client certificate and key (files or inline data), a bearer token (inline or ``tokenFile``), username and
password. Credentials only the generated client implements (``exec`` plugins, ``auth-provider``) and
proxies make :func:`needs_generated_client` true: such kubeconfigs go through its transport.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from pathlib import Path
from typing import Any

from kubectl_edge.cluster.kubeconfig import decode_data

# Credentials only the generated client's loader implements; a kubeconfig user with one of them uses it.
_LOADER_ONLY_USER_KEYS = ("exec", "auth-provider")


def load_client_certificate(context: ssl.SSLContext, user: dict[str, Any]) -> None:
    """Give ``context`` the user's client certificate and key, from files or inline data (the data is
    written to a private scratch directory, as ``ssl`` loads only files).

    Raises:
        ValueError, OSError, ssl.SSLError: A certificate or key cannot be read or does not fit.
    """
    if not any(key in user for key in ("client-certificate", "client-certificate-data")):
        return
    with tempfile.TemporaryDirectory(prefix="kubectl-edge-") as scratch:
        paths = []
        for key in ("client-certificate", "client-key"):
            if f"{key}-data" in user:
                path = Path(scratch) / key
                path.touch(mode=0o600)
                path.write_bytes(decode_data(user, f"{key}-data", "user"))
                paths.append(str(path))
            elif key in user:
                paths.append(str(user[key]))
            else:
                raise ValueError(f"the user has a client certificate but no {key}")
        context.load_cert_chain(paths[0], paths[1])


def authorization(user: dict[str, Any]) -> str | None:
    """The Authorization header: token (or tokenFile), else username and password, as the client's loader.

    Raises:
        OSError: The token file cannot be read.
    """
    token = user.get("token") or None
    if not token and user.get("tokenFile"):
        token = Path(str(user["tokenFile"])).read_text().strip()
    if token:
        return f"Bearer {token}"
    if "username" in user and "password" in user:
        pair = f"{user['username']}:{user['password']}".encode()
        return "Basic " + base64.b64encode(pair).decode()
    return None


def needs_generated_client(cluster: dict[str, Any], user: dict[str, Any], scheme: str) -> bool:
    """Whether this kubeconfig needs what only the generated client implements (exec, auth-provider, proxies)."""
    if any(key in user for key in _LOADER_ONLY_USER_KEYS) or cluster.get("proxy-url"):
        return True
    # The generated client takes a proxy from the environment (urllib's getproxies) for the server's scheme.
    return any(os.environ.get(name) for variable in (f"{scheme}_proxy", "all_proxy")
               for name in (variable, variable.upper()))
