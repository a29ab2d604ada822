"""kubectl edge token create|list|delete against real control planes, with and without the bootstrap signer.

Discovery is checked the way kubeadm's join does it, written here independently of the code under test:
fetch cluster-info anonymously, recompute the detached JWS (HS256 keyed with the token secret over the
kubeconfig, header {"alg":"HS256","kid":"<id>"}) and compare, then compare the CA inside with the pin.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from clusterkit import (
    Forwarder,
    admin_request,
    audit_mark,
    persisted_writes_since,
    random_token,
    run_plugin,
    succeeded,
    wait_for,
)
from clusterkit import request as http_request

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hack"))
import localcluster

CLUSTER_INFO = "/api/v1/namespaces/kube-public/configmaps/cluster-info"
SECRETS = "/api/v1/namespaces/kube-system/secrets"
DEFAULT_GROUP = "system:bootstrappers:kubeadm:default-node-token"
TOKEN_RE = re.compile(r"[a-z0-9]{6}\.[a-z0-9]{16}")


# --- clusters of this module's own: addon and these tests change cluster-wide objects ----------------------

def _own_cluster(tmp_path_factory: pytest.TempPathFactory, name: str, flavour: str, signer: bool, addon: bool
                 ) -> Iterator[localcluster.LocalCluster]:
    root = tmp_path_factory.mktemp(name)
    cluster = localcluster.start(root, flavour=flavour, signer=signer)
    try:
        if addon:
            succeeded(run_plugin(cluster.kubeconfig, "addon"))
        yield cluster
    finally:
        localcluster.stop(root)


@pytest.fixture(scope="module")
def signing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[localcluster.LocalCluster]:
    """A bare cluster after addon; the controller manager signs and cleans."""
    yield from _own_cluster(tmp_path_factory, "token-signing", "bare", True, addon=True)


@pytest.fixture(scope="module")
def unsigned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[localcluster.LocalCluster]:
    """A bare cluster after addon whose controller manager neither signs nor cleans (addon measured it)."""
    yield from _own_cluster(tmp_path_factory, "token-unsigned", "bare", False, addon=True)


# --- helpers ---------------------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _pin(pem: bytes) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    spki = x509.load_pem_x509_certificate(pem).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(spki).hexdigest()


def kubeadm_discovery(cluster: Any, token: str, pins: list[str]) -> str | None:
    """What kubeadm's token discovery concludes: None when it accepts cluster-info, else why not."""
    token_id, secret = token.split(".")
    answer = http_request(cluster.server, CLUSTER_INFO, ca_file=cluster.ca_cert)  # anonymous, as a node asks
    if answer.status != 200:
        return f"cluster-info answered {answer.status}"
    data = answer.body.get("data") or {}
    signature = data.get(f"jws-kubeconfig-{token_id}")
    if signature is None:
        return "no signature for the token"
    header = _b64url(json.dumps({"alg": "HS256", "kid": token_id}, separators=(",", ":")).encode())
    signing_input = f"{header}.{_b64url(data['kubeconfig'].encode())}".encode()
    expected = f"{header}..{_b64url(hmac.new(secret.encode(), signing_input, hashlib.sha256).digest())}"
    if not hmac.compare_digest(expected, signature):
        return "the signature does not verify"
    ca = base64.b64decode(yaml.safe_load(data["kubeconfig"])["clusters"][0]["cluster"]["certificate-authority-data"])
    if _pin(ca) not in pins:
        return "the CA in cluster-info does not match the pin"
    return None


def _signature(cluster: Any, token_id: str) -> str | None:
    return (admin_request(cluster, CLUSTER_INFO).body.get("data") or {}).get(f"jws-kubeconfig-{token_id}")


def _token_secret(cluster: Any, token_id: str) -> Any:
    return admin_request(cluster, f"{SECRETS}/bootstrap-token-{token_id}")


def _bootstrap_secret_names(cluster: Any) -> set[str]:
    listing = admin_request(cluster, f"{SECRETS}?fieldSelector=type%3Dbootstrap.kubernetes.io%2Ftoken").body
    return {item["metadata"]["name"] for item in listing["items"]}


def _foreign_token(cluster: Any, expiration: str | None = None) -> tuple[str, str]:
    """A token made the way kubeadm makes it: no kubectl-edge labels."""
    token_id, secret = random_token()
    data = {"token-id": token_id, "token-secret": secret, "usage-bootstrap-authentication": "true",
            "usage-bootstrap-signing": "true", "auth-extra-groups": DEFAULT_GROUP}
    if expiration:
        data["expiration"] = expiration
    body = {"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
            "metadata": {"name": f"bootstrap-token-{token_id}", "namespace": "kube-system"}, "stringData": data}
    assert admin_request(cluster, SECRETS, method="POST", body=body).status == 201
    return token_id, secret


