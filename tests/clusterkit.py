"""Small helpers for tests that talk to a local cluster as a particular identity (stdlib HTTP)."""

from __future__ import annotations

import base64
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
#: kubectl-edge and the helm it runs.
ADDON_USER_AGENTS = ("kubectl-edge/", "Helm/")
# Review requests are creates that the API server answers without storing anything.
_NON_PERSISTING = {"selfsubjectaccessreviews", "selfsubjectreviews", "selfsubjectrulesreviews"}


def tools_path() -> str:
    """A directory with ``helm`` (helm 3), ``kubectl`` and ``kubeadm`` from the binary cache, for PATH."""
    import tempfile

    import build_binaries

    directory = Path(tempfile.gettempdir()) / f"kubectl-edge-tools-{build_binaries.binary_dir().name}"
    directory.mkdir(exist_ok=True)
    for link, target in (("helm", "helm3"), ("kubectl", "kubectl"), ("kubeadm", "kubeadm")):
        path = directory / link
        if not path.is_symlink():
            path.symlink_to(build_binaries.binary_dir() / target)
    return str(directory)


def run_plugin(kubeconfig: str, *args: str, extra_env: dict[str, str] | None = None
               ) -> subprocess.CompletedProcess[str]:
    """Run ``kubectl edge ARGS`` as a separate process against a kubeconfig (helm 3 on PATH)."""
    env = {**os.environ, "KUBECONFIG": kubeconfig, "NO_COLOR": "1", "PATH": f"{tools_path()}:{os.environ['PATH']}",
           **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", "kubectl_edge", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def audit_mark(cluster: Any) -> int:
    """The number of audit events so far; pass it to ``persisted_writes_since``."""
    return len(Path(cluster.audit_log).read_text().splitlines())


def persisted_writes_since(cluster: Any, mark: int, user_agent_prefix: str | tuple[str, ...] = ADDON_USER_AGENTS
                           ) -> list[dict[str, Any]]:
    """Write requests after ``mark`` that changed stored objects, sent by the plugin (or the helm it ran)."""
    events = []
    for line in Path(cluster.audit_log).read_text().splitlines()[mark:]:
        event = json.loads(line)
        resource = (event.get("objectRef") or {}).get("resource", "")
        # A server-side dry run (dryRun=All) stores nothing, whatever its verb.
        if (event.get("userAgent", "").startswith(user_agent_prefix) and resource not in _NON_PERSISTING
                and "dryRun=All" not in event.get("requestURI", "")
                and event.get("verb") in ("create", "update", "patch", "delete", "deletecollection")):
            events.append(event)
    return events


SNAPSHOT_PATHS = (
    "/api/v1/namespaces", "/api/v1/configmaps", "/api/v1/secrets", "/api/v1/serviceaccounts", "/api/v1/services",
    "/apis/rbac.authorization.k8s.io/v1/roles", "/apis/rbac.authorization.k8s.io/v1/rolebindings",
    "/apis/rbac.authorization.k8s.io/v1/clusterroles", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    "/apis/apps/v1/daemonsets", "/apis/apps/v1/deployments", "/api/v1/endpoints",
    "/apis/discovery.k8s.io/v1/endpointslices", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
    "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
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
            # The API server counts a DaemonSet's template changes here, as it counts generations.
            annotations = {k: v for k, v in (metadata.get("annotations") or {}).items()
                           if k != "deprecated.daemonset.template.generation"}
            if "annotations" in metadata:
                metadata["annotations"] = annotations
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


def succeeded(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """``result``, after asserting it exited 0 (the failure shows both streams)."""
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def settled_differences(cluster: Any, before: dict[str, Any]) -> list[str]:
    """Differences from the snapshot ``before``, after giving the controllers (signer) a moment to catch up."""
    wait_for(lambda: not diff_snapshots(before, snapshot(cluster)), timeout=15)
    return diff_snapshots(before, snapshot(cluster))



def required_binary_dir() -> Path:
    """The cache of built binaries; when it is not built the test fails in CI (never a skip there), else skips."""
    import build_binaries
    import localcluster
    import pytest

    # build_binaries' directory, or that of the Kubernetes version KUBECTL_EDGE_KUBERNETES names.
    directory = localcluster.default_binary_dir()
    if not build_binaries.is_built(directory):
        message = f"binaries not built in {directory}: run make binaries (and hack/build_kubernetes.py)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return Path(directory)


def required_oldest_binary_dir() -> Path:
    """The oldest supported minor's binaries (hack/build_kubernetes.py); a failure in CI when they are not built
    (never a skip there), else a skip."""
    import build_kubernetes
    import pytest

    directory = build_kubernetes.binary_dir()
    if not (directory / "kube-apiserver").is_file():
        message = f"Kubernetes {build_kubernetes.OLDEST} is not built in {directory}: run hack/build_kubernetes.py"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return Path(directory)


def create_node_kubelet_config(cluster: Any, extra: str = "") -> None:
    """kube-system/kubelet-config as the owner of this machine's nodes writes it (hack/edgenode.py's settings, plus
    ``extra`` YAML lines); addon keeps it and adds only what it lacks."""
    import edgenode

    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kubelet-config",
                                                                      "namespace": "kube-system"},
                 "data": {"kubelet": edgenode.NODE_KUBELET_CONFIG + extra}}
    answer = admin_request(cluster, "/api/v1/namespaces/kube-system/configmaps", method="POST", body=configmap)
    assert answer.status == 201, answer.body


def file_tree(root: Path) -> dict[str, tuple[str, int, str]]:
    """Every path under root: (type, permission bits, sha256 of content or link target)."""
    import hashlib
    import stat

    found: dict[str, tuple[str, int, str]] = {}
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(base, name)
            state = os.lstat(path)
            relative = os.path.relpath(path, root)
            if stat.S_ISLNK(state.st_mode):
                found[relative] = ("link", 0, os.readlink(path))
            elif stat.S_ISDIR(state.st_mode):
                found[relative] = ("dir", stat.S_IMODE(state.st_mode), "")
            else:
                digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
                found[relative] = ("file", stat.S_IMODE(state.st_mode), digest)
    return found

# The API server at another address, as behind a NAT (hack/forwarder.py).
from forwarder import Forwarder  # noqa: E402, F401  (re-exported for the tests)


def kubelet_client_csr(name: str) -> tuple[dict[str, Any], str, Any]:
    """A CertificateSigningRequest body for the kubelet client certificate of ``system:node:<name>``
    (the kubelet's signer and usages), its object name ``node-csr-<name>`` and its fresh P-256 key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    request = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
        x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{name}"),
    ])).sign(key, hashes.SHA256())
    csr_name = f"node-csr-{name}"
    body = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"name": csr_name},
            "spec": {"request": base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode(),
                     "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
                     "usages": ["digital signature", "client auth"]}}
    return body, csr_name, key
