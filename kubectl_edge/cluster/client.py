"""A connected API client built from kubectl-style options, with kubectl-edge's identity."""

from __future__ import annotations

import json
import logging
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kubectl_edge import __version__
from kubectl_edge.cluster.errors import translate
from kubectl_edge.cluster.kubeconfig import ConnectionOverrides, ResolvedConfig, load

log = logging.getLogger(__name__)

#: Audit logs and server metrics identify the plugin by this agent.
USER_AGENT = f"kubectl-edge/{__version__} ({platform.system().lower()}/{platform.machine().lower()})"
FIELD_MANAGER = "kubectl-edge"


@dataclass
class Cluster:
    """An open connection: the kubeconfig that was resolved and the client built from it."""

    resolved: ResolvedConfig
    api: Any  # kubernetes.client.ApiClient
    request_timeout: float | None

    @property
    def server(self) -> str:
        """The API server URL the client talks to."""
        return self.resolved.server

    def server_version(self) -> dict[str, Any]:
        """The API server's ``/version`` document."""
        from kubernetes import client

        try:
            response = client.VersionApi(self.api).get_code(
                _preload_content=False, _request_timeout=self.request_timeout
            )
        except Exception as exc:
            raise translate(exc, self.server) from exc
        document: dict[str, Any] = json.loads(response.data)  # type: ignore[attr-defined]
        return document


@contextmanager
def connect(overrides: ConnectionOverrides, request_timeout: float | None = None) -> Iterator[Cluster]:
    """Open a client for the cluster the kubectl-style options select; close it afterwards."""
    resolved = load(overrides)
    from kubernetes import config as kube_config

    try:
        api = kube_config.new_client_from_config_dict(
            resolved.config, context=resolved.context_name, persist_config=False
        )
    except Exception as exc:  # the loader raises ConfigException and plain ValueErrors alike
        from kubectl_edge.errors import ConfigError

        raise ConfigError(f"cannot use the kubeconfig context {resolved.context_name}: {exc}",
                          "fix the kubeconfig entries of that context") from exc
    api.user_agent = USER_AGENT
    # One try per request: an unreachable server is reported at once, not after urllib3's retries.
    api.configuration.retries = 0
    log.debug("using context %s, server %s", resolved.context_name, resolved.server)
    try:
        yield Cluster(resolved=resolved, api=api, request_timeout=request_timeout)
    finally:
        api.close()
