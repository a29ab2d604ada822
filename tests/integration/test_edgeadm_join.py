"""edgeadm join and reset against a real control plane, reached at 127.0.0.2 through a TCP forwarder.

The API server's certificate does not name 127.0.0.2, so join must go through the hosts mapping: the
node root gets ``127.0.0.2 kubernetes.default`` and kubelet's bootstrap kubeconfig says
``https://kubernetes.default:PORT``. The test then does what kubelet's TLS bootstrap does with that file,
written here independently of the installer (cryptography for the CSR, ssl + http.client for requests):
a CSR for ``system:node:<name>``, auto-approved and signed by the controller manager, and the Node
registered with the certificate, carrying SPEC 1's labels.

The zipapp runs under the oldest and the newest CPython on the machine. The cluster is this module's own
(addon and some tests change cluster-wide objects).
"""

from __future__ import annotations

import base64
import datetime
import glob
import hashlib
import http.client
import http.server
import io
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from clusterkit import (
    admin_request,
    audit_mark,
    file_tree,
    kubelet_client_csr,
    persisted_writes_since,
    random_token,
    run_plugin,
    wait_for,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hack"))
import localcluster
from forwarder import Forwarder

PYENV = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions"
CLUSTER_INFO = "/api/v1/namespaces/kube-public/configmaps/cluster-info"
SECRETS = "/api/v1/namespaces/kube-system/secrets"
GROUP = "system:bootstrappers:kubeadm:default-node-token"
HOSTS = b"127.0.0.1 localhost\r\n::1 ip6-localhost ip6-loopback"  # CRLF, no final newline
OLD_KUBELET = b"#!/bin/sh\necho the node's own kubelet\n"
HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
SPEC_LABELS = {"superedge.io/node-edge": "enable", "superedge.io/edge-node": "enable"}


def _python(version: str) -> str:
    found = sorted(glob.glob(str(PYENV / f"{version}.*" / "bin" / "python")))
    if not found:
        pytest.skip(f"no CPython {version} under {PYENV}")
    return found[-1]


OLDEST, NEWEST = "3.8", "3.13"
#: iproute2's ip as edgeadm finds it on PATH: lite-apiserver's unit names it by its absolute path.
IP = shutil.which("ip")


# --- the cluster, the zipapp, the forwarder ------------------------------------------------------------------

@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[localcluster.LocalCluster]:
    """A bare cluster of this module's own, after kubectl edge addon (without its components)."""
    root = tmp_path_factory.mktemp("edgeadm-cluster")
    started = localcluster.start(root, flavour="bare", signer=True)
    try:
        # Only what a kubeadm-style join needs; the edge components (and their edge-info) are not installed.
        result = run_plugin(started.kubeconfig, "addon", "--skip-phases", "components")
        assert result.returncode == 0, result.stderr
        yield started
    finally:
        localcluster.stop(root)


@pytest.fixture(scope="module")
def edgeadm(cluster: localcluster.LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The zipapp as ``kubectl edge installer`` writes it."""
    path = tmp_path_factory.mktemp("edgeadm") / "edgeadm"
    result = run_plugin(cluster.kubeconfig, "installer", "-o", str(path))
    assert result.returncode == 0, result.stderr
    return str(path)


@pytest.fixture(scope="module")
def nat(cluster: localcluster.LocalCluster) -> Iterator[Forwarder]:
    """The API server at 127.0.0.2:<port>, an address its certificate does not name."""
    with Forwarder("127.0.0.1", cluster.api_port, "127.0.0.2") as forwarder:
        yield forwarder


@pytest.fixture(scope="module")
def pin(cluster: localcluster.LocalCluster) -> str:
    """The CA pin, computed here with cryptography."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    certificate = x509.load_pem_x509_certificate(Path(cluster.ca_cert).read_bytes())
    spki = certificate.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(spki).hexdigest()


def _create_token(cluster: localcluster.LocalCluster, signing: bool = True) -> str:
    token_id, secret = random_token()
    expiration = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    data = {"token-id": token_id, "token-secret": secret, "expiration": expiration,
            "usage-bootstrap-authentication": "true", "auth-extra-groups": GROUP}
    if signing:
        data["usage-bootstrap-signing"] = "true"
    body = {"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
            "metadata": {"name": f"bootstrap-token-{token_id}", "namespace": "kube-system"}, "stringData": data}
    assert admin_request(cluster, SECRETS, method="POST", body=body).status == 201
    if signing:
        assert wait_for(lambda: f"jws-kubeconfig-{token_id}" in _cluster_info(cluster), 30), "the signer did not sign"
    return f"{token_id}.{secret}"


def _delete_token(cluster: localcluster.LocalCluster, token: str) -> None:
    admin_request(cluster, f"{SECRETS}/bootstrap-token-{token.split('.')[0]}", method="DELETE")


def _cluster_info(cluster: localcluster.LocalCluster) -> dict[str, str]:
    return dict(admin_request(cluster, CLUSTER_INFO).body.get("data") or {})


@pytest.fixture(scope="module")
def token(cluster: localcluster.LocalCluster) -> Iterator[str]:
    """A signed bootstrap token for this module's joins."""
    value = _create_token(cluster)
    yield value
    _delete_token(cluster, value)


@pytest.fixture(scope="module")
def server_version(cluster: localcluster.LocalCluster) -> str:
    """The cluster's gitVersion."""
    return str(admin_request(cluster, "/version").body["gitVersion"])


@pytest.fixture(scope="module")
def package(cluster: localcluster.LocalCluster, server_version: str, tmp_path_factory: pytest.TempPathFactory
            ) -> Path:
    """An install package made by kubectl edge package build: a stand-in kubelet, two CNI plugins, lite-apiserver."""
    work = tmp_path_factory.mktemp("package")
    kubelet = work / "kubelet"
    kubelet.write_text(f"#!/bin/sh\necho 'Kubernetes {server_version}'\n")
    kubelet.chmod(0o755)
    (work / "cni").mkdir()
    (work / "cni" / "bridge").write_bytes(b"bridge plugin")
    (work / "cni" / "host-local").write_bytes(b"host-local plugin")
    (work / "lite-apiserver").write_bytes(b"lite-apiserver stand-in")
    result = run_plugin(cluster.kubeconfig, "package", "build", "--kubelet", str(kubelet), "--cni",
                        str(work / "cni"), "--lite-apiserver", str(work / "lite-apiserver"), "--arch", HOST_ARCH,
                        "-o", str(work))
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.splitlines()[0])


# --- the node root -------------------------------------------------------------------------------------------



@pytest.fixture
def node(tmp_path: Path) -> Path:
    """A node root: an /etc/hosts with unusual content and a kubelet the package replaces."""
    root = tmp_path / "node"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "hosts").write_bytes(HOSTS)
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "bin" / "kubelet").write_bytes(OLD_KUBELET)
    os.chmod(root / "usr" / "bin" / "kubelet", 0o700)
    return root


