"""L4: a cluster prepared by SuperEdge's own ``edgeadm addon edge-apps``, then adopted, shown and detached.

SuperEdge's edgeadm (``SUPEREDGE_BIN/edgeadm``) runs against the local kubeadm-flavoured cluster, which keeps
``default/kubernetes`` Endpoints as a real one does. On Kubernetes >= 1.25 it stops where it writes
EndpointSlices through ``discovery.k8s.io/v1beta1``, after its components and before edge-info: that is the
state a SuperEdge user has. ``kubectl edge addon --adopt`` must take it over keeping the tunnel token, the
certificates, the health-check key and the NodePorts; ``status`` must show the release; ``detach`` must
return every object to edgeadm's state (up to what the API server assigns).

The second test runs it live: edgeadm's tunnel-cloud on a cloud node joined by the real ``kubeadm join``, and
a tunnel-edge started from the configuration edgeadm gave edge nodes (its ConfigMap and Secret, as its
DaemonSet mounts them) in an edge node's namespace. That tunnel-edge, never restarted or reconfigured, must be
connected to tunnel-cloud before the adoption, after it and after detach. Images of the given binaries carry
the names edgeadm's ``--edge-image-repository``/``--edge-version`` give them, and adopt is given the same
flags. tunnel-cloud's NodePort, which kube-proxy would route on the edge node's gateway, is a forwarder there
that follows the Service's endpoints.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from clusterkit import admin_request, run_plugin, snapshot, succeeded, wait_for
from l4kit import (
    label_node,
    list_pods,
    node_ready,
    route_kubernetes_service,
    stop,
    superedge_binary,
    superedge_edgeadm,
    workload_controllers,
)

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "hack"))
sys.path.insert(0, str(REPO / "tests" / "integration"))
import build_binaries  # noqa: E402
import cloudnode  # noqa: E402
import edgenode  # noqa: E402
import forwarder  # noqa: E402
import images  # noqa: E402
import localcluster  # noqa: E402
import node_tools  # noqa: E402
from test_adopt import _settled  # noqa: E402

NS = "/api/v1/namespaces/edge-system"


def _edgeadm_addon(cluster: Any, work: Path, public_addr: str, *flags: str) -> dict[str, Any]:
    """SuperEdge's ``edgeadm addon edge-apps`` on the cluster; the tunnel-cloud Service it made."""
    started = time.monotonic()
    result = subprocess.run(
        [str(superedge_edgeadm()), "addon", "edge-apps", f"--ca.cert={cluster.ca_cert}", f"--ca.key={cluster.ca_key}",
         f"--kubeconfig={cluster.kubeconfig}", f"--worker-path={work}/", f"--master-public-addr={public_addr}",
         *flags], capture_output=True, text=True, timeout=900, check=False)
    print(f"edgeadm addon edge-apps: exit {result.returncode} after {time.monotonic() - started:.1f} s")
    service = admin_request(cluster, f"{NS}/services/tunnel-cloud")
    assert service.status == 200, f"edgeadm made no tunnel-cloud:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return dict(service.body)


@pytest.fixture
def edgeadm_prepared(tmp_path: Path) -> Iterator[tuple[Any, dict[str, Any]]]:
    """A kubeadm-flavoured cluster after SuperEdge's edgeadm addon edge-apps, and what it made."""
    with localcluster.running(tmp_path / "cluster", "kubeadm") as cluster:
        service = _edgeadm_addon(cluster, tmp_path / "edgeadm-work", "198.18.0.1")
        made = {
            "token": admin_request(cluster, f"{NS}/configmaps/tunnel-cloud-token").body["data"]["token"],
            "cloud": admin_request(cluster, f"{NS}/secrets/tunnel-cloud-cert").body["data"],
            "edge": admin_request(cluster, f"{NS}/secrets/tunnel-edge-cert").body["data"],
            "hmac": admin_request(cluster, f"{NS}/configmaps/hmac-config").body["data"]["hmackey"],
            "webhook": admin_request(cluster, f"{NS}/secrets/validate-admission-control-server-certs").body["data"],
            "nodePorts": {p["name"]: p["nodePort"] for p in service["spec"]["ports"]},
            "edgeConf": admin_request(cluster, f"{NS}/configmaps/tunnel-edge-conf").body["data"]["mode.toml"],
        }
        yield cluster, made


