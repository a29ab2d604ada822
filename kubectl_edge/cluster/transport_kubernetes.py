"""The generated client's transport: for kubeconfigs only its loader implements.

``exec`` credential plugins, ``auth-provider``, ``proxy-url`` and a proxy in the environment go through
``kubernetes.client.ApiClient``, built by the client's kubeconfig loader. The package is imported only
here and only when such a kubeconfig is met (its import costs about 0.3 s).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubectl_edge.cluster.kubeconfig import ResolvedConfig


@dataclass
class ClientTransport:
    """Requests through ``kubernetes.client.ApiClient``, sent with kubectl-edge's ``user_agent``."""

    api: Any  # kubernetes.client.ApiClient
    user_agent: str

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
        api.user_agent = self.user_agent
        return ClientTransport(api, self.user_agent)

    def close(self) -> None:
        """Close the client's connection pool."""
        self.api.close()


def client_transport(resolved: ResolvedConfig, user_agent: str) -> ClientTransport:
    """The generated client's loader and transport for this kubeconfig.

    Raises:
        Exception: The loader's ConfigException or a plain ValueError/OSError for a kubeconfig it cannot use.
    """
    from kubernetes import config as kube_config

    api = kube_config.new_client_from_config_dict(resolved.config, context=resolved.context_name,
                                                  persist_config=False)
    api.user_agent = user_agent
    # One try per request: an unreachable server is reported at once, not after urllib3's retries.
    api.configuration.retries = 0
    return ClientTransport(api, user_agent)