def _node_name() -> str:
    return "edge-" + random_token()[0]


def _edgeadm(python: str, edgeadm: str, *args: str, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, edgeadm, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def _join_args(nat: Forwarder, token: str, pin: str, root: Path, *extra: str) -> list[str]:
    return ["join", nat.address, "--token", token, "--discovery-token-ca-cert-hash", pin, "--root", str(root),
            "--skip-phases", "start", *extra]


def _reset(python: str, edgeadm: str, root: Path) -> None:
    result = _edgeadm(python, edgeadm, "reset", "--root", str(root), "--force")
    assert result.returncode == 0, result.stderr


# --- kubelet's TLS bootstrap, done by the test --------------------------------------------------------------

def _tls(host: str, port: int, server_name: str, ca_file: Path, path: str, method: str = "GET",
         body: Any = None, token: str | None = None, client_cert: tuple[Path, Path] | None = None
         ) -> tuple[int, Any]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(ca_file))
    if client_cert:
        context.load_cert_chain(str(client_cert[0]), str(client_cert[1]))
    raw = socket.create_connection((host, port), timeout=15)
    connection = http.client.HTTPConnection(host, port, timeout=15)
    connection.sock = context.wrap_socket(raw, server_hostname=server_name)
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, json.loads(data) if data else None


def _bootstrap_and_register(node_root: Path, cluster: localcluster.LocalCluster, name: str,
                            labels: dict[str, str]) -> dict[str, Any]:
    """TLS bootstrap as kubelet does it with bootstrap-kubelet.conf, then register the Node."""
    from cryptography.hazmat.primitives import serialization

    config = yaml.safe_load((node_root / "etc/kubernetes/bootstrap-kubelet.conf").read_text())
    server = config["clusters"][0]["cluster"]["server"]
    match = re.fullmatch(r"https://kubernetes\.default:(\d+)", server)
    assert match, server
    port = int(match.group(1))
    hosts = (node_root / "etc/hosts").read_text()
    address = re.search(r"^(\S+)\s+kubernetes\.default$", hosts, re.M).group(1)  # type: ignore[union-attr]
    ca_file = node_root / "etc/kubernetes/pki/ca.crt"
    bearer = config["users"][0]["user"]["token"]

    body, csr_name, key = kubelet_client_csr(name)
    csr_path = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
    status, created = _tls(address, port, "kubernetes.default", ca_file, csr_path, "POST", body, token=bearer)
    assert status == 201, created

    def signed() -> str | None:
        _, current = _tls(address, port, "kubernetes.default", ca_file, f"{csr_path}/{csr_name}", token=bearer)
        return (current.get("status") or {}).get("certificate")

    certificate = wait_for(signed, 60)
    assert certificate, "the CSR was not approved and signed"
    cert_file = node_root / "client.crt"
    key_file = node_root / "client.key"
    cert_file.write_bytes(base64.b64decode(certificate))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    node_body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}
    status, registered = _tls(address, port, "kubernetes.default", ca_file, "/api/v1/nodes", "POST", node_body,
                              client_cert=(cert_file, key_file))
    cert_file.unlink()
    key_file.unlink()
    admin_request(cluster, f"{csr_path}/{csr_name}", method="DELETE")
    assert status == 201, registered
    return dict(registered)