def test_adopt_what_superedge_edgeadm_made_and_detach_back(edgeadm_prepared: tuple[Any, dict[str, Any]]) -> None:
    cluster, made = edgeadm_prepared
    before = snapshot(cluster)
    refused = run_plugin(cluster.kubeconfig, "addon")
    assert refused.returncode != 0 and "prepared by SuperEdge's edgeadm" in refused.stderr, refused.stderr

    started = time.monotonic()
    succeeded(run_plugin(cluster.kubeconfig, "addon", "--adopt"))
    print(f"addon --adopt: {time.monotonic() - started:.1f} s")
    assert admin_request(cluster, f"{NS}/configmaps/tunnel-cloud-token").body["data"]["token"].strip() == \
        made["token"].strip()
    cloud = admin_request(cluster, f"{NS}/secrets/tunnel-cloud-cert").body["data"]
    assert {key: cloud[key] for key in made["cloud"]} == made["cloud"]
    assert admin_request(cluster, f"{NS}/secrets/tunnel-edge-cert").body["data"]["ca.crt"] == made["edge"]["ca.crt"]
    assert admin_request(cluster, f"{NS}/configmaps/hmac-config").body["data"]["hmackey"] == made["hmac"]
    webhook = admin_request(cluster, f"{NS}/secrets/validate-admission-control-server-certs").body["data"]
    assert base64.b64decode(webhook["server.crt"]) == base64.b64decode(made["webhook"]["server.crt"])
    service = admin_request(cluster, f"{NS}/services/tunnel-cloud").body
    assert {p["name"]: p["nodePort"] for p in service["spec"]["ports"]} == made["nodePorts"]

    # tunnel-edge's configuration dials the same host and NodePort with the same token.
    conf = admin_request(cluster, f"{NS}/configmaps/tunnel-edge-conf").body["data"]["mode.toml"]
    for key in ("server_name", "token"):
        wanted = [line.split("=", 1)[1].strip() for line in made["edgeConf"].splitlines()
                  if line.strip().startswith(key)]
        got = [line.split("=", 1)[1].strip() for line in conf.splitlines() if line.strip().startswith(key)]
        assert wanted and got == wanted, (key, wanted, got)

    status = succeeded(run_plugin(cluster.kubeconfig, "status"))
    assert "superedge-addon" in status.stdout and "SuperEdge's edgeadm" not in status.stdout, status.stdout

    started = time.monotonic()
    succeeded(run_plugin(cluster.kubeconfig, "detach"))
    print(f"detach: {time.monotonic() - started:.1f} s")
    assert _settled(cluster, before) == []


# --- a tunnel-edge connected through the adoption ------------------------------------------------------------

CLOUD, EDGE = "l4a-cloud", "l4a-edge"
CLOUD_INDEX, EDGE_INDEX = 6, 5
CLOUD_PODS = "198.19.68.0/24"
IMAGE_REPOSITORY, EDGE_VERSION = "localhost/superedge-l4", "v0.9.0"
#: The binaries whose images edgeadm's manifests and the chart name <repository>/<binary>:<version>.
IMAGE_BINARIES = ("tunnel", "edge-health", "edge-health-admission", "application-grid-controller",
                  "application-grid-wrapper")
#: edgeadm's tunnel-cloud Deployment selects nodes by the label kubeadm gave control-plane nodes before 1.24.
MASTER_LABEL = {"node-role.kubernetes.io/master": ""}


