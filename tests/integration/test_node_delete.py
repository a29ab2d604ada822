"""kubectl edge node delete against a real control plane, with nodes that joined by TLS bootstrap.

A node's join is simulated here as a kubelet does it, written independently of the code under test: as the
bootstrap token, post a CSR for ``system:node:<name>`` (signer kube-apiserver-client-kubelet), wait until
the controller manager's approver and signer issue it, then, as the node (its new client certificate),
create its Node and its Lease. The control plane's Node authorizer and NodeRestriction admission check
every one of those requests, as for a real kubelet.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import pty
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from clusterkit import admin_request, audit_mark, persisted_writes_since, run_plugin, succeeded, wait_for
from clusterkit import request as http_request

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hack"))
import localcluster

CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
NODES = "/api/v1/nodes"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
SECRETS = "/api/v1/namespaces/kube-system/secrets"
EDGE_LABELS = {"superedge.io/node-edge": "enable", "superedge.io/edge-node": "enable"}
KUBELET_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[localcluster.LocalCluster]:
    """A bare cluster of this module's own after addon: TLS bootstrap RBAC in place, signer and approver on."""
    root = tmp_path_factory.mktemp("node-delete")
    started = localcluster.start(root / "c", flavour="bare", signer=True)
    try:
        succeeded(run_plugin(started.kubeconfig, "addon", "--skip-phases", "components"))
        yield started
    finally:
        localcluster.stop(root / "c")



def _token(cluster: Any, *args: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(succeeded(run_plugin(cluster.kubeconfig, "token", "create", "-o", "json",
                                                               *args)).stdout)
    return document


# --- a simulated kubelet ---------------------------------------------------------------------------------

@dataclass
class JoinedNode:
    """A node after its TLS bootstrap: its name, client certificate files and its CSR."""

    name: str
    cert: tuple[str, str]
    csr_name: str
    token_id: str

    def request(self, cluster: Any, path: str, **kwargs: Any) -> Any:
        """A request as the node (its client certificate)."""
        return http_request(cluster.server, path, ca_file=cluster.ca_cert, client_cert=self.cert, **kwargs)


def _csr_pem(name: str) -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
                         x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{name}")])
    request = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return request.public_bytes(serialization.Encoding.PEM), key_pem


def tls_bootstrap(cluster: Any, token: str, name: str, directory: Path) -> JoinedNode:
    """Post the node's CSR as the bootstrap token and wait until it is approved and issued."""
    request_pem, key_pem = _csr_pem(name)
    body = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"generateName": "node-csr-"},
            "spec": {"request": base64.b64encode(request_pem).decode(), "signerName": KUBELET_SIGNER,
                     "usages": ["digital signature", "client auth"]}}
    posted = http_request(cluster.server, CSRS, ca_file=cluster.ca_cert, method="POST", body=body, token=token)
    assert posted.status == 201, posted.body
    csr_name = posted.body["metadata"]["name"]

    def issued() -> str | None:
        answer = http_request(cluster.server, f"{CSRS}/{csr_name}", ca_file=cluster.ca_cert, token=token)
        return (answer.body.get("status") or {}).get("certificate") if answer.status == 200 else None

    certificate = wait_for(issued, timeout=30, interval=0.2)
    assert certificate, f"the CSR {csr_name} of {name} was not approved and issued"
    directory.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = directory / f"{name}.crt", directory / f"{name}.key"
    cert_file.write_bytes(base64.b64decode(certificate))
    key_file.write_bytes(key_pem)
    return JoinedNode(name, (str(cert_file), str(key_file)), csr_name, token.split(".")[0])


