"""The cluster layer's two transports against a real API server: every kind of kubeconfig credential works.

Static credentials (client certificate as data or files, bearer token, token file, none) go over the
standard-library transport; ``exec`` plugins and proxies go through the generated client. Each case asks
the API server who it is (SelfSubjectReview), so the identity really is the kubeconfig's.
"""

from __future__ import annotations

import base64
import datetime
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clusterkit import Forwarder, admin_request, random_token

from kubectl_edge.cluster.client import ClientTransport, DirectTransport, connect
from kubectl_edge.cluster.kubeconfig import ConnectionOverrides
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


def test_an_https_proxy_in_the_environment_goes_through_the_generated_client(
        bare_cluster: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with connect(ConnectionOverrides(kubeconfig=bare_cluster.kubeconfig)) as cluster:
        assert isinstance(cluster.api, ClientTransport)


def test_tls_server_name_and_insecure_skip_verify(bare_cluster: Any, tmp_path: Path) -> None:
    user = _admin_config(bare_cluster)["users"][0]["user"]
    named = _with(bare_cluster, tmp_path, user, **{"tls-server-name": "kubernetes.default"})
    assert _whoami(named)[0] == "kubernetes-admin"
    wrong = _with(bare_cluster, tmp_path, user, **{"tls-server-name": "not-the-server.example"})
    with pytest.raises(ClusterUnreachable, match="certificate"):
        _whoami(wrong)
    other_ca = _with(bare_cluster, tmp_path, user, **{
        "certificate-authority-data": base64.b64encode(_other_ca()).decode()})
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


def _other_ca() -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "another CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now)
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    return certificate.public_bytes(serialization.Encoding.PEM)