class NodePort:
    """tunnel-cloud's grpc NodePort on the edge node's gateway: a forwarder that follows the Service's ready
    endpoints, as kube-proxy does (connections relayed to a pod that went away end with it)."""

    def __init__(self, cluster: Any, host: str, port: int) -> None:
        self.cluster = cluster
        self.forwarding = forwarder.Forwarder("127.0.0.1", 9, host, port)
        self.endpoint = ""
        #: why reading the endpoints failed, for a failing test's message
        self.errors: list[str] = []
        self._stopping = threading.Event()
        self._follower = threading.Thread(target=self._follow, daemon=True)

    def start(self) -> NodePort:
        self.forwarding.start()
        self._follower.start()
        return self

    def _follow(self) -> None:
        while not self._stopping.wait(0.5):
            try:
                answer = admin_request(self.cluster, f"{NS}/endpoints/tunnel-cloud")
            except OSError as exc:  # the API server busy or going away: ask again, and say so if it lasts
                self.errors.append(str(exc))
                continue
            subsets = (answer.body or {}).get("subsets") or [] if answer.status == 200 else []
            ready = [address["ip"] for subset in subsets for address in subset.get("addresses") or []]
            if ready and ready[0] != self.endpoint:
                self.endpoint = ready[0]
                self.forwarding.retarget(self.endpoint, 9000)

    def stop(self) -> None:
        self._stopping.set()
        self._follower.join(timeout=5)
        self.forwarding.stop()


@dataclass
class Connected:
    """The cluster after edgeadm's addon, its cloud node, and a tunnel-edge that runs edgeadm's configuration."""

    cluster: localcluster.LocalCluster
    node_port: NodePort
    tunnel_edge: subprocess.Popen[bytes]
    tunnel_edge_log: Path


def _kubeadm_token(cluster: localcluster.LocalCluster) -> tuple[str, str]:
    """A token and the CA hash from the real ``kubeadm token create --print-join-command``."""
    root = Path(cluster.dir)
    result = subprocess.run(localcluster.with_own_resolver(root, [
        cluster.binary("kubeadm"), "token", "create", "--print-join-command",
        f"--kubeconfig={root / 'kubeadm-admin.kubeconfig'}"]), capture_output=True, text=True, check=True)
    words = result.stdout.split()
    return words[words.index("--token") + 1], words[words.index("--discovery-token-ca-cert-hash") + 1]


def _tunnel_cloud_pods(cluster: Any) -> list[dict[str, Any]]:
    return [p for p in list_pods(cluster) if p["metadata"]["name"].startswith("tunnel-cloud-")
            and not p["metadata"].get("deletionTimestamp")]


def _listed_by(pod_ip: str) -> str:
    """What tunnel-cloud's health endpoint on ``pod_ip`` says (it names the edge nodes connected to it)."""
    try:
        with urllib.request.urlopen(f"http://{pod_ip}:51010/cloud/healthz", timeout=5) as answer:
            return str(answer.read().decode())
    except OSError as exc:
        return f"({exc})"


