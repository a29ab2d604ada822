#!/usr/bin/env python3
"""A real local Kubernetes control plane on loopback: etcd, kube-apiserver, controller manager, scheduler.

    hack/localcluster.py up   --dir DIR [--flavour kubeadm|bare] [--pki shared|split] [--no-signer]
    hack/localcluster.py down --dir DIR
    hack/localcluster.py env  --dir DIR

Fresh PKI is made with ``cryptography`` in DIR/pki; DIR/admin.kubeconfig is a cluster-admin kubeconfig;
write requests are audited to DIR/audit.log. Processes run in their own sessions and are remembered by pid
files in DIR/run, so ``down`` stops exactly them even after the caller died. The test fixtures use this
module too (``start``/``stop``).

Every process (components and kubeadm) runs in a mount namespace of its own whose /etc/resolv.conf and
/etc/hosts are DIR/etc's: the name server is loopback and the hosts file names localhost and the
control-plane node, so no DNS query leaves the machine.

With ``--pki split`` the PKI is laid out as k3s and RKE2 lay it out: a server CA (DIR/pki/ca.crt, the one
kubeconfigs carry) signs the API server's serving certificate, and a separate client CA
(DIR/pki/client-ca.crt) signs every client certificate, the ones the controller manager issues to kubelets
included.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import ipaddress
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_binaries
import build_kubernetes

SERVICE_CIDR = "198.19.0.0/20"
KUBERNETES_SERVICE_IP = "198.19.0.1"
#: The address the API server advertises, so that its endpoint reconciler keeps default/kubernetes' Endpoints and
#: EndpointSlice as on a real cluster (it never advertises loopback). The address sits on a host-side bridge (this
#: kernel has no dummy interfaces); nothing is sent to it: the API server listens on 127.0.0.1 only.
ADVERTISE_ADDRESS = "198.18.255.254"
ADVERTISE_INTERFACE = "kedge-apiadv"


def ensure_advertise_address() -> bool:
    """The bridge ADVERTISE_INTERFACE carrying ADVERTISE_ADDRESS/32, made once for every cluster on this host.

    False when it cannot be made (no CAP_NET_ADMIN): clusters then run without the endpoint reconciler.
    """
    def present() -> bool:
        shown = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", ADVERTISE_INTERFACE], capture_output=True,
                               text=True, check=False)
        return shown.returncode == 0 and f" {ADVERTISE_ADDRESS}/32 " in shown.stdout and "UP" in subprocess.run(
            ["ip", "-o", "link", "show", "dev", ADVERTISE_INTERFACE], capture_output=True, text=True,
            check=False).stdout
    if shutil.which("ip") is None:
        return False
    if present():
        return True
    # Each step may race another cluster's start doing the same; "exists" answers are fine, present() decides.
    for argv in (["ip", "link", "add", ADVERTISE_INTERFACE, "type", "bridge"],
                 ["ip", "addr", "add", f"{ADVERTISE_ADDRESS}/32", "dev", ADVERTISE_INTERFACE],
                 ["ip", "link", "set", ADVERTISE_INTERFACE, "up"]):
        subprocess.run(argv, capture_output=True, check=False)
    return present()


def release_advertise_address() -> None:
    """Delete ADVERTISE_INTERFACE once no API server on this machine advertises its address (a stopped
    cluster leaves nothing on the machine)."""
    flag = f"--advertise-address={ADVERTISE_ADDRESS}".encode()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if flag in cmdline.read_bytes().split(b"\0"):
                return
    if shutil.which("ip") is not None:
        subprocess.run(["ip", "link", "delete", ADVERTISE_INTERFACE], capture_output=True, check=False)


def _advertise_flags() -> list[str]:
    """The API server's advertise address and endpoint reconciler (none where the address cannot be made)."""
    if ensure_advertise_address():
        return [f"--advertise-address={ADVERTISE_ADDRESS}", "--endpoint-reconciler-type=lease"]
    return ["--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none"]
