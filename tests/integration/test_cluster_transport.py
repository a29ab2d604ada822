"""The cluster layer's two transports against a real API server: every kind of kubeconfig credential works.

Static credentials (client certificate as data or files, bearer token, token file, none) go over the
standard-library transport; ``exec`` plugins and proxies go through the generated client. Each case asks
the API server who it is (SelfSubjectReview), so the identity really is the kubeconfig's. The proxy is a
small HTTP CONNECT proxy on loopback that records where it was asked to connect.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from certkit import self_signed_ca_pem
from clusterkit import Forwarder, admin_request, random_token

from kubectl_edge.cluster.client import connect
from kubectl_edge.cluster.kubeconfig import ConnectionOverrides
from kubectl_edge.cluster.transport_http import DirectTransport
from kubectl_edge.cluster.transport_kubernetes import ClientTransport
from kubectl_edge.errors import ClusterUnreachable, ConfigError, Forbidden, Unauthorized

SECRETS = "/api/v1/namespaces/kube-system/secrets"
WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


@pytest.fixture(scope="module")
def token(bare_cluster: Any) -> Iterator[str]:
    """A bootstrap token (authenticates as system:bootstrap:<id>), deleted afterwards."""
    token_id, secret = random_token()
    expiration = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    body = {"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
            "metadata": {"name": f"bootstrap-token-{token_id}", "namespace": "kube-system"},
            "stringData": {"token-id": token_id, "token-secret": secret, "expiration": expiration,
                           "usage-bootstrap-authentication": "true"}}
    assert admin_request(bare_cluster, SECRETS, method="POST", body=body).status == 201
    yield f"{token_id}.{secret}"
    admin_request(bare_cluster, f"{SECRETS}/bootstrap-token-{token_id}", method="DELETE")


def _admin_config(cluster: Any) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(Path(cluster.kubeconfig).read_text())
    return config


def _with(cluster: Any, tmp_path: Path, user: dict[str, Any], **cluster_fields: Any) -> str:
    """The admin kubeconfig with another user entry (and cluster fields changed); its path."""
    config = _admin_config(cluster)
    config["users"][0]["user"] = user
    config["clusters"][0]["cluster"].update(cluster_fields)
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(config))
    return str(path)


def _whoami(kubeconfig: str) -> tuple[str, type]:
    with connect(ConnectionOverrides(kubeconfig=kubeconfig), request_timeout=15) as cluster:
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        answer = cluster.request("POST", WHOAMI, body=review)
        return str(answer["status"]["userInfo"]["username"]), type(cluster.api)


def test_client_certificate_as_data_and_as_files(bare_cluster: Any, tmp_path: Path) -> None:
    assert _whoami(bare_cluster.kubeconfig) == ("kubernetes-admin", DirectTransport)
    user = _admin_config(bare_cluster)["users"][0]["user"]
    (tmp_path / "admin.crt").write_bytes(base64.b64decode(user["client-certificate-data"]))
    (tmp_path / "admin.key").write_bytes(base64.b64decode(user["client-key-data"]))
    files = _with(bare_cluster, tmp_path, {"client-certificate": "admin.crt", "client-key": "admin.key"},
                  **{"certificate-authority": bare_cluster.ca_cert, "certificate-authority-data": ""})
    assert _whoami(files) == ("kubernetes-admin", DirectTransport)
    # Data wrapped at 76 columns, as base64(1) writes it (Go's decoder skips the line breaks).
    wrapped = {key: "\n".join(value[i:i + 76] for i in range(0, len(value), 76)) for key, value in user.items()
               if key.endswith("-data")}
    assert all("\n" in value for value in wrapped.values())
    assert _whoami(_with(bare_cluster, tmp_path, wrapped)) == ("kubernetes-admin", DirectTransport)


def test_bearer_token_and_token_file(bare_cluster: Any, tmp_path: Path, token: str) -> None:
    expected = f"system:bootstrap:{token.split('.')[0]}"
    assert _whoami(_with(bare_cluster, tmp_path, {"token": token})) == (expected, DirectTransport)
    (tmp_path / "token").write_text(token + "\n")
    assert _whoami(_with(bare_cluster, tmp_path, {"tokenFile": "token"})) == (expected, DirectTransport)


def test_no_credentials_is_anonymous_and_a_wrong_token_is_refused(bare_cluster: Any, tmp_path: Path) -> None:
    # The server names the identity in its refusal: anonymous users may not ask who they are.
    with pytest.raises(Forbidden, match='User "system:anonymous"'):
        _whoami(_with(bare_cluster, tmp_path, {}))
    with pytest.raises(Unauthorized):
        _whoami(_with(bare_cluster, tmp_path, {"token": "abcdef.0123456789abcdef"}))


def test_exec_plugin_goes_through_the_generated_client(bare_cluster: Any, tmp_path: Path, token: str) -> None:
    credential = {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {"token": token}}
    plugin = tmp_path / "credential.py"
    plugin.write_text(f"import json\nprint(json.dumps({credential!r}))\n")
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                     "args": [str(plugin)], "interactiveMode": "Never"}}
    assert _whoami(_with(bare_cluster, tmp_path, user)) == (f"system:bootstrap:{token.split('.')[0]}",
                                                            ClientTransport)


class ConnectProxy:
    """An HTTP CONNECT proxy on 127.0.0.1 that tunnels to loopback only and records each CONNECT target."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._sockets: list[socket.socket] = [self._listener]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        self._sockets.append(client)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                client.close()
                return
            head += chunk
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
        host, _, port = target.rpartition(":")
        if method != "CONNECT" or host != "127.0.0.1":
            client.sendall(b"HTTP/1.1 403 Forbidden\r\n\r\n")
            client.close()
            return
        self.targets.append(target)
        upstream = socket.create_connection((host, int(port)), timeout=10)
        upstream.settimeout(None)
        self._sockets.append(upstream)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """Stop listening (the shutdown wakes the blocked accept, so the port is free) and end every tunnel."""
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ConnectProxy]:
    """A CONNECT proxy, named by HTTPS_PROXY as the only proxy setting of the environment."""
    for name in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    running = ConnectProxy()
    monkeypatch.setenv("HTTPS_PROXY", running.url)
    yield running
    running.close()