@pytest.fixture
def connected(tmp_path: Path) -> Iterator[Connected]:
    """edgeadm's addon with its tunnel-cloud running on a cloud node, and a tunnel-edge connected to it."""
    tunnel = superedge_binary("tunnel")
    edgenode.install_node_packages()
    made = list(images.build(tmp_path / "images").values())
    for name in IMAGE_BINARIES:
        made.append(images.binary_image(superedge_binary(name), f"{IMAGE_REPOSITORY}/{name}:{EDGE_VERSION}",
                                        tmp_path / "images" / f"{name}.tar"))
    with localcluster.running(tmp_path / "cluster", "kubeadm") as cluster:
        controllers = workload_controllers(cluster)
        cloud = cloudnode.CloudNode(name=CLOUD, scratch=tmp_path / "cloud", index=CLOUD_INDEX, pod_subnet=CLOUD_PODS)
        edge = edgenode.EdgeNode(name=EDGE, scratch=tmp_path / "edge", index=EDGE_INDEX)
        node_port: NodePort | None = None
        try:
            # A cloud node the cluster had before SuperEdge (edgeadm rewrites cluster-info, which kubeadm join
            # reads), with the label edgeadm's tunnel-cloud selects.
            cloud.create(cluster.api_port)
            cloud.start_containerd(made)
            route_kubernetes_service(cloud, cluster.api_port)
            subprocess.run(["ip", "route", "add", CLOUD_PODS, "via", cloud.node_ip], check=True)
            cloud.install_kubeadm(build_binaries.binary_dir(), node_tools.ensure_built() / "crictl")
            # kubeadm's kubelet-config is for a stock machine; this one's settings (cgroup v1, ...) by a patch.
            cloud.write_file(f"{cloudnode.PATCHES_DIR}/kubeletconfiguration1+merge.yaml", edgenode.NODE_KUBELET_CONFIG)
            joined = cloud.kubeadm_join(*_kubeadm_token(cluster))
            assert joined.returncode == 0, joined.stdout + joined.stderr[-4000:]
            assert wait_for(lambda: node_ready(cluster, CLOUD), timeout=120, interval=1), cloud.kubelet_log()
            label_node(cluster, CLOUD, {**cloudnode.CLOUD_NODE_LABELS, **MASTER_LABEL})
            edge.create(cluster.api_port)

            service = _edgeadm_addon(cluster, tmp_path / "edgeadm-work", edge.host_ip,
                                     f"--edge-image-repository={IMAGE_REPOSITORY}", f"--edge-version={EDGE_VERSION}")
            grpc = next(p["nodePort"] for p in service["spec"]["ports"] if p["port"] == 9000)
            # edgeadm writes tunnel-cloud's configuration for tunnel v0.8, its default image; the v0.9 tunnel
            # given here dereferences [mode.cloud.tls] unchecked (a panic in egress.go without it), so the table
            # is added as a SuperEdge user moving to v0.9's images adds it (before the pod first starts).
            cloud_conf = admin_request(cluster, f"{NS}/configmaps/tunnel-cloud-conf").body["data"]["mode.toml"]
            if "[mode.cloud.tls]" not in cloud_conf:
                tls = ('\n        [mode.cloud.tls]\n'
                       '            tls_cipher_suites = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"\n'
                       '            tls_min_version = "VersionTLS12"\n')
                answer = admin_request(cluster, f"{NS}/configmaps/tunnel-cloud-conf", method="PATCH",
                                       body={"data": {"mode.toml": cloud_conf.rstrip("\n") + tls}},
                                       content_type="application/merge-patch+json")
                assert answer.status == 200, answer.body
            # edgeadm's addon names tunnel's image by its own defaults whatever --edge-image-repository says:
            # the given tunnel binary under that name as well.
            deployment = admin_request(cluster, "/apis/apps/v1/namespaces/edge-system/deployments/tunnel-cloud").body
            reference = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
            if reference != f"{IMAGE_REPOSITORY}/tunnel:{EDGE_VERSION}":
                tarball = images.binary_image(tunnel, reference, tmp_path / "images" / "edgeadms-tunnel.tar")
                cloud.run(["ctr", "-a", edgenode.CONTAINERD_SOCKET, "-n", "k8s.io", "images", "import", str(tarball)])
                print(f"edgeadm's tunnel-cloud runs {reference}: the given tunnel binary imported under that name")
            node_port = NodePort(cluster, edge.host_ip, grpc).start()

            # What edgeadm's tunnel-edge DaemonSet mounts, on the edge node, and the binary its image runs.
            conf = admin_request(cluster, f"{NS}/configmaps/tunnel-edge-conf").body["data"]["mode.toml"]
            ca = base64.b64decode(admin_request(cluster, f"{NS}/secrets/tunnel-edge-cert").body["data"]["ca.crt"])
            edge.write_file("/etc/tunnel/conf/mode.toml", conf)
            edge.write_file("/etc/tunnel/certs/ca.crt", ca.decode())
            edge.run(["mkdir", "-p", "/var/log/tunnel"])
            log = tmp_path / "tunnel-edge.log"
            tunnel_edge = edge.spawn(["env", f"NODE_NAME={EDGE}", str(tunnel), "--m=edge",
                                      "--c=/etc/tunnel/conf/mode.toml", "--log-dir=/var/log/tunnel",
                                      "--alsologtostderr"], log)
            yield Connected(cluster, node_port, tunnel_edge, log)
        finally:
            if node_port is not None:
                node_port.stop()
            problems = edge.destroy() + cloud.destroy()
            subprocess.run(["ip", "route", "del", CLOUD_PODS], check=False, capture_output=True)
            stop(controllers)
    assert not problems, problems
    for node in (cloud, edge):
        assert edgenode.leftovers(node.name, node.cgroup_root) == []