def _join_words(line: str) -> dict[str, Any]:
    words = shlex.split(line)
    assert words[:2] == ["./edgeadm", "join"], line
    flags: dict[str, list[str]] = {}
    for flag, value in zip(words[3::2], words[4::2], strict=True):
        flags.setdefault(flag, []).append(value)
    return {"address": words[2], **flags}


def _create_json(cluster: Any, *args: str, kubeconfig: str | None = None) -> dict[str, Any]:
    result = succeeded(run_plugin(kubeconfig or cluster.kubeconfig, "token", "create", "-o", "json", *args))
    document: dict[str, Any] = json.loads(result.stdout)
    document["_stderr"] = result.stderr
    return document


# --- create, list, delete: with the controller manager's signer, and with kubectl-edge's ------------------

@pytest.mark.parametrize("flavour", ["signing", "unsigned"])
def test_create_list_delete_and_kubeadm_discovery(flavour: str, request: pytest.FixtureRequest) -> None:
    cluster = request.getfixturevalue(flavour)
    foreign_id, foreign_secret = _foreign_token(cluster)
    ca_pin = _pin(Path(cluster.ca_cert).read_bytes())

    made = _create_json(cluster, "--ttl", "2h", "--description", "edge site 7", "--print-join-command")
    token = made["token"]
    assert TOKEN_RE.fullmatch(token) and made["id"] == token.split(".")[0]
    expires = datetime.datetime.fromisoformat(made["expires"].replace("Z", "+00:00"))
    expected_expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=2)
    assert abs((expires - expected_expiry).total_seconds()) < 120
    assert made["strategy"] == "direct" and made["address"] == f"127.0.0.1:{cluster.api_port}"
    words = _join_words(made["joinCommand"])
    assert words["address"] == f"127.0.0.1:{cluster.api_port}"
    assert words["--token"] == [token] and words["--discovery-token-ca-cert-hash"] == [ca_pin]
    assert "loopback" in made["_stderr"], "the kubeconfig's loopback server is not an address for edge nodes"

    # Stored as kubeadm stores it, with kubectl-edge's labels.
    stored = _token_secret(cluster, made["id"]).body
    assert stored["type"] == "bootstrap.kubernetes.io/token"
    assert stored["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "kubectl-edge",
                                            "kubectl-edge.io/purpose": "join"}
    data = {key: base64.b64decode(value).decode() for key, value in stored["data"].items()}
    assert data == {"token-id": made["id"], "token-secret": token.split(".")[1], "expiration": made["expires"],
                    "description": "edge site 7", "usage-bootstrap-authentication": "true",
                    "usage-bootstrap-signing": "true", "auth-extra-groups": DEFAULT_GROUP}

    # A node accepts cluster-info for it (kubectl-edge signed at once; the controller manager within moments).
    assert wait_for(lambda: kubeadm_discovery(cluster, token, [ca_pin]) is None, timeout=15), \
        kubeadm_discovery(cluster, token, [ca_pin])
    assert made["signedBy"] == ("controller-manager" if flavour == "signing" else "kubectl-edge")
    review = http_request(cluster.server, "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                          ca_file=cluster.ca_cert, method="POST", token=token,
                          body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert review.body["status"]["userInfo"]["username"] == f"system:bootstrap:{made['id']}"

    # Listed with kubeadm's tokens, in every format, never with a secret.
    secrets = [token.split(".")[1], foreign_secret]
    for output in ("text", "wide", "json", "yaml"):
        listed = succeeded(run_plugin(cluster.kubeconfig, "token", "list", "-o", output))
        assert made["id"] in listed.stdout and foreign_id in listed.stdout, output
        assert not [s for s in secrets if s in listed.stdout + listed.stderr], output
    rows = {item["id"]: item for item in json.loads(
        succeeded(run_plugin(cluster.kubeconfig, "token", "list", "-o", "json")).stdout)["tokens"]}
    assert rows[made["id"]]["description"] == "edge site 7" and rows[made["id"]]["managedBy"] == "kubectl-edge"
    assert rows[made["id"]]["signed"] is True
    assert rows[foreign_id]["managedBy"] is None and rows[foreign_id]["groups"] == [DEFAULT_GROUP]
    wide = succeeded(run_plugin(cluster.kubeconfig, "token", "list", "-o", "wide")).stdout.splitlines()
    assert wide[0].split()[:5] == ["ID", "TTL", "EXPIRES", "USAGES", "DESCRIPTION"]

    # Deleted by the whole token; its signature goes too, so discovery with it fails.
    deleted = succeeded(run_plugin(cluster.kubeconfig, "token", "delete", token))
    assert deleted.stdout == f'bootstrap token "{made["id"]}" deleted\n'
    assert _token_secret(cluster, made["id"]).status == 404
    assert wait_for(lambda: _signature(cluster, made["id"]) is None, timeout=15)
    assert kubeadm_discovery(cluster, token, [ca_pin]) == "no signature for the token"
    assert succeeded(run_plugin(cluster.kubeconfig, "token", "delete", foreign_id)).returncode == 0
    assert _token_secret(cluster, foreign_id).status == 404


def test_without_a_cleaner_expired_tokens_of_kubectl_edge_go_with_the_next_command(unsigned: Any) -> None:
    cluster = unsigned
    past = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    foreign_id, _ = _foreign_token(cluster, expiration=past)
    made = _create_json(cluster, "--ttl", "2s")
    assert _signature(cluster, made["id"]) is not None, "kubectl-edge signed at once"
    time.sleep(3)
    listed = succeeded(run_plugin(cluster.kubeconfig, "token", "list", "-o", "json"))
    assert _token_secret(cluster, made["id"]).status == 404, "the expired token kubectl-edge made is deleted"
    assert _signature(cluster, made["id"]) is None, "with its signature"
    assert f"deleted expired bootstrap token {made['id']}" in listed.stderr
    assert made["id"] not in listed.stdout
    assert _token_secret(cluster, foreign_id).status == 200, "others' tokens are their owners' business"
    admin_request(cluster, f"{SECRETS}/bootstrap-token-{foreign_id}", method="DELETE")


def test_without_a_signer_a_changed_kubeconfig_is_signed_again(unsigned: Any) -> None:
    cluster = unsigned
    pin = _pin(Path(cluster.ca_cert).read_bytes())
    made = _create_json(cluster)
    assert kubeadm_discovery(cluster, made["token"], [pin]) is None
    info = admin_request(cluster, CLUSTER_INFO).body
    original = info["data"]["kubeconfig"]
    info["data"]["kubeconfig"] = original + "# edited by the cluster owner\n"
    assert admin_request(cluster, CLUSTER_INFO, method="PUT", body=info).status == 200
    try:
        assert kubeadm_discovery(cluster, made["token"], [pin]) == "the signature does not verify"
        succeeded(run_plugin(cluster.kubeconfig, "token", "list"))
        assert kubeadm_discovery(cluster, made["token"], [pin]) is None, "signed again over the new kubeconfig"
    finally:
        info = admin_request(cluster, CLUSTER_INFO).body
        info["data"]["kubeconfig"] = original
        assert admin_request(cluster, CLUSTER_INFO, method="PUT", body=info).status == 200
        succeeded(run_plugin(cluster.kubeconfig, "token", "delete", made["id"]))


def test_when_addon_never_measured_the_signer_kubectl_edge_waits_then_signs(tmp_path: Path) -> None:
    with localcluster.running(tmp_path / "cluster", "kubeadm", signer=False) as cluster:
        pin = _pin(Path(cluster.ca_cert).read_bytes())
        started = time.monotonic()
        made = _create_json(cluster, "--print-join-command")
        assert made["signedBy"] == "kubectl-edge"
        assert "does not seem to run" in made["_stderr"] and "kubectl edge addon" in made["_stderr"]
        assert time.monotonic() - started < 30
        assert kubeadm_discovery(cluster, made["token"], [pin]) is None
        succeeded(run_plugin(cluster.kubeconfig, "token", "delete", made["id"]))
        assert _signature(cluster, made["id"]) is None


def test_when_addon_never_measured_a_running_signer_is_left_to_sign(kubeadm_cluster: Any) -> None:
    cluster = kubeadm_cluster
    pin = _pin(Path(cluster.ca_cert).read_bytes())
    made = _create_json(cluster)
    assert made["signedBy"] == "controller-manager" and "[signer]" not in made["_stderr"]
    assert kubeadm_discovery(cluster, made["token"], [pin]) is None
    succeeded(run_plugin(cluster.kubeconfig, "token", "delete", made["id"]))
    assert wait_for(lambda: _signature(cluster, made["id"]) is None, timeout=15)


# --- the address in the join line, checked from here ----------------------------------------------------

def _plugin_resolving(kubeconfig: str, names: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the plugin with extra name-to-address entries in its own resolver, like an /etc/hosts of its own.

    The machine's resolver files are left alone; only names in ``names`` are answered differently.
    """
    prelude = (
        "import socket, sys\n"
        f"names = {names!r}\n"
        "original = socket.getaddrinfo\n"
        "socket.getaddrinfo = lambda host, *a, **k: original(names.get(host, host), *a, **k)\n"
        "from kubectl_edge.cli.app import main\n"
        "main()\n"
    )
    env = {"KUBECONFIG": kubeconfig, "NO_COLOR": "1", "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", prelude, *args], capture_output=True, text=True, env=env, timeout=120)


def test_address_strategies(signing: Any) -> None:
    cluster = signing
    made: list[str] = []
    with Forwarder("127.0.0.1", cluster.api_port, listen_host="127.0.0.2") as nat:
        behind_nat = _create_json(cluster, "--public-address", nat.address)
        made.append(behind_nat["id"])
        assert nat.connections >= 1, "the address was tried through the forwarder"
        assert behind_nat["strategy"] == "hosts-mapping" and behind_nat["addressSource"] == "--public-address"
        assert _join_words(behind_nat["joinCommand"])["address"] == nat.address
        assert "kubernetes.default" in behind_nat["_stderr"]

        text = succeeded(run_plugin(cluster.kubeconfig, "token", "create", "--print-join-command", "--public-address",
                                    nat.address, "--install-pkg-path", "/opt/edge/kube-linux-amd64-v1.37.2.tar.gz"))
        words = _join_words(text.stdout.strip())
        made.append(words["--token"][0].split(".")[0])
        assert words["--install-pkg-path"] == ["/opt/edge/kube-linux-amd64-v1.37.2.tar.gz"]
        assert "(hosts-mapping)" in text.stderr

    direct = _create_json(cluster, "--public-address", f"127.0.0.1:{cluster.api_port}")
    made.append(direct["id"])
    assert direct["strategy"] == "direct" and "loopback" not in direct["_stderr"]

    # Nothing listens: a warning, and the line all the same.
    unreachable_port = localcluster.free_port()
    unverified = _create_json(cluster, "--public-address", f"127.0.0.1:{unreachable_port}")
    made.append(unverified["id"])
    assert unverified["strategy"] == "unverified"
    assert f"cannot reach 127.0.0.1:{unreachable_port}" in unverified["_stderr"]
    assert unverified["joinCommand"].startswith(f"./edgeadm join 127.0.0.1:{unreachable_port} ")

    # A DNS name the certificate does not name cannot be mapped: refused, with the names that are valid.
    before = _bootstrap_secret_names(cluster)
    mark = audit_mark(cluster)
    refused = _plugin_resolving(cluster.kubeconfig, {"api.edge.test": "127.0.0.1"}, "token", "create",
                                "--print-join-command", "--public-address", f"api.edge.test:{cluster.api_port}")
    assert refused.returncode == 3, refused.stderr
    assert "does not name api.edge.test" in refused.stderr
    for valid in ("localhost", "kubernetes.default", "127.0.0.1"):
        assert valid in refused.stderr
    assert refused.stdout == "" and "hint:" in refused.stderr
    assert persisted_writes_since(cluster, mark) == [] and _bootstrap_secret_names(cluster) == before
    # ...while a name the certificate does carry is used directly.
    named = _plugin_resolving(cluster.kubeconfig, {"api.edge.test": "127.0.0.1"}, "token", "create", "-o", "json",
                              "--public-address", f"localhost:{cluster.api_port}")
    assert named.returncode == 0, named.stderr
    made.append(json.loads(named.stdout)["id"])
    assert json.loads(named.stdout)["strategy"] == "direct"

    succeeded(run_plugin(cluster.kubeconfig, "token", "delete", *made))


def test_something_that_is_not_tls_is_refused(signing: Any) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer_in_plain_text() -> None:
        with server:
            connection, _ = server.accept()
            with connection:
                connection.recv(4096)
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=answer_in_plain_text, daemon=True)
    thread.start()
    before = _bootstrap_secret_names(signing)
    result = run_plugin(signing.kubeconfig, "token", "create", "--print-join-command", "--public-address",
                        f"127.0.0.1:{port}")
    thread.join(timeout=10)
    assert result.returncode == 3, result.stderr
    assert "TLS handshake failed" in result.stderr and "not a Kubernetes API server" in result.stderr
    assert _bootstrap_secret_names(signing) == before


def test_remembered_public_address_is_used_and_detach_removes_the_tokens(tmp_path: Path) -> None:
    with localcluster.running(tmp_path / "cluster", "bare") as cluster, \
            Forwarder("127.0.0.1", cluster.api_port, listen_host="127.0.0.2") as nat:
        succeeded(run_plugin(cluster.kubeconfig, "addon", "--public-address", nat.address))
        remembered = _create_json(cluster, "--print-join-command")
        assert remembered["address"] == nat.address and remembered["addressSource"] == "addon"
        assert remembered["strategy"] == "hosts-mapping" and "loopback" not in remembered["_stderr"]
        flagged = _create_json(cluster, "--public-address", f"127.0.0.1:{cluster.api_port}")
        assert flagged["addressSource"] == "--public-address" and flagged["strategy"] == "direct"
        succeeded(run_plugin(cluster.kubeconfig, "detach"))
        for made in (remembered, flagged):
            assert _token_secret(cluster, made["id"]).status == 404, "detach deletes the tokens kubectl-edge made"


# --- the pinned CA must be the one the API server's chain leads to ---------------------------------------

def _other_ca(tmp_path: Path) -> Path:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])  # same name, another key
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    path = tmp_path / "other-ca.crt"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def test_a_pin_that_the_served_chain_does_not_lead_to_is_refused_before_anything_is_made(
        signing: Any, tmp_path: Path) -> None:
    cluster = signing
    other_ca = _other_ca(tmp_path)
    other_pin = _pin(other_ca.read_bytes())
    # The kubeconfig trusts anything (as behind a TLS-inspecting proxy) but names another CA.
    config = json.loads(Path(cluster.kubeconfig).read_text())
    config["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(other_ca.read_bytes()).decode()
    config["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = True
    insecure = tmp_path / "insecure.kubeconfig"
    insecure.write_text(json.dumps(config))

    before = _bootstrap_secret_names(cluster)
    mark = audit_mark(cluster)
    for kubeconfig, args in ((cluster.kubeconfig, ["--ca-cert", str(other_ca)]), (str(insecure), [])):
        for output in (["--print-join-command"], ["-o", "json"]):
            result = run_plugin(kubeconfig, "token", "create", *output, *args)
            assert result.returncode == 3, result.stderr
            assert "does not verify against the CA pinned" in result.stderr and other_pin in result.stderr
            assert "hint: pass --ca-cert" in result.stderr
            assert result.stdout == ""
    assert persisted_writes_since(cluster, mark) == []
    assert _bootstrap_secret_names(cluster) == before


# --- secrets stay out of logs; bad input changes nothing ----------------------------------------------------

def test_the_secret_never_reaches_stderr_at_any_verbosity(signing: Any) -> None:
    cluster = signing
    created = succeeded(run_plugin(cluster.kubeconfig, "token", "create", "-o", "json", "--print-join-command",
                                   "-v=10"))
    token = json.loads(created.stdout)["token"]
    secret = token.split(".")[1]
    assert "GET" in created.stderr or "POST" in created.stderr, "-v=10 logs the requests"
    for args in (["token", "list", "-o", "wide", "-v=10"], ["token", "list", "-o", "yaml", "--v=10"],
                 ["token", "delete", token, "-v=10"]):
        result = succeeded(run_plugin(cluster.kubeconfig, *args))
        assert secret not in result.stderr, args
        if args[1] == "list":
            assert secret not in result.stdout, args
    assert secret not in created.stderr


def test_probe_tokens_of_addon_are_not_listed_as_usable(signing: Any) -> None:
    cluster = signing
    token_id, _ = random_token()
    body = {"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
            "metadata": {"name": f"bootstrap-token-{token_id}", "namespace": "kube-system",
                         "labels": {"app.kubernetes.io/managed-by": "kubectl-edge",
                                    "kubectl-edge.io/purpose": "preflight-probe"}},
            "stringData": {"token-id": token_id, "token-secret": random_token()[1],
                           "usage-bootstrap-authentication": "true", "usage-bootstrap-signing": "true"}}
    assert admin_request(cluster, SECRETS, method="POST", body=body).status == 201
    try:
        listed = succeeded(run_plugin(cluster.kubeconfig, "token", "list", "-o", "json"))
        assert token_id not in listed.stdout
        assert "1 preflight probe token(s)" in listed.stderr
    finally:
        admin_request(cluster, f"{SECRETS}/bootstrap-token-{token_id}", method="DELETE")


@pytest.mark.parametrize(("args", "code", "expected"), [
    (["create", "abcdef.0123"], 2, "its secret (after the '.') has 4 characters"),
    (["create", "--ttl", "1d"], 2, "days are not a unit"),
    (["create", "--groups", "admins"], 2, "must start with 'system:bootstrappers:'"),
    (["create", "--usages", "signing,root"], 2, "invalid token usage 'root'"),
    (["create", "--print-join-command", "--public-address", "http://x:1"], 1, "--public-address: "),
    (["create", "--print-join-command", "--ca-cert", "/nonexistent/ca.crt"], 1, "cannot read --ca-cert"),
    (["create", "--print-join-command", "--install-pkg-path", ""], 2, "the path is empty"),
    (["delete", "abc"], 2, "invalid bootstrap token ID: it has 3 characters, not 6"),
    (["delete"], 2, "Missing argument"),
])
def test_bad_input_is_refused_and_changes_nothing(signing: Any, args: list[str], code: int, expected: str) -> None:
    before = _bootstrap_secret_names(signing)
    mark = audit_mark(signing)
    result = run_plugin(signing.kubeconfig, "token", *args)
    assert result.returncode == code, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert persisted_writes_since(signing, mark) == []
    assert _bootstrap_secret_names(signing) == before


def test_an_existing_token_or_an_unknown_id(signing: Any) -> None:
    cluster = signing
    token_id, secret = random_token()
    succeeded(run_plugin(cluster.kubeconfig, "token", "create", f"{token_id}.{secret}"))
    before = _token_secret(cluster, token_id).body
    again = run_plugin(cluster.kubeconfig, "token", "create", f"{token_id}.{secret}")
    assert again.returncode == 3 and f"a bootstrap token with ID {token_id} exists already" in again.stderr
    assert _token_secret(cluster, token_id).body == before

    unknown = random_token()[0]
    mixed = run_plugin(cluster.kubeconfig, "token", "delete", token_id, unknown)
    assert mixed.returncode == 1
    assert mixed.stdout == f'bootstrap token "{token_id}" deleted\n'
    assert f"bootstrap token(s) not found: {unknown}" in mixed.stderr and "hint:" in mixed.stderr
    assert _token_secret(cluster, token_id).status == 404


def test_the_join_line_carries_the_packages_sha256_and_delete_never_repeats_a_secret(
        signing: Any, tmp_path: Path) -> None:
    cluster = signing
    package = tmp_path / "kube-linux-amd64-v1.37.2.tar.gz"
    package.write_bytes(b"a package's bytes")
    digest = hashlib.sha256(package.read_bytes()).hexdigest()
    text = succeeded(run_plugin(cluster.kubeconfig, "token", "create", "--print-join-command", "--install-pkg-path",
                                str(package)))
    words = _join_words(text.stdout.strip())
    assert words["--install-pkg-path"] == [str(package)] and words["--install-pkg-sha256"] == [digest]
    assert f"has sha256 {digest}; the join line carries it" in text.stderr
    # The line as printed is what edgeadm accepts.
    from edge_protocol.joincommand import parse_join_command

    assert parse_join_command(text.stdout.strip()).install_pkg_sha256 == digest
    token_id = words["--token"][0].split(".")[0]

    # A path that is not a file here (it names the file on the node): no sha256, and a warning that says so.
    elsewhere = succeeded(run_plugin(cluster.kubeconfig, "token", "create", "--print-join-command",
                                     "--install-pkg-path", "/opt/edge/kube-linux-amd64-v1.37.2.tar.gz"))
    assert "--install-pkg-sha256" not in _join_words(elsewhere.stdout.strip())
    assert "is not a file here, so the join line carries no --install-pkg-sha256" in elsewhere.stderr

    # A whole token whose dot was lost: refused before anything is sent, and its secret is not repeated.
    secret = words["--token"][0].split(".")[1]
    mark = audit_mark(cluster)
    refused = run_plugin(cluster.kubeconfig, "token", "delete", token_id + secret)
    assert refused.returncode != 0
    assert secret not in refused.stderr + refused.stdout
    assert "22 characters, not 6" in refused.stderr
    assert persisted_writes_since(cluster, mark) == []
    succeeded(run_plugin(cluster.kubeconfig, "token", "delete", token_id,
                         _join_words(elsewhere.stdout.strip())["--token"][0].split(".")[0]))