def test_an_https_proxy_in_the_environment_carries_the_generated_clients_requests(
        bare_cluster: Any, tmp_path: Path, token: str, proxy: ConnectProxy) -> None:
    server = f"127.0.0.1:{bare_cluster.api_port}"
    assert _whoami(bare_cluster.kubeconfig) == ("kubernetes-admin", ClientTransport)
    assert proxy.targets and set(proxy.targets) == {server}, "the request should have been tunnelled to the server"
    # Another identity of the same connection goes the same way.
    with connect(ConnectionOverrides(kubeconfig=bare_cluster.kubeconfig), request_timeout=15) as cluster:
        tunnels = len(proxy.targets)
        with cluster.as_identity(token) as as_token:
            answer = as_token.request("POST", WHOAMI, body={"apiVersion": "authentication.k8s.io/v1",
                                                            "kind": "SelfSubjectReview"})
        assert answer["status"]["userInfo"]["username"] == f"system:bootstrap:{token.split('.')[0]}"
        assert len(proxy.targets) > tunnels
    # Wrong credentials through the proxy: the API server's refusal, as over the direct transport.
    with pytest.raises(Unauthorized, match="Unauthorized"):
        _whoami(_with(bare_cluster, tmp_path, {"token": "abcdef.0123456789abcdef"}))


def test_no_proxy_bypasses_the_proxy_and_a_dead_proxy_is_unreachable(
        bare_cluster: Any, proxy: ConnectProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert _whoami(bare_cluster.kubeconfig) == ("kubernetes-admin", ClientTransport)
    assert proxy.targets == []
    monkeypatch.delenv("NO_PROXY")
    proxy.close()  # nothing listens at the proxy's address any more
    with pytest.raises(ClusterUnreachable, match="cannot reach the API server"):
        _whoami(bare_cluster.kubeconfig)
    assert proxy.targets == []


def test_tls_server_name_and_insecure_skip_verify(bare_cluster: Any, tmp_path: Path) -> None:
    user = _admin_config(bare_cluster)["users"][0]["user"]
    named = _with(bare_cluster, tmp_path, user, **{"tls-server-name": "kubernetes.default"})
    assert _whoami(named)[0] == "kubernetes-admin"
    wrong = _with(bare_cluster, tmp_path, user, **{"tls-server-name": "not-the-server.example"})
    with pytest.raises(ClusterUnreachable, match="certificate"):
        _whoami(wrong)
    other_ca = _with(bare_cluster, tmp_path, user, **{
        "certificate-authority-data": base64.b64encode(self_signed_ca_pem("another CA").encode()).decode()})
    with pytest.raises(ClusterUnreachable, match="certificate verify failed"):
        _whoami(other_ca)
    insecure = _with(bare_cluster, tmp_path, user, **{"certificate-authority-data": "",
                                                      "insecure-skip-tls-verify": True})
    assert _whoami(insecure)[0] == "kubernetes-admin"


def test_one_kept_connection_reopened_after_the_server_closed_it(bare_cluster: Any, tmp_path: Path) -> None:
    user = _admin_config(bare_cluster)["users"][0]["user"]
    with Forwarder("127.0.0.1", bare_cluster.api_port) as forwarder:
        kubeconfig = _with(bare_cluster, tmp_path, user, server=f"https://{forwarder.address}",
                           **{"tls-server-name": "kubernetes.default"})
        with connect(ConnectionOverrides(kubeconfig=kubeconfig), request_timeout=15) as cluster:
            for _ in range(3):
                assert cluster.server_version()["gitVersion"]
            assert forwarder.connections == 1, "the requests should share one kept-alive connection"
            forwarder.drop_connections()
            assert cluster.server_version()["gitVersion"]
            assert forwarder.connections == 2


def test_unreadable_credentials_are_a_config_error(bare_cluster: Any, tmp_path: Path) -> None:
    missing = _with(bare_cluster, tmp_path, {"client-certificate": "nowhere.crt", "client-key": "nowhere.key"})
    with pytest.raises(ConfigError, match="cannot use the kubeconfig context"):
        _whoami(missing)
    # The CA is read by the same reader as --ca-cert's: its errors name the file and the context.
    user = _admin_config(bare_cluster)["users"][0]["user"]
    no_ca_file = _with(bare_cluster, tmp_path, user, **{"certificate-authority": str(tmp_path / "gone.crt"),
                                                        "certificate-authority-data": ""})
    with pytest.raises(ConfigError, match=r"cannot read the CA certificate file .*gone\.crt of the kubeconfig"):
        _whoami(no_ca_file)
    not_pem = _with(bare_cluster, tmp_path, user, **{"certificate-authority-data": base64.b64encode(b"junk").decode()})
    with pytest.raises(ConfigError, match="the CA certificate from the kubeconfig is not a PEM certificate"):
        _whoami(not_pem)