def _connected_through(live: Connected, other_than: str = "", timeout: float = 240) -> tuple[dict[str, Any], float]:
    """The Ready tunnel-cloud pod (other than the pod uid ``other_than``) that lists the edge node, and how long
    that took; the tunnel-edge process is still the one started before."""
    started = time.monotonic()

    def listing() -> dict[str, Any] | None:
        for pod in _tunnel_cloud_pods(live.cluster):
            ip = (pod.get("status") or {}).get("podIP")
            if ip and pod["metadata"]["uid"] != other_than and ip == live.node_port.endpoint \
                    and EDGE in _listed_by(ip):
                return pod
        return None

    pod = wait_for(listing, timeout=timeout, interval=1)
    assert live.tunnel_edge.poll() is None, live.tunnel_edge_log.read_text()[-3000:]
    assert pod, (f"no tunnel-cloud lists {EDGE}: "
                 + "; ".join(f"{p['metadata']['name']}: {_listed_by(p['status'].get('podIP', ''))}"
                             for p in _tunnel_cloud_pods(live.cluster) if p.get("status"))
                 + f"\nendpoint followed: {live.node_port.endpoint or '(none)'}; errors reading it: "
                 f"{live.node_port.errors[-3:]}\ntunnel-edge:\n{live.tunnel_edge_log.read_text()[-3000:]}")
    return pod, time.monotonic() - started


@pytest.mark.timeout(1200)  # its set-up joins a cloud node and runs edgeadm's addon; then adopt and detach
def test_a_tunnel_edge_connected_before_adoption_is_connected_after_it_and_after_detach_unrestarted(
        connected: Connected) -> None:
    live = connected
    edgeadms, waited = _connected_through(live)
    print(f"tunnel-edge connected to edgeadm's tunnel-cloud {edgeadms['metadata']['name']} after {waited:.1f} s")
    assert edgeadms["metadata"]["labels"].get("app") == "tunnel-cloud"

    started = time.monotonic()
    succeeded(run_plugin(live.cluster.kubeconfig, "addon", "--adopt", "--edge-image-repository", IMAGE_REPOSITORY,
                         "--edge-version", EDGE_VERSION))
    print(f"addon --adopt: {time.monotonic() - started:.1f} s")
    adopted, waited = _connected_through(live, other_than=edgeadms["metadata"]["uid"])
    print(f"the same tunnel-edge connected to the release's tunnel-cloud {adopted['metadata']['name']} "
          f"{waited:.1f} s after adopt returned")
    assert adopted["metadata"]["labels"].get("app.kubernetes.io/instance") == "superedge-addon", adopted["metadata"]

    started = time.monotonic()
    succeeded(run_plugin(live.cluster.kubeconfig, "detach"))
    print(f"detach: {time.monotonic() - started:.1f} s")
    back, waited = _connected_through(live, other_than=adopted["metadata"]["uid"])
    print(f"and to edgeadm's tunnel-cloud {back['metadata']['name']} again {waited:.1f} s after detach returned")
    assert back["metadata"]["labels"].get("app") == "tunnel-cloud" and \
        "app.kubernetes.io/instance" not in back["metadata"]["labels"]
    assert live.tunnel_edge.poll() is None