def _flags(node_root: Path) -> list[str]:
    text = (node_root / "var/lib/kubelet/kubeadm-flags.env").read_text()
    match = re.fullmatch(r'KUBELET_KUBEADM_ARGS="(.*)"\n', text)
    assert match, text
    return shlex.split(match.group(1))


# --- join, TLS bootstrap, reset --------------------------------------------------------------------------------

@pytest.mark.parametrize("version", [OLDEST, NEWEST])
def test_join_writes_what_kubelet_needs_and_reset_restores_the_node(
        version: str, cluster: localcluster.LocalCluster, edgeadm: str, nat: Forwarder, token: str, pin: str,
        package: Path, node: Path) -> None:
    python = _python(version)
    before = file_tree(node)
    name = _node_name()
    result = _edgeadm(python, edgeadm, *_join_args(nat, token, pin, node, "--node-name", name,
                                                   "--install-pkg-path", str(package)))
    assert result.returncode == 0, result.stderr
    assert "edge autonomy is off: the cluster has no edge-system/edge-info" in result.stderr
    assert "kubelet was not started (phase start skipped)" in result.stdout

    hosts = (node / "etc/hosts").read_bytes()
    assert hosts.startswith(HOSTS + b"\n")
    assert b"\n127.0.0.2 kubernetes.default\n" in hosts

    bootstrap = node / "etc/kubernetes/bootstrap-kubelet.conf"
    assert stat.S_IMODE(bootstrap.stat().st_mode) == 0o600
    config = yaml.safe_load(bootstrap.read_text())
    assert config["clusters"][0]["cluster"]["server"] == f"https://kubernetes.default:{nat.port}"
    assert base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]) == \
        Path(cluster.ca_cert).read_bytes()
    assert config["users"][0]["user"]["token"] == token
    assert (node / "etc/kubernetes/pki/ca.crt").read_bytes() == Path(cluster.ca_cert).read_bytes()

    kubelet_config = admin_request(cluster, "/api/v1/namespaces/kube-system/configmaps/kubelet-config").body
    assert (node / "var/lib/kubelet/config.yaml").read_text() == kubelet_config["data"]["kubelet"]

    flags = _flags(node)
    assert "--container-runtime-endpoint=unix:///run/containerd/containerd.sock" in flags
    assert f"--hostname-override={name}" in flags
    label_flag = next(flag for flag in flags if flag.startswith("--node-labels="))
    labels = dict(item.split("=", 1) for item in label_flag.split("=", 1)[1].split(","))
    assert labels == {**SPEC_LABELS, "superedge.io.hostname": name}

    unit = (node / "etc/systemd/system/kubelet.service").read_text()
    drop_in = (node / "etc/systemd/system/kubelet.service.d/10-kubeadm.conf").read_text()
    assert "ExecStart=/usr/bin/kubelet" in unit
    assert "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf" in drop_in
    assert "EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env" in drop_in

    assert (node / "usr/bin/kubelet").read_bytes() != OLD_KUBELET
    assert stat.S_IMODE((node / "usr/bin/kubelet").stat().st_mode) == 0o755
    assert (node / "opt/cni/bin/bridge").read_bytes() == b"bridge plugin"
    assert stat.S_IMODE((node / "var/lib/edgeadm/journal.json").stat().st_mode) == 0o600

    registered = _bootstrap_and_register(node, cluster, name, labels)
    try:
        assert {k: registered["metadata"]["labels"].get(k) for k in labels} == labels
        live = admin_request(cluster, f"/api/v1/nodes/{name}").body
        assert live["metadata"]["labels"]["superedge.io.hostname"] == name
    finally:
        admin_request(cluster, f"/api/v1/nodes/{name}", method="DELETE")

    _reset(python, edgeadm, node)
    assert file_tree(node) == before