DNS_SERVICE_IP = "198.19.0.10"
POD_CIDR = "198.19.64.0/18"
CLUSTER_DOMAIN = "cluster.local"
CLUSTER_NAME = "kubectl-edge-local"
STATE_FILE = "cluster.json"
READY_TIMEOUT = 120.0
CONTROLLERS = [
    "certificatesigningrequest-approving-controller",
    "certificatesigningrequest-signing-controller",
    "certificatesigningrequest-cleaner-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "root-ca-certificate-publisher-controller",
    "garbage-collector-controller",
    "clusterrole-aggregation-controller",
    # Takes the not-ready taint off a node once its kubelet reports Ready.
    "node-lifecycle-controller",
]
SIGNER_CONTROLLERS = ["bootstrap-signer-controller", "token-cleaner-controller"]
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "Metadata", "verbs": ["create", "update", "patch", "delete", "deletecollection"]},
        {"level": "None"},
    ],
}


class ClusterStartError(RuntimeError):
    """A component did not come up; the message carries the tail of its log."""


@dataclass
class LocalCluster:
    """What a running local cluster offers to tools and tests (saved as DIR/cluster.json)."""

    dir: str
    flavour: str
    signer: bool
    bin_dir: str
    api_port: int
    etcd_port: int
    kcm_port: int
    scheduler_port: int = 0
    bootstrap_token_auth: bool = True
    #: "shared": one CA for everything (kubeadm); "split": a server CA and a client CA (k3s, RKE2)
    pki: str = "shared"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def kubeconfig(self) -> str:
        return str(Path(self.dir) / "admin.kubeconfig")

    @property
    def ca_cert(self) -> str:
        return str(Path(self.dir) / "pki" / "ca.crt")

    @property
    def ca_key(self) -> str:
        return str(Path(self.dir) / "pki" / "ca.key")

    @property
    def client_ca_cert(self) -> str:
        """The CA the API server and kubelets trust for client certificates (``ca_cert`` when not split)."""
        return str(Path(self.dir) / "pki" / ("client-ca.crt" if self.pki == "split" else "ca.crt"))

    @property
    def client_ca_key(self) -> str:
        return str(Path(self.dir) / "pki" / ("client-ca.key" if self.pki == "split" else "ca.key"))

    @property
    def audit_log(self) -> str:
        return str(Path(self.dir) / "audit.log")

    def binary(self, name: str) -> str:
        return str(Path(self.bin_dir) / name)

    def env(self) -> dict[str, str]:
        """Environment for commands aimed at this cluster: KUBECONFIG and the binaries on PATH."""
        env = dict(os.environ)
        env["KUBECONFIG"] = self.kubeconfig
        env["PATH"] = f"{self.tools_dir()}{os.pathsep}{env.get('PATH', '')}"
        return env

    def tools_dir(self) -> str:
        """A directory where ``kubectl``, ``kubeadm``, ``helm`` (v3) and ``helm4`` resolve to our binaries."""
        return str(Path(self.dir) / "tools")

    def kubectl(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run the cluster's kubectl with the admin kubeconfig."""
        return subprocess.run([self.binary("kubectl"), "--kubeconfig", self.kubeconfig, *args],
                              capture_output=True, text=True, check=check, input=input)


# --- PKI -------------------------------------------------------------------------------------------------

def _write(path: Path, data: bytes, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def make_pki(pki: Path, split: bool = False) -> dict[str, bytes]:
    """Create the CA, serving, client and service-account keys; return PEMs for the kubeconfigs.

    With ``split`` the client certificates are signed by a second CA (client-ca.crt), not by ca.crt.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    pem = serialization.Encoding.PEM
    pkcs8 = serialization.PrivateFormat.PKCS8
    none = serialization.NoEncryption()

    def make_ca(name: str, common_name: str) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
        # The CA is RSA, as kubeadm makes it; leaves are P-256 to keep start-up fast.
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        certificate = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write(pki / f"{name}.crt", certificate.public_bytes(pem), 0o644)
        _write(pki / f"{name}.key", key.private_bytes(pem, pkcs8, none))
        return certificate, key

    # k3s names its CAs "k3s-server-ca@..." and "k3s-client-ca@..."; one CA is "kubernetes", as kubeadm's.
    ca_cert, ca_key = make_ca("ca", "kubernetes-server-ca" if split else "kubernetes")
    client_ca_cert, client_ca_key = make_ca("client-ca", "kubernetes-client-ca") if split else (ca_cert, ca_key)

    def leaf(name: str, common_name: str, organisations: list[str], server: bool,
             sans: list[x509.GeneralName] | None = None) -> tuple[bytes, bytes]:
        issuer, issuer_key = (ca_cert, ca_key) if server else (client_ca_cert, client_ca_key)
        issuer_ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        key = ec.generate_private_key(ec.SECP256R1())
        attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organisations]
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder().subject_name(x509.Name(attributes)).issuer_name(issuer.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, key_cert_sign=False,
                                         crl_sign=False, content_commitment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski),
                           critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(issuer_key, hashes.SHA256())
        cert_pem, key_pem = cert.public_bytes(pem), key.private_bytes(pem, pkcs8, none)
        _write(pki / f"{name}.crt", cert_pem, 0o644)
        _write(pki / f"{name}.key", key_pem)
        return cert_pem, key_pem

    dns_names = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                 f"kubernetes.default.svc.{CLUSTER_DOMAIN}"]
    serving_sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    serving_sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", KUBERNETES_SERVICE_IP)]
    leaf("apiserver", "kube-apiserver", [], True, serving_sans)
    admin = leaf("admin", "kubernetes-admin", ["system:masters"], False)
    kcm = leaf("controller-manager", "system:kube-controller-manager", [], False)
    scheduler = leaf("scheduler", "system:kube-scheduler", [], False)
    # The API server's identity towards kubelets (logs, exec): cluster-admin rights, as kubeadm gives it.
    leaf("apiserver-kubelet-client", "kube-apiserver-kubelet-client", ["system:masters"], False)

    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write(pki / "sa.key", sa_key.private_bytes(pem, pkcs8, none))
    _write(pki / "sa.pub", sa_key.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo),
           0o644)
    return {"ca": ca_cert.public_bytes(pem), "admin.crt": admin[0], "admin.key": admin[1],
            "kcm.crt": kcm[0], "kcm.key": kcm[1], "scheduler.crt": scheduler[0], "scheduler.key": scheduler[1]}


def kubeconfig(server: str, ca: bytes, user: str, cert: bytes, key: bytes) -> str:
    """A one-context kubeconfig (JSON, which kubectl and the Python client both read)."""
    import base64

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return json.dumps({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": CLUSTER_NAME, "cluster": {"server": server, "certificate-authority-data": b64(ca)}}],
        "users": [{"name": user, "user": {"client-certificate-data": b64(cert), "client-key-data": b64(key)}}],
        "contexts": [{"name": f"{user}@{CLUSTER_NAME}", "context": {"cluster": CLUSTER_NAME, "user": user}}],
        "current-context": f"{user}@{CLUSTER_NAME}",
    }, indent=2)


# --- processes -------------------------------------------------------------------------------------------

_HANDED_OUT: set[int] = set()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A loopback port nothing listens on, below the kernel's ephemeral range.

    A port the kernel hands out for bind(0) comes from the same range as the source ports of outgoing
    connections, so one of the cluster's own client connections (apiserver to etcd, say) could take it
    before the component that was meant to listen there starts: "address already in use".
    """
    low, _ = _ephemeral_range()
    candidates = list(range(max(1024, low - 12000), low))
    random.shuffle(candidates)
    for port in candidates:
        if port in _HANDED_OUT:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError(f"no free loopback port below {low}")


def _pid_file(root: Path, name: str) -> Path:
    return root / "run" / f"{name}.pid"


#: Bind-mounts the two files given, then runs the rest of the arguments; the script is fixed, data are arguments.
_RESOLVER_SCRIPT = 'mount --bind "$1" /etc/resolv.conf && mount --bind "$2" /etc/hosts && shift 2 && exec "$@"'
#: The node name kubeadm's InitConfiguration gives; resolved from the hosts file, never by a name server.
CONTROL_PLANE_NODE = "control-plane"


def resolver_files(root: Path) -> tuple[Path, Path]:
    """DIR/etc/resolv.conf (a loopback name server that answers nothing) and DIR/etc/hosts."""
    etc = root / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    resolv, hosts = etc / "resolv.conf", etc / "hosts"
    # Nothing listens on 127.0.0.1:53 here: a lookup fails at once instead of asking the machine's name server.
    resolv.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    hosts.write_text(f"127.0.0.1 localhost {CONTROL_PLANE_NODE}\n::1 localhost\n")
    return resolv, hosts


def with_own_resolver(root: Path, argv: list[str]) -> list[str]:
    """``argv`` run in a mount namespace of its own whose /etc/resolv.conf and /etc/hosts are DIR/etc's.

    The pid stays the command's (unshare and sh exec it), so pid files and ``_is_ours`` keep working. Without
    root, a user namespace gives the mount namespace.
    """
    resolv, hosts = resolver_files(root)
    unshare = ["unshare", "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        unshare.insert(1, "--map-root-user")
    return [*unshare, "--", "sh", "-c", _RESOLVER_SCRIPT, "own-resolver", str(resolv), str(hosts), *argv]


def _spawn(root: Path, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
    (root / "logs").mkdir(parents=True, exist_ok=True)
    (root / "run").mkdir(parents=True, exist_ok=True)
    with open(root / "logs" / f"{name}.log", "ab") as log:
        process = subprocess.Popen(with_own_resolver(root, argv), stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True, cwd=root)
    _pid_file(root, name).write_text(f"{process.pid}\n")
    return process


def log_tail(root: Path, name: str, lines: int = 30) -> str:
    """The last lines of a component's log, for failure messages."""
    try:
        return "\n".join((root / "logs" / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_http(root: Path, name: str, process: subprocess.Popen[bytes], url: str,
               context: ssl.SSLContext | None, expect: bytes) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    last = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ClusterStartError(f"{name} exited with {process.returncode}:\n{log_tail(root, name)}")
        try:
            with urllib.request.urlopen(url, timeout=5, context=context) as response:
                body = response.read()
                if response.status == 200 and expect in body:
                    return
                last = body.decode(errors="replace")
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.3)
    raise ClusterStartError(f"{name} not ready within {READY_TIMEOUT:.0f} s ({last}):\n{log_tail(root, name)}")


def _is_ours(pid: int, root: Path) -> bool:
    """True when ``pid`` still runs one of our processes (its command line names our directory)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return str(root) in cmdline


def stop_processes(root: Path, timeout: float = 15.0) -> None:
    """Stop every process recorded in ROOT/run, newest component first; SIGKILL after ``timeout``."""
    run = root / "run"
    if not run.is_dir():
        return
    order = ["kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"]
    names = sorted((p.stem for p in run.glob("*.pid")), key=lambda n: order.index(n) if n in order else -1)
    for name in names:
        try:
            pid = int(_pid_file(root, name).read_text().strip())
        except (OSError, ValueError):
            continue
        if _is_ours(pid, root):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _is_ours(pid, root) and time.monotonic() < deadline:
                _reap(pid)
                time.sleep(0.1)
            if _is_ours(pid, root):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                while _is_ours(pid, root):
                    _reap(pid)
                    time.sleep(0.05)
        _pid_file(root, name).unlink(missing_ok=True)


def _reap(pid: int) -> None:
    """Collect a child of this process so it does not linger as a zombie (which /proc still lists)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


# --- cluster ---------------------------------------------------------------------------------------------

PKI_LAYOUTS = ("shared", "split")
#: Set to a version hack/build_kubernetes.py builds (v1.30.14) to run clusters of that version by default.
KUBERNETES_VERSION_ENV = "KUBECTL_EDGE_KUBERNETES"


def default_binary_dir() -> Path:
    """The binaries clusters run by default: build_binaries', or another version's when the environment asks."""
    version = os.environ.get(KUBERNETES_VERSION_ENV)
    if version and version != build_binaries.KUBERNETES_VERSION:
        return build_kubernetes.binary_dir(version)
    return build_binaries.binary_dir()


def _admin_context(root: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(root / "pki" / "ca.crt"))
    context.load_cert_chain(str(root / "pki" / "admin.crt"), str(root / "pki" / "admin.key"))
    return context


def start(root: Path, flavour: str = "bare", signer: bool = True, bin_dir: Path | None = None,
          bootstrap_token_auth: bool = True, pki: str = "shared") -> LocalCluster:
    """Start a cluster in ``root`` (which must not hold a running one) and wait until it works."""
    if flavour not in ("bare", "kubeadm"):
        raise ValueError(f"unknown flavour {flavour!r}")
    if pki not in PKI_LAYOUTS:
        raise ValueError(f"unknown PKI layout {pki!r}")
    binaries = bin_dir or default_binary_dir()
    if not build_binaries.is_built(binaries):
        raise ClusterStartError(f"the control-plane binaries are not built in {binaries}: "
                                "run hack/build_binaries.py (or make binaries)")
    root = root.resolve()
    if (root / "run").is_dir() and any((root / "run").glob("*.pid")):
        raise ClusterStartError(f"{root} holds a cluster already; run: hack/localcluster.py down --dir {root}")
    root.mkdir(parents=True, exist_ok=True)
    cluster = LocalCluster(dir=str(root), flavour=flavour, signer=signer, bin_dir=str(binaries),
                           api_port=free_port(), etcd_port=free_port(), kcm_port=free_port(),
                           scheduler_port=free_port(),
                           bootstrap_token_auth=bootstrap_token_auth, pki=pki)
    try:
        _start(root, cluster)
    except BaseException:
        stop_processes(root)
        raise
    return cluster


def _start(root: Path, cluster: LocalCluster) -> None:
    pki = root / "pki"
    pems = make_pki(pki, split=cluster.pki == "split")
    _write(root / "admin.kubeconfig",
           kubeconfig(cluster.server, pems["ca"], "kubernetes-admin", pems["admin.crt"], pems["admin.key"]).encode())
    _write(root / "controller-manager.kubeconfig",
           kubeconfig(cluster.server, pems["ca"], "system:kube-controller-manager", pems["kcm.crt"],
                      pems["kcm.key"]).encode())
    _write(root / "scheduler.kubeconfig",
           kubeconfig(cluster.server, pems["ca"], "system:kube-scheduler", pems["scheduler.crt"],
                      pems["scheduler.key"]).encode())
    _write(root / "audit-policy.json", json.dumps(AUDIT_POLICY).encode(), 0o644)
    tools = Path(cluster.tools_dir())
    tools.mkdir(exist_ok=True)
    for link, target in (("kubectl", "kubectl"), ("kubeadm", "kubeadm"), ("helm", "helm3"), ("helm3", "helm3"),
                         ("helm4", "helm4"), ("etcd", "etcd")):
        (tools / link).unlink(missing_ok=True)
        (tools / link).symlink_to(cluster.binary(target))
    (root / STATE_FILE).write_text(json.dumps(asdict(cluster), indent=2) + "\n")

    etcd_url = f"http://127.0.0.1:{cluster.etcd_port}"
    peer_url = f"http://127.0.0.1:{free_port()}"
    etcd = _spawn(root, "etcd", [
        cluster.binary("etcd"), "--name=default", f"--data-dir={root / 'etcd'}",
        f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
        f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
        f"--initial-cluster=default={peer_url}", "--log-level=warn", "--unsafe-no-fsync",
        "--listen-metrics-urls=", "--quota-backend-bytes=4294967296",
    ])
    _wait_http(root, "etcd", etcd, f"{etcd_url}/health", None, b'"health":"true"')

    apiserver = _spawn(root, "kube-apiserver", [
        cluster.binary("kube-apiserver"),
        f"--etcd-servers={etcd_url}",
        "--bind-address=127.0.0.1", f"--secure-port={cluster.api_port}",
        *_advertise_flags(),
        f"--cert-dir={pki}",
        f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--client-ca-file={cluster.client_ca_cert}",
        f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
        f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
        "--kubelet-preferred-address-types=InternalIP,Hostname",
        f"--service-account-issuer=https://kubernetes.default.svc.{CLUSTER_DOMAIN}",
        f"--service-account-key-file={pki / 'sa.pub'}",
        f"--service-account-signing-key-file={pki / 'sa.key'}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        f"--enable-bootstrap-token-auth={str(cluster.bootstrap_token_auth).lower()}",
        "--anonymous-auth=true",
        "--allow-privileged=true",
        "--profiling=false",
        # Webhooks and aggregated APIs are reached through their Services' endpoints, not ClusterIPs: nothing
        # routes the service range here, and a dial to it must not wander off the machine.
        "--enable-aggregator-routing=true",
        f"--audit-policy-file={root / 'audit-policy.json'}",
        f"--audit-log-path={root / 'audit.log'}",
        "--audit-log-format=json",
        "--audit-log-mode=blocking",
        "--v=1",
    ])
    _wait_http(root, "kube-apiserver", apiserver, f"{cluster.server}/readyz", _admin_context(root), b"ok")

    controllers = CONTROLLERS + (SIGNER_CONTROLLERS if cluster.signer else [])
    kcm = _spawn(root, "kube-controller-manager", [
        cluster.binary("kube-controller-manager"),
        f"--kubeconfig={root / 'controller-manager.kubeconfig'}",
        f"--authentication-kubeconfig={root / 'controller-manager.kubeconfig'}",
        f"--authorization-kubeconfig={root / 'controller-manager.kubeconfig'}",
        "--bind-address=127.0.0.1", f"--secure-port={cluster.kcm_port}",
        f"--cert-dir={root / 'kcm-serving'}",
        f"--controllers={','.join(controllers)}",
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={pki / 'sa.key'}",
        f"--root-ca-file={pki / 'ca.crt'}",
        # Kubelets' client certificates come from the client CA (the same CA unless the PKI is split).
        f"--cluster-signing-cert-file={cluster.client_ca_cert}",
        f"--cluster-signing-key-file={cluster.client_ca_key}",
        f"--cluster-name={CLUSTER_NAME}",
        "--leader-elect=false",
        "--profiling=false",
        "--v=1",
    ])
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    _wait_http(root, "kube-controller-manager", kcm, f"https://127.0.0.1:{cluster.kcm_port}/healthz", insecure, b"ok")
    _wait_settled(root, cluster, kcm)
    scheduler_config = root / "scheduler.kubeconfig"
    scheduler = _spawn(root, "kube-scheduler", [
        cluster.binary("kube-scheduler"),
        f"--kubeconfig={scheduler_config}",
        f"--authentication-kubeconfig={scheduler_config}",
        f"--authorization-kubeconfig={scheduler_config}",
        "--bind-address=127.0.0.1", f"--secure-port={cluster.scheduler_port}",
        f"--cert-dir={root / 'scheduler-serving'}",
        "--leader-elect=false",
        "--profiling=false",
        "--v=1",
    ])
    _wait_http(root, "kube-scheduler", scheduler, f"https://127.0.0.1:{cluster.scheduler_port}/healthz", insecure,
               b"ok")
    if cluster.flavour == "kubeadm":
        seed_kubeadm(root, cluster)


def _wait_settled(root: Path, cluster: LocalCluster, kcm: subprocess.Popen[bytes]) -> None:
    """Wait until the controllers' first work is done (CA bundles, default service accounts).

    Tests compare snapshots of the cluster; objects that controllers add a moment after start-up would
    otherwise appear as changes.
    """
    for namespace in ("default", "kube-system", "kube-public", "kube-node-lease"):
        for path in (f"/api/v1/namespaces/{namespace}/configmaps/kube-root-ca.crt",
                     f"/api/v1/namespaces/{namespace}/serviceaccounts/default"):
            _wait_http(root, "kube-controller-manager", kcm, cluster.server + path, _admin_context(root), b"")


def seed_kubeadm(root: Path, cluster: LocalCluster) -> None:
    """Give the cluster what ``kubeadm init`` leaves behind, made by the real kubeadm's phases.

    cluster-info is written from a kubeconfig whose server is ``https://localhost:PORT``, so it differs
    from the admin kubeconfig's ``https://127.0.0.1:PORT`` as on clusters whose admins reach the API
    server by another name than the nodes do.
    """
    version = kubeadm_version(root, cluster)
    config = root / "kubeadm.yaml"
    config.write_text(KUBEADM_CONFIG.format(port=cluster.api_port, service_cidr=SERVICE_CIDR, pod_cidr=POD_CIDR,
                                            domain=CLUSTER_DOMAIN, cluster_name=CLUSTER_NAME, version=version,
                                            api_version=kubeadm_api_version(version), node=CONTROL_PLANE_NODE))
    admin = json.loads((root / "admin.kubeconfig").read_text())
    admin["clusters"][0]["cluster"]["server"] = f"https://localhost:{cluster.api_port}"
    _write(root / "kubeadm-admin.kubeconfig", json.dumps(admin).encode())
    phases = [
        ["upload-config", "kubeadm"],
        ["upload-config", "kubelet"],
        ["bootstrap-token", "--skip-token-print"],
        ["addon", "coredns"],
        ["addon", "kube-proxy"],
    ]
    # Before 1.31, upload-config kubelet also annotates the control-plane Node with its CRI socket and waits
    # for that Node: give it one for the phase and take it away again (the cluster has no nodes otherwise).
    stand_in = minor_of(version) < (1, 31)
    for phase in phases:
        if stand_in and phase == ["upload-config", "kubelet"]:
            cluster.kubectl("create", "-f", "-", input=json.dumps(
                {"apiVersion": "v1", "kind": "Node", "metadata": {"name": CONTROL_PLANE_NODE}}))
        argv = [cluster.binary("kubeadm"), "init", "phase", *phase, f"--config={config}",
                f"--kubeconfig={root / 'kubeadm-admin.kubeconfig'}", "--v=1"]
        with open(root / "logs" / "kubeadm.log", "ab") as log:
            result = subprocess.run(with_own_resolver(root, argv), stdout=log, stderr=subprocess.STDOUT, cwd=root,
                                    timeout=120)
        if stand_in and phase == ["upload-config", "kubelet"]:
            cluster.kubectl("delete", "node", CONTROL_PLANE_NODE, "--wait=true")
        if result.returncode != 0:
            raise ClusterStartError(f"kubeadm init phase {' '.join(phase)} failed:\n{log_tail(root, 'kubeadm')}")


def minor_of(version: str) -> tuple[int, int]:
    """(major, minor) of ``v1.30.14``."""
    major, minor = version.lstrip("v").split(".")[:2]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()))


def kubeadm_version(root: Path, cluster: LocalCluster) -> str:
    """The version of the kubeadm binary (``v1.37.2``), which decides its configuration's format."""
    result = subprocess.run(with_own_resolver(root, [cluster.binary("kubeadm"), "version", "-o", "short"]),
                            capture_output=True, text=True, timeout=60)
    if result.returncode != 0 or not result.stdout.strip().startswith("v"):
        raise ClusterStartError(f"kubeadm version failed: {result.stderr.strip()}")
    return result.stdout.strip()


def kubeadm_api_version(version: str) -> str:
    """The kubeadm configuration API of that kubeadm: v1beta4 from 1.31 on, v1beta3 before."""
    return "kubeadm.k8s.io/v1beta4" if minor_of(version) >= (1, 31) else "kubeadm.k8s.io/v1beta3"


KUBEADM_CONFIG = """\
apiVersion: {api_version}
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: 198.18.255.254
  bindPort: {port}
nodeRegistration:
  name: {node}
  criSocket: unix:///run/containerd/containerd.sock
skipPhases: []
bootstrapTokens: []
---
apiVersion: {api_version}
kind: ClusterConfiguration
kubernetesVersion: {version}
clusterName: {cluster_name}
controlPlaneEndpoint: localhost:{port}
networking:
  serviceSubnet: {service_cidr}
  podSubnet: {pod_cidr}
  dnsDomain: {domain}
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
"""


def load_state(root: Path) -> LocalCluster:
    """Read DIR/cluster.json written by ``start``."""
    return LocalCluster(**json.loads((root / STATE_FILE).read_text()))


def stop(root: Path, remove: bool = True) -> None:
    """Stop the cluster's processes and (by default) remove its directory."""
    root = root.resolve()
    stop_processes(root)
    release_advertise_address()
    if remove and root.exists():
        shutil.rmtree(root)


@contextlib.contextmanager
def running(root: Path, flavour: str = "bare", signer: bool = True, pki: str = "shared",
            bin_dir: Path | None = None) -> Iterator[LocalCluster]:
    """A cluster for the duration of a ``with`` block (of another Kubernetes version with ``bin_dir``)."""
    cluster = start(root, flavour, signer, bin_dir=bin_dir, pki=pki)
    try:
        yield cluster
    finally:
        stop(root)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hack/localcluster.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start a cluster in DIR")
    up.add_argument("--dir", required=True, type=Path)
    up.add_argument("--flavour", choices=["bare", "kubeadm"], default="bare")
    up.add_argument("--pki", choices=PKI_LAYOUTS, default="shared",
                    help="split: a server CA for the serving certificate, a client CA for client certificates "
                         "(as k3s and RKE2)")
    up.add_argument("--no-signer", action="store_true", help="leave the bootstrap signer and token cleaner off")
    up.add_argument("--no-bootstrap-token-auth", action="store_true",
                    help="reject bootstrap tokens, as managed clusters such as EKS do")
    for name, text in (("down", "stop the cluster in DIR and remove DIR"), ("env", "print shell exports for DIR")):
        commands.add_parser(name, help=text).add_argument("--dir", required=True, type=Path)
    args = parser.parse_args(argv)
    if args.command == "up":
        try:
            started = time.monotonic()
            cluster = start(args.dir, args.flavour, not args.no_signer,
                            bootstrap_token_auth=not args.no_bootstrap_token_auth, pki=args.pki)
        except ClusterStartError as exc:
            print(f"localcluster: {exc}", file=sys.stderr)
            return 1
        print(f"localcluster: {cluster.flavour} cluster up at {cluster.server} in {time.monotonic() - started:.1f} s"
              f" (signer {'on' if cluster.signer else 'off'}, {cluster.pki} PKI)", file=sys.stderr)
        print(f"export KUBECONFIG={cluster.kubeconfig}")
        return 0
    if args.command == "down":
        stop(args.dir)
        return 0
    cluster = load_state(args.dir.resolve())
    print(f"export KUBECONFIG={cluster.kubeconfig}")
    print(f"export PATH={cluster.tools_dir()}:$PATH")
    return 0


if __name__ == "__main__":
    sys.exit(main())