def register(cluster: Any, node: JoinedNode) -> tuple[int, int]:
    """As the node: create its Node (with the edge labels, Ready) and its Lease; return both statuses."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": node.name, "labels": {**EDGE_LABELS, "kubernetes.io/hostname": node.name}}}
    created = node.request(cluster, NODES, method="POST", body=body)
    if created.status == 201:
        status = {"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                             "message": "simulated", "lastHeartbeatTime": now,
                                             "lastTransitionTime": now}]}}
        patched = node.request(cluster, f"{NODES}/{node.name}/status", method="PATCH", body=status,
                               content_type="application/merge-patch+json")
        assert patched.status == 200, patched.body
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": node.name, "namespace": "kube-node-lease"},
             "spec": {"holderIdentity": node.name, "leaseDurationSeconds": 40,
                      "renewTime": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}}
    leased = node.request(cluster, LEASES, method="POST", body=lease)
    return created.status, leased.status


def join(cluster: Any, token: str, name: str, directory: Path) -> JoinedNode:
    """TLS bootstrap and registration, as a joining kubelet does them."""
    node = tls_bootstrap(cluster, token, name, directory)
    assert register(cluster, node) == (201, 201)
    return node


# --- what belongs to a node, read independently -----------------------------------------------------------

def _subject_cn(request_b64: str) -> str:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    request = x509.load_pem_x509_csr(base64.b64decode(request_b64))
    return str(request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def csrs_of(cluster: Any, name: str) -> dict[str, str]:
    """CSR name -> uid, for the CSRs posted by or for the node."""
    found = {}
    for item in admin_request(cluster, CSRS).body["items"]:
        spec = item["spec"]
        node_user = f"system:node:{name}"
        by_token = spec["username"].startswith("system:bootstrap:")
        if spec["username"] == node_user or (by_token and _subject_cn(spec["request"]) == node_user):
            found[item["metadata"]["name"]] = item["metadata"]["uid"]
    return found


def _uid(cluster: Any, path: str) -> str | None:
    answer = admin_request(cluster, path)
    return answer.body["metadata"]["uid"] if answer.status == 200 else None


def objects_of(cluster: Any, name: str, token_ids: list[str]) -> dict[str, str | None]:
    """The node's Node, Lease, CSRs and the given tokens, each with its uid (None when absent).

    The uid, not the resourceVersion: the controller manager updates these objects on its own (the node
    lifecycle controller taints a Node that posts no status); that kubectl-edge wrote nothing is what the audit
    log says."""
    objects = {f"node {name}": _uid(cluster, f"{NODES}/{name}"),
               f"lease {name}": _uid(cluster, f"{LEASES}/{name}")}
    objects.update({f"csr {csr}": version for csr, version in csrs_of(cluster, name).items()})
    objects.update({f"token {token_id}": _uid(cluster, f"{SECRETS}/bootstrap-token-{token_id}")
                    for token_id in token_ids})
    return objects


def _token_exists(cluster: Any, token_id: str) -> bool:
    return admin_request(cluster, f"{SECRETS}/bootstrap-token-{token_id}").status == 200


# --- the tests -------------------------------------------------------------------------------------------

def test_delete_removes_exactly_that_nodes_objects_and_the_name_joins_again(cluster: Any, tmp_path: Path) -> None:
    for_a = _token(cluster, "--for-node", "edge-a")
    assert for_a["node"] == "edge-a" and for_a["description"] == "for node edge-a"
    assert set(for_a["groups"]) == {"system:bootstrappers:kubeadm:default-node-token",
                                    "system:bootstrappers:kubectl-edge:node:edge-a"}
    shared = _token(cluster, "--description", "shared")
    node_a = join(cluster, for_a["token"], "edge-a", tmp_path / "a")
    node_b = join(cluster, shared["token"], "edge-b", tmp_path / "b")

    # The next kubectl-edge command deletes edge-a's token: its CSR was approved. Tokens made since for
    # either node are kept (an approval older than the token does not count).
    later_b = _token(cluster, "--for-node", "edge-b")
    assert not _token_exists(cluster, for_a["id"]), "a for-node token outlived its node's approved CSR"
    later_a = _token(cluster, "--for-node", "edge-a", "--ttl", "1h")
    assert _token_exists(cluster, later_b["id"]) and _token_exists(cluster, later_a["id"])
    listed = json.loads(succeeded(run_plugin(cluster.kubeconfig, "token", "list", "-o", "json")).stdout)["tokens"]
    mine = {shared["id"], later_b["id"], later_a["id"], for_a["id"]}
    assert {token["id"]: token["node"] for token in listed if token["id"] in mine} == {
        shared["id"]: None, later_b["id"]: "edge-b", later_a["id"]: "edge-a"}

    # While edge-a's objects exist, the same name cannot register again.
    assert node_a.request(cluster, NODES, method="POST", body={
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": "edge-a"}}).status == 409

    before_b = objects_of(cluster, "edge-b", [shared["id"], later_b["id"]])
    assert before_b[f"csr {node_b.csr_name}"] and all(before_b.values()), before_b
    doomed = objects_of(cluster, "edge-a", [later_a["id"]])
    assert all(doomed.values()), doomed

    mark = audit_mark(cluster)
    result = succeeded(run_plugin(cluster.kubeconfig, "node", "delete", "edge-a", "--yes", "-o", "json"))
    report = json.loads(result.stdout)
    assert [entry["name"] for entry in report["nodes"]] == ["edge-a"]

    assert objects_of(cluster, "edge-a", [later_a["id"]]) == {"node edge-a": None, "lease edge-a": None,
                                                              f"token {later_a['id']}": None}
    assert objects_of(cluster, "edge-b", [shared["id"], later_b["id"]]) == before_b, "edge-b's objects changed"
    deleted = {(event["objectRef"]["resource"], event["objectRef"].get("name"))
               for event in persisted_writes_since(cluster, mark) if event["verb"] == "delete"}
    expected = {("nodes", "edge-a"), ("leases", "edge-a"), ("secrets", f"bootstrap-token-{later_a['id']}")} | {
        ("certificatesigningrequests", name.removeprefix("csr ")) for name in doomed if name.startswith("csr ")}
    assert deleted == expected
    assert all(event["verb"] == "delete" for event in persisted_writes_since(cluster, mark))

    # The name joins again with a new token; status then retires that token (the node's CSR is approved).
    again = _token(cluster, "--for-node", "edge-a")
    rejoined = join(cluster, again["token"], "edge-a", tmp_path / "a2")
    assert admin_request(cluster, f"{NODES}/edge-a").status == 200
    assert rejoined.csr_name in csrs_of(cluster, "edge-a")
    status = succeeded(run_plugin(cluster.kubeconfig, "status", "-o", "json"))
    assert again["id"] not in {token["id"] for token in json.loads(status.stdout)["tokens"]}
    assert not _token_exists(cluster, again["id"])
    assert f"deleted bootstrap token {again['id']}" in status.stderr
    succeeded(run_plugin(cluster.kubeconfig, "node", "delete", "edge-a", "edge-b", "--yes"))


def test_for_node_refuses_a_name_no_node_can_have(cluster: Any) -> None:
    mark = audit_mark(cluster)
    result = run_plugin(cluster.kubeconfig, "token", "create", "--for-node", "Edge_1")
    assert result.returncode == 2 and "--for-node" in result.stderr and "not a valid node name" in result.stderr
    assert persisted_writes_since(cluster, mark) == []
    # Dots are fine: node names are often host names.
    made = _token(cluster, "--for-node", "edge-1.site.example")
    assert made["node"] == "edge-1.site.example"
    assert "system:bootstrappers:kubectl-edge:node:edge-1:site:example" in made["groups"]
    succeeded(run_plugin(cluster.kubeconfig, "token", "delete", made["id"]))


def test_unknown_name_refuses_and_deletes_nothing(cluster: Any, tmp_path: Path) -> None:
    shared = _token(cluster)
    join(cluster, shared["token"], "edge-c", tmp_path)
    before = objects_of(cluster, "edge-c", [shared["id"]])
    mark = audit_mark(cluster)
    result = run_plugin(cluster.kubeconfig, "node", "delete", "edge-c", "no-such-node", "--yes")
    assert result.returncode == 3, result.stderr
    assert "no such node: no-such-node" in result.stderr and "nothing was deleted" in result.stderr
    assert persisted_writes_since(cluster, mark) == []
    assert objects_of(cluster, "edge-c", [shared["id"]]) == before
    succeeded(run_plugin(cluster.kubeconfig, "node", "delete", "edge-c", "--yes"))


def test_refuses_a_node_without_edge_labels_unless_forced(cluster: Any) -> None:
    assert admin_request(cluster, NODES, method="POST", body={
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": "central-1"}}).status == 201
    mark = audit_mark(cluster)
    refused = run_plugin(cluster.kubeconfig, "node", "delete", "central-1", "--yes")
    assert refused.returncode == 3 and "not an edge node" in refused.stderr and "--force" in refused.stderr
    assert persisted_writes_since(cluster, mark) == []
    assert admin_request(cluster, f"{NODES}/central-1").status == 200
    succeeded(run_plugin(cluster.kubeconfig, "node", "delete", "central-1", "--yes", "--force"))
    assert admin_request(cluster, f"{NODES}/central-1").status == 404


def _run_on_tty(cluster: Any, answer: str, *args: str) -> tuple[int, str]:
    """Run the plugin with a terminal as stdin, type ``answer``; return the exit code and what it wrote."""
    primary, secondary = pty.openpty()
    env = {**os.environ, "KUBECONFIG": cluster.kubeconfig, "NO_COLOR": "1"}
    process = subprocess.Popen([sys.executable, "-m", "kubectl_edge", *args], stdin=secondary,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    os.close(secondary)
    try:
        os.write(primary, answer.encode())
        stdout, stderr = process.communicate(timeout=120)
    finally:
        os.close(primary)
    return process.returncode, stdout + stderr


def test_asks_on_a_terminal_and_declining_deletes_nothing(cluster: Any, tmp_path: Path) -> None:
    shared = _token(cluster)
    join(cluster, shared["token"], "edge-d", tmp_path)
    before = objects_of(cluster, "edge-d", [shared["id"]])
    mark = audit_mark(cluster)
    code, text = _run_on_tty(cluster, "n\n", "node", "delete", "edge-d")
    assert code == 130 and "edge-d?" in text and "nothing was deleted" in text, text
    assert persisted_writes_since(cluster, mark) == []
    assert objects_of(cluster, "edge-d", [shared["id"]]) == before
    code, text = _run_on_tty(cluster, "y\n", "node", "delete", "edge-d")
    assert code == 0, text
    assert admin_request(cluster, f"{NODES}/edge-d").status == 404


# --- drain -----------------------------------------------------------------------------------------------

def _pod(name: str, node: str, **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default", **metadata},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "registry.invalid/none:1"}]}}


def _pod_status(cluster: Any, name: str) -> int:
    return int(admin_request(cluster, f"/api/v1/namespaces/default/pods/{name}").status)


def _set_running(cluster: Any, name: str) -> None:
    status = {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
    answer = admin_request(cluster, f"/api/v1/namespaces/default/pods/{name}/status", method="PATCH", body=status,
                           content_type="application/merge-patch+json")
    assert answer.status == 200, answer.body


class Kubelet:
    """Finishes graceful deletions of the node's pods, as the node's kubelet does once containers stop."""

    def __init__(self, cluster: Any, node: JoinedNode) -> None:
        self.cluster, self.node = cluster, node
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stopped.wait(0.3):
            listing = self.node.request(self.cluster, f"/api/v1/pods?fieldSelector=spec.nodeName%3D{self.node.name}")
            for pod in (listing.body or {}).get("items", []) if listing.status == 200 else []:
                if pod["metadata"].get("deletionTimestamp"):
                    self.node.request(self.cluster, f"/api/v1/namespaces/{pod['metadata']['namespace']}/pods/"
                                      f"{pod['metadata']['name']}", method="DELETE",
                                      body={"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0})

    def __enter__(self) -> Kubelet:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)


def test_drain_evicts_pods_but_not_daemonset_or_mirror_pods(cluster: Any, tmp_path: Path) -> None:
    shared = _token(cluster)
    node = join(cluster, shared["token"], "edge-e", tmp_path)
    daemonset = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "default"},
                 "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": {
                     "metadata": {"labels": {"app": "agent"}},
                     "spec": {"containers": [{"name": "c", "image": "registry.invalid/none:1"}]}}}}
    created = admin_request(cluster, "/apis/apps/v1/namespaces/default/daemonsets", method="POST", body=daemonset)
    assert created.status == 201, created.body
    owner = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": created.body["metadata"]["uid"],
             "controller": True}
    for body in (_pod("app-e", "edge-e"), _pod("agent-e", "edge-e", ownerReferences=[owner])):
        assert admin_request(cluster, "/api/v1/namespaces/default/pods", method="POST", body=body).status == 201
    _set_running(cluster, "app-e")
    node_object = node.request(cluster, f"{NODES}/edge-e").body
    mirror = _pod("static-e", "edge-e", annotations={"kubernetes.io/config.mirror": "hash"},
                  ownerReferences=[{"apiVersion": "v1", "kind": "Node", "name": "edge-e",
                                    "uid": node_object["metadata"]["uid"], "controller": True}])
    posted = node.request(cluster, "/api/v1/namespaces/default/pods", method="POST", body=mirror)
    assert posted.status == 201, posted.body

    mark = audit_mark(cluster)
    with Kubelet(cluster, node):
        result = succeeded(run_plugin(cluster.kubeconfig, "node", "delete", "edge-e", "--drain", "--timeout", "60s",
                                      "--yes", "-o", "json"))
    drain = json.loads(result.stdout)["nodes"][0]["drain"]
    assert drain["evicted"] == ["default/app-e"] and drain["leftTerminating"] == []
    assert sorted(drain["skipped"]) == ["default/agent-e", "default/static-e"]
    assert _pod_status(cluster, "app-e") == 404
    # The mirror pod is owned by its Node, so the garbage collector removes it with the Node; drain never
    # touched it or the DaemonSet's pod.
    assert _pod_status(cluster, "agent-e") == 200
    writes = persisted_writes_since(cluster, mark)
    evictions = [e["objectRef"]["name"] for e in writes if e["objectRef"].get("subresource") == "eviction"]
    assert evictions == ["app-e"], "pods must go through the Eviction API"
    assert [e for e in writes if e["objectRef"]["resource"] == "pods" and e["verb"] != "create"] == []
    cordoned = [e for e in writes if e["verb"] == "patch" and e["objectRef"]["resource"] == "nodes"]
    assert len(cordoned) == 1
    assert admin_request(cluster, f"{NODES}/edge-e").status == 404
    for name in ("agent-e", "static-e"):
        admin_request(cluster, f"/api/v1/namespaces/default/pods/{name}", method="DELETE",
                      body={"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0})
    admin_request(cluster, "/apis/apps/v1/namespaces/default/daemonsets/agent", method="DELETE")


def test_drain_timeout_deletes_nothing_and_leaves_the_node_cordoned(cluster: Any, tmp_path: Path) -> None:
    shared = _token(cluster)
    join(cluster, shared["token"], "edge-f", tmp_path)
    pod = _pod("guarded-f", "edge-f", labels={"app": "guarded-f"})
    assert admin_request(cluster, "/api/v1/namespaces/default/pods", method="POST", body=pod).status == 201
    _set_running(cluster, "guarded-f")
    budget = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
              "metadata": {"name": "guarded-f", "namespace": "default"},
              "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "guarded-f"}}}}
    assert admin_request(cluster, "/apis/policy/v1/namespaces/default/poddisruptionbudgets", method="POST",
                         body=budget).status == 201
    before = objects_of(cluster, "edge-f", [shared["id"]])
    mark = audit_mark(cluster)
    started = time.monotonic()
    result = run_plugin(cluster.kubeconfig, "node", "delete", "edge-f", "--drain", "--timeout", "3s", "--yes")
    assert result.returncode == 4, result.stderr
    assert time.monotonic() - started < 60
    assert "guarded-f" in result.stderr and "PodDisruptionBudget" in result.stderr
    assert "were not deleted" in result.stderr and "uncordon" in result.stderr
    assert [e["verb"] for e in persisted_writes_since(cluster, mark) if e["verb"] == "delete"] == []
    after = objects_of(cluster, "edge-f", [shared["id"]])
    assert after.keys() == before.keys() and all(after.values())
    assert admin_request(cluster, f"{NODES}/edge-f").body["spec"].get("unschedulable") is True
    assert _pod_status(cluster, "guarded-f") == 200
    admin_request(cluster, "/apis/policy/v1/namespaces/default/poddisruptionbudgets/guarded-f", method="DELETE")
    succeeded(run_plugin(cluster.kubeconfig, "node", "delete", "edge-f", "--yes"))
    admin_request(cluster, "/api/v1/namespaces/default/pods/guarded-f", method="DELETE",
                  body={"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0})


def test_drain_of_a_node_that_is_not_ready_does_not_wait_for_its_kubelet(cluster: Any) -> None:
    body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "edge-gone", "labels": EDGE_LABELS}}
    assert admin_request(cluster, NODES, method="POST", body=body).status == 201
    assert admin_request(cluster, "/api/v1/namespaces/default/pods", method="POST",
                         body=_pod("orphan-g", "edge-gone")).status == 201
    _set_running(cluster, "orphan-g")
    result = succeeded(run_plugin(cluster.kubeconfig, "node", "delete", "edge-gone", "--drain", "--timeout", "120s",
                                  "--yes", "-o", "json"))
    drain = json.loads(result.stdout)["nodes"][0]["drain"]
    assert drain["evicted"] == ["default/orphan-g"] and drain["leftTerminating"] == ["default/orphan-g"]
    pod = admin_request(cluster, "/api/v1/namespaces/default/pods/orphan-g").body
    assert pod["metadata"].get("deletionTimestamp"), "the pod was evicted (terminating)"
    assert admin_request(cluster, f"{NODES}/edge-gone").status == 404
    admin_request(cluster, "/api/v1/namespaces/default/pods/orphan-g", method="DELETE",
                  body={"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0})