def test_a_join_killed_at_each_action_is_undone_by_reset(
        edgeadm: str, nat: Forwarder, token: str, pin: str, package: Path, node: Path) -> None:
    python = _python(OLDEST)
    before = file_tree(node)
    args = _join_args(nat, token, pin, node, "--install-pkg-path", str(package))
    assert _edgeadm(python, edgeadm, *args).returncode == 0
    journal = json.loads((node / "var/lib/edgeadm/journal.json").read_text())
    phases = [entry["phase"] for entry in journal["actions"]]
    assert {"hosts", "package", "kubelet"} <= set(phases)
    _reset(python, edgeadm, node)
    assert file_tree(node) == before
    killed_in = set()
    for k in range(1, len(phases) + 1):
        result = _edgeadm(python, edgeadm, *args, env={"EDGEADM_FAULT_KILL_AFTER_ACTIONS": str(k)})
        assert result.returncode == -signal.SIGKILL, (k, result.stderr)
        killed_in.add(json.loads((node / "var/lib/edgeadm/journal.json").read_text())["actions"][-1]["phase"])
        _reset(python, edgeadm, node)
        assert file_tree(node) == before, f"the node differs after a join killed after action {k} ({phases[k - 1]})"
    assert killed_in == set(phases)

    # A reset killed half-way finishes on the next run.
    assert _edgeadm(python, edgeadm, *args).returncode == 0
    half = _edgeadm(python, edgeadm, "reset", "--root", str(node), "--force",
                    env={"EDGEADM_FAULT_KILL_AFTER_UNDOS": str(len(phases) // 2)})
    assert half.returncode == -signal.SIGKILL
    _reset(python, edgeadm, node)
    assert file_tree(node) == before


def test_a_dry_run_prints_the_plan_and_changes_nothing(
        edgeadm: str, nat: Forwarder, token: str, pin: str, package: Path, node: Path) -> None:
    before = file_tree(node)
    result = _edgeadm(sys.executable, edgeadm, *_join_args(nat, token, pin, node, "--install-pkg-path",
                                                           str(package), "--dry-run"))
    assert result.returncode == 0, result.stderr
    assert file_tree(node) == before
    for expected in (f"would add to {node}/etc/hosts", "127.0.0.2 kubernetes.default",
                     f"would replace {node}/usr/bin/kubelet (mode 0755)",
                     f"would write {node}/etc/kubernetes/bootstrap-kubelet.conf (mode 0600)",
                     f"server: https://kubernetes.default:{nat.port}", "would write "):
        assert expected in result.stdout
    assert token.split(".")[1] not in result.stdout + result.stderr


# --- each discovery failure: its own message, nothing changed --------------------------------------------------

@pytest.fixture
def plain_http() -> Iterator[int]:
    """An HTTP (not HTTPS) server on 127.0.0.2."""
    server = http.server.ThreadingHTTPServer(("127.0.0.2", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.2", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("version", [OLDEST, NEWEST])
def test_discovery_failures_have_their_own_messages_and_change_nothing(
        version: str, cluster: localcluster.LocalCluster, edgeadm: str, nat: Forwarder, token: str, pin: str,
        node: Path, plain_http: int) -> None:
    python = _python(version)
    before = file_tree(node)
    token_id = token.split(".")[0]
    wrong_pin = "sha256:" + hashlib.sha256(b"another CA").hexdigest()
    unknown = f"{random_token()[0]}.{random_token()[1]}"
    cases = [
        ("unreachable", [f"127.0.0.2:{_closed_port()}", token, pin], "cannot reach the API server at 127.0.0.2:"),
        ("not kubernetes", [f"127.0.0.2:{plain_http}", token, pin], "is not a Kubernetes API server: it does not "
                                                                     "speak HTTPS"),
        ("token unknown", [nat.address, unknown, pin], f"the token {unknown.split('.')[0]} is unknown to the cluster "
                                                       "or has expired"),
        ("wrong secret", [nat.address, f"{token_id}.{'0' * 16}", pin], f"cluster-info's signature for token "
                                                                       f"{token_id} does not match"),
        ("pin mismatch", [nat.address, token, wrong_pin], f"expected {wrong_pin}, the CA in cluster-info has {pin}"),
    ]
    first_lines = set()
    for what, (endpoint, bearer, ca_pin), message in cases:
        result = _edgeadm(python, edgeadm, "join", endpoint, "--token", bearer, "--discovery-token-ca-cert-hash",
                          ca_pin, "--root", str(node), "--skip-phases", "start")
        assert result.returncode == 3, (what, result.stderr)
        assert message in result.stderr, (what, result.stderr)
        assert "hint: " in result.stderr and "Traceback" not in result.stderr
        first_lines.add(next(line for line in result.stderr.splitlines() if line.startswith("error: ")))
        assert file_tree(node) == before, what
    assert len(first_lines) == len(cases)


def test_anonymous_access_forbidden(cluster: localcluster.LocalCluster, edgeadm: str, nat: Forwarder, token: str,
                                    pin: str, node: Path) -> None:
    before = file_tree(node)
    path = "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-public/rolebindings/kubeadm:bootstrap-signer-clusterinfo"
    saved = admin_request(cluster, path).body
    assert admin_request(cluster, path, method="DELETE").status == 200
    try:
        assert wait_for(lambda: _anonymous_status(cluster) == 403, 30)
        result = _edgeadm(_python(OLDEST), edgeadm, *_join_args(nat, token, pin, node))
    finally:
        metadata = {k: v for k, v in saved["metadata"].items() if k in ("name", "namespace", "labels", "annotations")}
        restored = admin_request(cluster, path.rsplit("/", 1)[0], method="POST", body={**saved, "metadata": metadata})
        assert restored.status == 201
    assert result.returncode == 3
    assert "anonymous access to kube-public/cluster-info is forbidden (403)" in result.stderr
    assert "run kubectl edge addon" in result.stderr
    assert file_tree(node) == before


def _anonymous_status(cluster: localcluster.LocalCluster) -> int:
    context = ssl.create_default_context(cafile=cluster.ca_cert)
    connection = http.client.HTTPSConnection("127.0.0.1", cluster.api_port, context=context, timeout=10)
    connection.request("GET", CLUSTER_INFO)
    status = connection.getresponse().status
    connection.close()
    return status


def test_a_cluster_info_that_no_one_signs(cluster: localcluster.LocalCluster, edgeadm: str, nat: Forwarder,
                                          token: str, pin: str, node: Path) -> None:
    """No signature for any token: the signer is off and nothing else signs (here: a token without signing)."""
    before = file_tree(node)
    listing = admin_request(cluster, SECRETS + "?fieldSelector=type%3Dbootstrap.kubernetes.io%2Ftoken").body
    saved = [item for item in listing["items"]]
    for item in saved:
        admin_request(cluster, f"{SECRETS}/{item['metadata']['name']}", method="DELETE")
    unsigned = _create_token(cluster, signing=False)
    try:
        assert wait_for(lambda: not [k for k in _cluster_info(cluster) if k.startswith("jws-kubeconfig-")], 30)
        result = _edgeadm(_python(NEWEST), edgeadm, *_join_args(nat, unsigned, pin, node))
    finally:
        _delete_token(cluster, unsigned)
        for item in saved:
            body = {"apiVersion": "v1", "kind": "Secret", "type": item["type"], "data": item["data"],
                    "metadata": {"name": item["metadata"]["name"], "namespace": "kube-system"}}
            admin_request(cluster, SECRETS, method="POST", body=body)
        assert wait_for(lambda: f"jws-kubeconfig-{token.split('.')[0]}" in _cluster_info(cluster), 30)
    assert result.returncode == 3
    assert "cluster-info carries no signature for any token" in result.stderr
    assert file_tree(node) == before


def _in_process(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from edge_installer.cli import main

    code = main(args)
    return code, capsys.readouterr().err


def test_a_name_the_certificate_does_not_carry(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                               nat: Forwarder, token: str, pin: str, node: Path) -> None:
    """A DNS name resolving to the API server that its certificate does not name (resolved by the test)."""
    before = file_tree(node)
    real = socket.getaddrinfo

    def resolve(host: Any, *rest: Any, **kwargs: Any) -> Any:
        return real("127.0.0.2" if host == "edge-api.invalid" else host, *rest, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    args = _join_args(nat, token, pin, node)
    code, errors = _in_process(["join", f"edge-api.invalid:{nat.port}", *args[2:]], capsys)
    assert code == 3
    assert "the API server certificate does not name edge-api.invalid (it names: " in errors
    assert "kubernetes.default" in errors and "127.0.0.1" in errors
    assert file_tree(node) == before


def test_clock_skew(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], nat: Forwarder,
                    token: str, pin: str, node: Path) -> None:
    from edge_installer import system

    before = file_tree(node)
    real_now = system.now
    monkeypatch.setattr(system, "now", lambda: real_now() + 3 * 3600)
    code, errors = _in_process(_join_args(nat, token, pin, node), capsys)
    assert code == 3, errors
    assert re.search(r"this node's clock is 108\d\d s ahead of the API server's", errors), errors
    assert "timedatectl set-ntp true" in errors
    assert file_tree(node) == before


# --- bad packages: their own message, nothing changed --------------------------------------------------------

def _rewrite(package: Path, target: Path, change: Any) -> Path:
    """Copy a package, letting ``change(members)`` edit the list of (TarInfo, data) first."""
    members = []
    with tarfile.open(package) as archive:
        for member in archive.getmembers():
            data = archive.extractfile(member).read() if member.isfile() else None  # type: ignore[union-attr]
            members.append((member, data))
    change(members)
    with tarfile.open(target, "w:gz") as archive:
        for member, data in members:
            archive.addfile(member, io.BytesIO(data) if data is not None else None)
    return target


def _entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", data: bytes = b"x") -> tuple[Any, Any]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data if kind == tarfile.REGTYPE else None


def _tamper(members: list[Any]) -> None:
    for index, (member, _) in enumerate(members):
        if member.name == "edge-install/bin/kubelet":
            member.size = len(b"#!/bin/sh\nexit 0\n")
            members[index] = (member, b"#!/bin/sh\nexit 0\n")


def test_bad_packages_have_their_own_messages_and_change_nothing(
        cluster: localcluster.LocalCluster, edgeadm: str, nat: Forwarder, token: str, pin: str, package: Path,
        node: Path, tmp_path: Path, server_version: str) -> None:
    before = file_tree(node)
    other = "arm64" if HOST_ARCH == "amd64" else "amd64"
    stand_in = tmp_path / "kubelet"
    stand_in.write_text("#!/bin/sh\n")
    (tmp_path / "cni").mkdir()
    (tmp_path / "cni" / "bridge").write_bytes(b"b")
    foreign = run_plugin(cluster.kubeconfig, "package", "build", "--kubelet", str(stand_in), "--cni",
                         str(tmp_path / "cni"), "--arch", other, "--kubernetes-version", server_version, "-o",
                         str(tmp_path))
    assert foreign.returncode == 0, foreign.stderr
    cases = [
        ("checksum", _rewrite(package, tmp_path / "tampered.tar.gz", _tamper),
         "checksum mismatch: the install package's edge-install/bin/kubelet has sha256"),
        ("dot-dot", _rewrite(package, tmp_path / "dotdot.tar.gz",
                             lambda m: m.append(_entry("edge-install/../../etc/cron.d/evil"))),
         "climbs out of the target directory with '..'"),
        ("absolute", _rewrite(package, tmp_path / "absolute.tar.gz", lambda m: m.append(_entry("/etc/cron.d/evil"))),
         "has an absolute path"),
        ("link", _rewrite(package, tmp_path / "link.tar.gz", lambda m: m.append(
            _entry("edge-install/bin/shadow", tarfile.SYMTYPE, "../../../etc/shadow"))),
         "is a symbolic link to '../../../etc/shadow', outside the target directory"),
        ("architecture", Path(foreign.stdout.splitlines()[0]),
         f"wrong architecture: the install package is for {other} (says its manifest)"),
    ]
    first_lines = set()
    for what, bad, message in cases:
        result = _edgeadm(_python(OLDEST), edgeadm, *_join_args(nat, token, pin, node, "--install-pkg-path",
                                                                str(bad)))
        assert result.returncode == 3, (what, result.stderr)
        assert message in result.stderr, (what, result.stderr)
        first_lines.add(next(line for line in result.stderr.splitlines() if line.startswith("error: ")))
        assert file_tree(node) == before, what
    assert len(first_lines) == len(cases)


# --- edge autonomy on: a stand-in edge-info in the cluster ----------------------------------------------------

def _lite_certificate(cluster: localcluster.LocalCluster) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    ca_key = serialization.load_pem_private_key(Path(cluster.ca_key).read_bytes(), None)
    ca = x509.load_pem_x509_certificate(Path(cluster.ca_cert).read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                                                        "LiteApiServer")]))
                   .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
                   .sign(ca_key, hashes.SHA256()))  # type: ignore[arg-type]
    return (certificate.public_bytes(serialization.Encoding.PEM).decode(),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode())


@pytest.fixture
def edge_info(cluster: localcluster.LocalCluster) -> Iterator[dict[str, str]]:
    """edge-system/edge-info (the key in a Secret of the same name), readable by the bootstrap group."""
    certificate, key = _lite_certificate(cluster)
    data = {"edge-virtual-addr": "169.254.20.11", "kube-api-ca.crt": Path(cluster.ca_cert).read_text(),
            "lite-apiserver.crt": certificate, "host-config": "198.18.0.5 registry.edge.local\n",
            "node-delay-domain": "delay.example.test\n"}
    rbac = "/apis/rbac.authorization.k8s.io/v1/namespaces/edge-system"
    objects = [
        ("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "edge-system"}}),
        ("/api/v1/namespaces/edge-system/configmaps",
         {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "edge-info"}, "data": data}),
        ("/api/v1/namespaces/edge-system/secrets",
         {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "edge-info"},
          "stringData": {"lite-apiserver.key": key}}),
        (f"{rbac}/roles", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                           "metadata": {"name": "edge-info-reader"},
                           "rules": [{"apiGroups": [""], "resources": ["configmaps", "secrets"],
                                      "resourceNames": ["edge-info"], "verbs": ["get"]}]}),
        (f"{rbac}/rolebindings", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                                  "metadata": {"name": "edge-info-reader"},
                                  "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                              "name": "edge-info-reader"},
                                  "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                                "name": GROUP}]}),
    ]
    for path, body in objects:
        assert admin_request(cluster, path, method="POST", body=body).status == 201, path
    try:
        yield {**data, "lite-apiserver.key": key}
    finally:
        admin_request(cluster, "/api/v1/namespaces/edge-system", method="DELETE")
        wait_for(lambda: admin_request(cluster, "/api/v1/namespaces/edge-system").status == 404, 60)


def test_edge_autonomy_on_with_lite_apiserver(
        cluster: localcluster.LocalCluster, edgeadm: str, nat: Forwarder, token: str, pin: str, package: Path,
        node: Path, edge_info: dict[str, str]) -> None:
    python = _python(NEWEST)
    before = file_tree(node)
    args = _join_args(nat, token, pin, node, "--install-pkg-path", str(package))
    if not _kernel_makes_dummy_interfaces():
        refused = _edgeadm(python, edgeadm, *args)
        seen = f"{refused.stderr}\nthe forwarder's upstream errors: {nat.upstream_errors}"
        assert refused.returncode == 3, seen
        assert "[dummy-interface] edge autonomy needs a dummy network interface (tkeedgedns)" in refused.stderr, seen
        assert "--no-autonomy" in refused.stderr
        assert file_tree(node) == before
        args.append("--ignore-preflight-errors=dummy-interface")
    result = _edgeadm(python, edgeadm, *args)
    assert result.returncode == 0, result.stderr
    assert "edge autonomy is on" in result.stderr
    assert "kubelet gets the feature gate WatchListClient=false: kubelet v1.37.2 can send streaming watch-list " \
           "requests (on by default), which lite-apiserver cannot read" in result.stderr
    assert "--feature-gates=WatchListClient=false" in _flags(node)
    cache = node / "data/lite-apiserver/cache"
    assert cache.is_dir() and stat.S_IMODE(cache.stat().st_mode) == 0o700
    server = yaml.safe_load((node / "etc/kubernetes/bootstrap-kubelet.conf").read_text())["clusters"][0]["cluster"]
    assert server["server"] == "https://169.254.20.11:51003"
    assert "--cluster-dns=169.254.20.11" in _flags(node)
    assert (node / "etc/kubernetes/edge/lite-apiserver.crt").read_text() == edge_info["lite-apiserver.crt"]
    key = node / "etc/kubernetes/edge/lite-apiserver.key"
    assert key.read_text() == edge_info["lite-apiserver.key"] and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (node / "etc/kubernetes/pki/lite-apiserver-ca.crt").read_text() == edge_info["kube-api-ca.crt"]
    assert "kubelet-client-current.pem" in (node / "etc/kubernetes/edge/tls.json").read_text()
    unit = (node / "etc/systemd/system/lite-apiserver.service").read_text()
    for expected in ("ExecStart=/usr/bin/lite-apiserver ", "--kube-apiserver-url=kubernetes.default",
                     f"--kube-apiserver-port={nat.port}", "--address=169.254.20.11", "--port=51003",
                     f"\nExecStartPre=-{IP} link add tkeedgedns type dummy\n"
                     f"ExecStartPre=-{IP} addr add 169.254.20.11/32 dev tkeedgedns\n"
                     f"ExecStartPre={IP} link set tkeedgedns up\n"):
        assert expected in unit
    assert "/bin/sh" not in unit
    assert (node / "usr/bin/lite-apiserver").read_bytes() == b"lite-apiserver stand-in"
    hosts = (node / "etc/hosts").read_text()
    for line in ("127.0.0.2 kubernetes.default", "127.0.0.2 delay.example.test", "198.18.0.5 registry.edge.local"):
        assert f"\n{line}\n" in hosts
    _reset(python, edgeadm, node)
    assert file_tree(node) == before


def _kernel_makes_dummy_interfaces() -> bool:
    """Tried in a network namespace of its own, so this machine's interfaces are never touched."""
    return subprocess.run(["unshare", "--net", "ip", "link", "add", "probe0", "type", "dummy"],
                          capture_output=True).returncode == 0


@pytest.mark.parametrize(("key", "value", "message"), [
    ("edge-virtual-addr", "169.254.20.11; touch /tmp/edgeadm-owned #", "is not an IP address"),
    ("host-config", "198.18.0.5 registry.edge.local\n198.18.0.6 a\x0bb\n", "control character"),
    ("node-delay-domain", "delay.example.test\n`reboot`\n", "is not a DNS name"),
])
def test_a_hostile_edge_info_in_the_cluster_is_refused_and_changes_nothing(
        cluster: localcluster.LocalCluster, edgeadm: str, nat: Forwarder, token: str, pin: str, node: Path,
        edge_info: dict[str, str], key: str, value: str, message: str) -> None:
    """Whoever may write edge-info tries to reach a root shell or the node's files through its values.

    Discovery checks every value whether or not edge autonomy is on, so no package is needed here.
    """
    path = "/api/v1/namespaces/edge-system/configmaps/edge-info"
    current = admin_request(cluster, path).body
    current["data"][key] = value
    assert admin_request(cluster, path, method="PUT", body=current).status == 200
    before = file_tree(node)
    mark = audit_mark(cluster)
    result = _edgeadm(_python(OLDEST), edgeadm, *_join_args(nat, token, pin, node))
    assert result.returncode == 3, result.stderr
    assert f"error: [discovery] edge-system/edge-info key {key} cannot be used" in result.stderr
    assert message in result.stderr and "nothing was changed" in result.stderr
    assert file_tree(node) == before and (node / "etc/hosts").read_bytes() == HOSTS
    assert not os.path.exists("/tmp/edgeadm-owned")
    assert persisted_writes_since(cluster, mark, "edgeadm") == []


# --- the start phase without systemd ---------------------------------------------------------------------------

def test_without_systemctl_the_start_phase_says_so(edgeadm: str, nat: Forwarder, token: str, pin: str,
                                                   node: Path, tmp_path: Path) -> None:
    python = _python(OLDEST)
    before = file_tree(node)
    empty_path = {"PATH": str(tmp_path / "no-programs-here")}
    args = _join_args(nat, token, pin, node)
    full = [arg for arg in args if arg not in ("--skip-phases", "start")]
    refused = _edgeadm(python, edgeadm, *full, env=empty_path)
    assert refused.returncode == 3
    assert "[systemd] systemctl is not available, so the start phase cannot start kubelet" in refused.stderr
    assert file_tree(node) == before
    phase = _edgeadm(python, edgeadm, "join", "phase", "start", *full[1:], env=empty_path)
    assert phase.returncode == 1
    assert "error: [start] systemctl is not available" in phase.stderr
    assert "--skip-phases start" in phase.stderr
    _reset(python, edgeadm, node)
    assert file_tree(node) == before


def test_the_start_phase_goes_through_systemctl_and_reset_undoes_it(
        edgeadm: str, nat: Forwarder, token: str, pin: str, node: Path, tmp_path: Path) -> None:
    """A stand-in systemctl records its calls; kubelet never bootstraps, so start times out (exit 4)."""
    python = _python(OLDEST)
    before = file_tree(node)
    programs = tmp_path / "bin"
    programs.mkdir()
    calls = tmp_path / "systemctl.log"
    (programs / "systemctl").write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    (programs / "systemctl").chmod(0o755)
    args = [arg for arg in _join_args(nat, token, pin, node) if arg not in ("--skip-phases", "start")]
    result = _edgeadm(python, edgeadm, *args, "--timeout", "3", env={"PATH": f"{programs}:{os.environ['PATH']}"})
    assert result.returncode == 4, result.stderr
    assert "timed out after" in result.stderr and "waiting for kubelet's TLS bootstrap" in result.stderr
    assert "journalctl -xeu kubelet" in result.stderr and "edgeadm reset undoes" in result.stderr
    assert calls.read_text().splitlines() == ["daemon-reload", "enable kubelet", "restart kubelet"]
    calls.unlink()
    reset = _edgeadm(python, edgeadm, "reset", "--root", str(node), "--force",
                     env={"PATH": f"{programs}:{os.environ['PATH']}"})
    assert reset.returncode == 0, reset.stderr
    assert calls.read_text().splitlines() == ["stop kubelet", "disable kubelet", "daemon-reload"]
    assert file_tree(node) == before
