"""L4: the chart's own pods run SuperEdge's binaries on real kubelets, a kubeadm cloud node and an edge node.

SuperEdge's static binaries from ``SUPEREDGE_BIN`` are wrapped into images (hack/images.py, each at
/usr/local/bin/<name> as the chart's commands expect) and imported into both nodes' containerd; the chart is
installed by ``kubectl edge addon`` with those image names. The cloud node is joined by the real
``kubeadm join`` (hack/cloudnode.py) and labelled as a control-plane/cloud node, so ``cloudPlacement`` puts
tunnel-cloud, application-grid-controller and edge-health-admission there; the edge node joins by edgeadm
with lite-apiserver (application-grid-wrapper reaches the API server through it), and runs tunnel-edge,
application-grid-wrapper and edge-health. Each kubelet has a cgroup root of its own: a kubelet removes the pod
cgroups of its root that it does not know, so two kubelets on the default ``/kubepods`` would kill each
other's pods.

What a real cluster's network gives and this machine has not, the test sets up in the nodes' namespaces and
on the host side of their veths only (addresses of 198.18.0.0/15, nothing on another address):

- the ``kubernetes`` Service (198.19.0.1:443), which kube-proxy would route: a DNAT in each node's network
  namespace to the host side of its veth, where edgenode's forwarder leads to the API server;
- the API server's way to pods (webhooks are called at their endpoints): a host route to the cloud node's
  pod range through its veth;
- tunnel-cloud's NodePort, which tunnel-edge dials at ``tunnelCloud.publicHost``: a forwarder on the host
  side of the edge node's veth to the tunnel-cloud pod.

The local control plane runs only the controllers the other tests need; a second controller manager runs
the workload controllers (Deployment, ReplicaSet, DaemonSet, Endpoints, EndpointSlice) here.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from clusterkit import admin_request, create_node_kubelet_config, run_plugin, succeeded, wait_for
from l4kit import (
    label_node,
    list_pods,
    node_ready,
    route_kubernetes_service,
    stop,
    superedge_binary,
    workload_controllers,
)

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "hack"))
import build_binaries  # noqa: E402
import cloudnode  # noqa: E402
import edgenode  # noqa: E402
import forwarder  # noqa: E402
import images  # noqa: E402
import localcluster  # noqa: E402
import node_tools  # noqa: E402

CLOUD, EDGE = "l4c-cloud", "l4c-edge"
CLOUD_INDEX, EDGE_INDEX = 3, 4
CLOUD_PODS, EDGE_PODS = "198.19.66.0/24", "198.19.67.0/24"
NAMESPACE = "edge-system"
TAG = "l4"
#: Chart image value -> the SuperEdge binary its image holds.
IMAGE_BINARIES = {"tunnel": "tunnel", "edgeHealth": "edge-health", "edgeHealthAdmission": "edge-health-admission",
                  "applicationGridController": "application-grid-controller",
                  "applicationGridWrapper": "application-grid-wrapper"}
CLOUD_COMPONENTS = ("tunnel-cloud", "application-grid-controller", "edge-health-admission")
EDGE_COMPONENTS = ("tunnel-edge", "application-grid-wrapper", "edge-health")
STEADY_SECONDS = 120
# The node label the grids split by; its name is also a label value of what the controller makes (no "/").
GRID_KEY = "zone"


@dataclass
class Platform:
    """The cluster with both nodes joined and the chart's pods placed."""

    cluster: localcluster.LocalCluster
    cloud: cloudnode.CloudNode
    edge: cloudnode.IsolatedNode


def _component(pod: dict[str, Any]) -> str:
    return str(pod["metadata"].get("labels", {}).get("app.kubernetes.io/component", ""))


def _ready(pod: dict[str, Any]) -> bool:
    conditions = {c["type"]: c["status"] for c in (pod.get("status") or {}).get("conditions", [])}
    return conditions.get("Ready") == "True"


def _restarts(pod: dict[str, Any]) -> int:
    return sum(int(s.get("restartCount", 0)) for s in (pod.get("status") or {}).get("containerStatuses", []))


def _chart_pods(cluster: Any) -> dict[str, dict[str, Any]]:
    """The running chart pods by component (edge-coredns left out: no CoreDNS binary is given)."""
    found = {}
    for pod in list_pods(cluster):
        if pod["metadata"].get("deletionTimestamp"):
            continue
        component = _component(pod)
        if component in CLOUD_COMPONENTS + EDGE_COMPONENTS:
            found[component] = pod
    return found


def _controller_log(cluster: Any) -> str:
    """The tail of application-grid-controller's log (through the API server and the cloud node's kubelet)."""
    pod = next((p for p in list_pods(cluster) if _component(p) == "application-grid-controller"), None)
    if pod is None:
        return "(no application-grid-controller pod)"
    return str(cluster.kubectl("logs", "-n", NAMESPACE, pod["metadata"]["name"], "--tail=40", check=False).stdout)


def _describe(cluster: Any, platform_nodes: list[cloudnode.IsolatedNode]) -> str:
    lines = []
    for pod in list_pods(cluster):
        statuses = (pod.get("status") or {}).get("containerStatuses", [])
        lines.append(f"{pod['metadata']['name']} on {pod['spec'].get('nodeName')}: "
                     + json.dumps([{k: s.get(k) for k in ("ready", "restartCount", "state", "lastState")}
                                   for s in statuses]))
    for node in platform_nodes:
        lines.append(f"--- {node.name} kubelet errors:\n{node.kubelet_log(30, filter_errors=True)}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    binaries = {value: superedge_binary(name) for value, name in IMAGE_BINARIES.items()}
    lite_apiserver = superedge_binary("lite-apiserver")
    edgenode.install_node_packages()
    scratch = tmp_path_factory.mktemp("l4-components")
    made = [*images.build(scratch / "images").values(), images.build_web(scratch / "images")]
    for binary in binaries.values():
        made.append(images.binary_image(binary, f"localhost/superedge/{binary.name}:{TAG}", scratch / "images" /
                                        f"{binary.name}.tar"))
    image_values = [f"--set=images.{value}.{key}={setting}" for value, name in IMAGE_BINARIES.items()
                    for key, setting in (("repository", f"localhost/superedge/{name}"), ("tag", TAG))]
    image_values.append("--set=imagePullPolicy=Never")

    with localcluster.running(scratch / "cluster", "bare") as cluster:
        controllers = workload_controllers(cluster)
        cloud = cloudnode.CloudNode(name=CLOUD, scratch=scratch / "cloud", index=CLOUD_INDEX, pod_subnet=CLOUD_PODS)
        edge = cloudnode.IsolatedNode(name=EDGE, scratch=scratch / "edge", index=EDGE_INDEX, pod_subnet=EDGE_PODS)
        tunnel_port: list[forwarder.Forwarder] = []
        try:
            # The cluster owner's kubelet configuration, with the edge node's cgroup root; the cloud node's
            # kubelet gets its own by kubeadm's patch.
            create_node_kubelet_config(cluster, f"cgroupRoot: {edge.kubelet_cgroup_root}\n")
            pki = Path(cluster.dir) / "pki"
            addon = ["addon", "--ca-cert", str(pki / "ca.crt"), "--ca-key", str(pki / "ca.key"),
                     f"--set=tunnelCloud.publicHost={edge.host_ip}", *image_values]
            # The prerequisites first: kubeadm join needs them, and the components' placement depends on
            # whether the cluster has a control-plane node, which the kubeadm node is about to be.
            succeeded(run_plugin(cluster.kubeconfig, *addon, "--skip-phases", "components"))

            for node in (cloud, edge):
                node.create(cluster.api_port)
                node.start_containerd(made)
                route_kubernetes_service(node, cluster.api_port)
            subprocess.run(["ip", "route", "add", CLOUD_PODS, "via", cloud.node_ip], check=True)

            created = json.loads(succeeded(run_plugin(cluster.kubeconfig, "token", "create",
                                                      "--print-join-command", "-o", "json")).stdout)
            cloud.install_kubeadm(build_binaries.binary_dir(), node_tools.ensure_built() / "crictl")
            joined = cloud.kubeadm_join(created["token"], created["caCertHashes"][0])
            assert joined.returncode == 0, joined.stdout + joined.stderr[-4000:]
            assert wait_for(lambda: node_ready(cluster, CLOUD), timeout=120, interval=1), cloud.kubelet_log()
            label_node(cluster, CLOUD, {**cloudnode.CLOUD_NODE_LABELS, GRID_KEY: "site-b"})

            package = scratch / "kube-linux-amd64.tar.gz"
            succeeded(run_plugin(cluster.kubeconfig, "package", "build", "--kubelet",
                                 str(build_binaries.binary_dir() / "kubelet"), "--cni", "/usr/lib/cni",
                                 "--lite-apiserver", str(lite_apiserver),
                                 "--binary", str(node_tools.ensure_built() / "crictl"), "-o", str(package)))
            edgeadm = scratch / "edgeadm"
            succeeded(run_plugin(cluster.kubeconfig, "installer", "-o", str(edgeadm)))
            succeeded(run_plugin(cluster.kubeconfig, *addon))
            # tunnel-cloud's NodePort, as tunnel-edge dials it (tunnelCloud.publicHost = the edge's gateway).
            tunnel_cloud = wait_for(lambda: next((p for p in list_pods(cluster) if _component(p) == "tunnel-cloud"
                                                  and (p.get("status") or {}).get("podIP")), None),
                                    timeout=180, interval=1)
            assert tunnel_cloud, _describe(cluster, [cloud, edge])
            tunnel_port.append(forwarder.Forwarder(tunnel_cloud["status"]["podIP"], 9000, edge.host_ip,
                                                   31000).start())
            line = json.loads(succeeded(run_plugin(
                cluster.kubeconfig, "token", "create", "--print-join-command", "-o", "json", "--public-address",
                f"{edge.host_ip}:{cluster.api_port}", "--install-pkg-path", str(package))).stdout)["joinCommand"]
            joined = edge.run([sys.executable, str(edgeadm), *shlex.split(line)[1:], "--node-name", EDGE],
                              check=False)
            assert joined.returncode == 0, joined.stdout + joined.stderr
            assert "edge autonomy is on" in joined.stdout + joined.stderr
            assert wait_for(lambda: node_ready(cluster, EDGE), timeout=120, interval=1), edge.kubelet_log()
            label_node(cluster, EDGE, {GRID_KEY: "site-a"})

            yield Platform(cluster, cloud, edge)
        finally:
            for forwarding in tunnel_port:
                forwarding.stop()
            problems = []
            for node in (edge, cloud):
                problems += node.destroy()
            subprocess.run(["ip", "route", "del", CLOUD_PODS], check=False, capture_output=True)
            stop(controllers)
    assert not problems, problems
    for node in (cloud, edge):
        assert cloudnode.leftovers(node) == []


def test_every_chart_pod_runs_ready_on_its_node_without_restarts(platform: Platform) -> None:
    cluster = platform.cluster

    def all_ready() -> dict[str, dict[str, Any]] | None:
        pods = _chart_pods(cluster)
        complete = set(pods) == set(CLOUD_COMPONENTS + EDGE_COMPONENTS) and all(map(_ready, pods.values()))
        return pods if complete else None

    pods = wait_for(all_ready, timeout=300, interval=2)
    assert pods, _describe(cluster, [platform.cloud, platform.edge])
    for component, pod in pods.items():
        assert pod["spec"]["nodeName"] == (CLOUD if component in CLOUD_COMPONENTS else EDGE), component
    time.sleep(STEADY_SECONDS)
    later = _chart_pods(cluster)
    assert {c: p["metadata"]["uid"] for c, p in later.items()} == {c: p["metadata"]["uid"] for c, p in pods.items()}
    assert {c: _restarts(p) for c, p in later.items()} == dict.fromkeys(pods, 0), \
        _describe(cluster, [platform.cloud, platform.edge])
    assert all(map(_ready, later.values()))


def _running(cluster: Any, namespace: str, name: str) -> bool:
    pod = admin_request(cluster, f"/api/v1/namespaces/{namespace}/pods/{name}").body
    return bool((pod.get("status") or {}).get("phase") == "Running" and _ready(pod))


def _web_pod(name: str, node: str, args: list[str], restart: str = "Always") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": node, "automountServiceAccountToken": False, "terminationGracePeriodSeconds": 0,
                     "restartPolicy": restart,
                     "containers": [{"name": "web", "image": images.WEB_IMAGE, "imagePullPolicy": "Never",
                                     "command": ["/web", *args]}]}}


def test_tunnel_cloud_lists_the_edge_node_and_logs_and_exec_reach_the_edge_node(platform: Platform) -> None:
    cluster = platform.cluster
    tunnel_cloud = next(p for p in _chart_pods(cluster).values() if _component(p) == "tunnel-cloud")
    health = f"http://{tunnel_cloud['status']['podIP']}:51010/cloud/healthz"

    def listed() -> str:
        try:
            with urllib.request.urlopen(health, timeout=5) as answer:
                return str(answer.read().decode())
        except OSError as exc:
            return f"({exc})"

    assert wait_for(lambda: EDGE in listed(), timeout=120, interval=2), \
        f"tunnel-cloud's health endpoint lists the edge node: {listed()}"

    tunnel_edge = next(p for p in _chart_pods(cluster).values() if _component(p) == "tunnel-edge")
    logs = cluster.kubectl("logs", "-n", NAMESPACE, tunnel_edge["metadata"]["name"], check=False)
    assert logs.returncode == 0 and logs.stdout.strip(), logs.stderr
    assert admin_request(cluster, "/api/v1/namespaces/default/pods", method="POST",
                         body=_web_pod("exec-target", EDGE, ["serve", "8080", "exec target"])).status == 201
    assert wait_for(lambda: _running(cluster, "default", "exec-target"), timeout=120, interval=1)
    executed = cluster.kubectl("exec", "-n", "default", "exec-target", "--", "/web", "echo", "exec", "on", EDGE,
                               check=False)
    assert executed.returncode == 0 and executed.stdout.strip() == f"exec on {EDGE}", executed.stderr
    cluster.kubectl("delete", "pod", "-n", "default", "exec-target", "--grace-period=0", "--force", check=False)


def _grid(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "superedge.io/v1", "kind": kind, "metadata": {"name": name, "namespace": "default"},
            "spec": spec}


def _deployment_spec(app: str, replicas: int, text: str) -> dict[str, Any]:
    """Pods answering ``text`` (``$(NODE_NAME)`` is the node's name) on port 8080."""
    node_name = {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
    return {"replicas": replicas, "selector": {"matchLabels": {"app": app}},
            "template": {"metadata": {"labels": {"app": app}},
                         "spec": {"automountServiceAccountToken": False, "terminationGracePeriodSeconds": 0,
                                  "containers": [{"name": "web", "image": images.WEB_IMAGE,
                                                  "imagePullPolicy": "Never", "env": [node_name],
                                                  "command": ["/web", "serve", "8080", text]}]}}}


def _proxy_service(node: cloudnode.IsolatedNode, cluster_ip: str, port: int, endpoints: set[str],
                   target_port: int) -> None:
    """What the edge kube-proxy makes of the endpoints application-grid-wrapper gives it: the Service's
    ClusterIP led to them (one endpoint here), masqueraded so that a pod on the same bridge gets its answer
    back through the node (kube-proxy's hairpin rule)."""
    assert len(endpoints) == 1, endpoints
    endpoint = next(iter(endpoints))
    node.run(["iptables", "-w", "-t", "nat", "-A", "PREROUTING", "-d", f"{cluster_ip}/32", "-p", "tcp", "--dport",
              str(port), "-j", "DNAT", "--to-destination", f"{endpoint}:{target_port}"])
    node.run(["iptables", "-w", "-t", "nat", "-A", "POSTROUTING", "-d", f"{endpoint}/32", "-p", "tcp", "--dport",
              str(target_port), "-j", "MASQUERADE"])


def _site_deployments(cluster: Any, grid: str) -> dict[str, dict[str, Any]] | None:
    """The grid's Deployments once there is one per site (site-a, site-b)."""
    found = _deployments(cluster, grid)
    return found if set(found) == {f"{grid}-site-a", f"{grid}-site-b"} else None


def _deployments(cluster: Any, grid: str) -> dict[str, dict[str, Any]]:
    listed = admin_request(cluster, "/apis/apps/v1/namespaces/default/deployments?labelSelector="
                                    f"superedge.io%2Fgrid-selector%3D{grid}").body
    return {d["metadata"]["name"]: d for d in listed.get("items", [])}


def _through_wrapper(node: cloudnode.IsolatedNode, path: str) -> tuple[int, str]:
    """A plain-HTTP GET to application-grid-wrapper on the node, as the edge kube-proxy (or any process) asks."""
    script = ("import sys, urllib.request, urllib.error\n"
              "try:\n"
              "    request = urllib.request.Request('http://127.0.0.1:51006' + sys.argv[1],\n"
              "                                     headers={'Accept': 'application/json'})\n"
              "    answer = urllib.request.urlopen(request, timeout=10)\n"
              "    print(answer.status); print(answer.read().decode())\n"
              "except urllib.error.HTTPError as exc:\n"
              "    print(exc.code); print(exc.read().decode())\n")
    result = node.run([sys.executable, "-c", script, path], check=False)
    status, _, body = result.stdout.partition("\n")
    return (int(status) if status.strip().isdigit() else 0), body + result.stderr


def test_a_deployment_grid_and_service_grid_give_each_site_its_own_and_site_a_sees_only_site_a(
        platform: Platform) -> None:
    cluster = platform.cluster
    grid = _grid("DeploymentGrid", "echo", {"gridUniqKey": GRID_KEY,
                                             "template": _deployment_spec("echo", 1, "$(NODE_NAME)")})
    assert admin_request(cluster, "/apis/superedge.io/v1/namespaces/default/deploymentgrids", method="POST",
                         body=grid).status == 201
    service_grid = _grid("ServiceGrid", "echo", {"gridUniqKey": GRID_KEY, "template": {
        "selector": {"app": "echo"}, "ports": [{"protocol": "TCP", "port": 80, "targetPort": 8080}]}})
    assert admin_request(cluster, "/apis/superedge.io/v1/namespaces/default/servicegrids", method="POST",
                         body=service_grid).status == 201

    deployments = wait_for(lambda: _site_deployments(cluster, "echo"), timeout=120, interval=2)
    assert deployments, f"per-site Deployments: {sorted(_deployments(cluster, 'echo'))}\n{_controller_log(cluster)}"
    for site in ("site-a", "site-b"):
        spec = deployments[f"echo-{site}"]["spec"]["template"]["spec"]
        assert spec["nodeSelector"] == {GRID_KEY: site}

    def pods_by_node() -> dict[str, str] | None:
        pods = [p for p in list_pods(cluster, "default", "app%3Decho") if _ready(p)]
        placed = {p["spec"]["nodeName"]: p["status"]["podIP"] for p in pods}
        return placed if set(placed) == {EDGE, CLOUD} else None

    placed = wait_for(pods_by_node, timeout=180, interval=2)
    assert placed, _describe(cluster, [platform.cloud, platform.edge])

    service = wait_for(lambda: admin_request(cluster, "/api/v1/namespaces/default/services/echo-svc").body
                       .get("spec"), timeout=60, interval=1)
    assert service, "the ServiceGrid's Service"

    def wrapper_endpoints() -> set[str] | None:
        # As kube-proxy asks: every EndpointSlice of the cluster (the wrapper answers this path from its filtered
        # cache, --support-endpointslice; a namespaced path it passes to the API server as it is).
        status, body = _through_wrapper(platform.edge, "/apis/discovery.k8s.io/v1/endpointslices")
        if status != 200:
            return None
        return {address for item in json.loads(body).get("items") or []
                if (item.get("metadata", {}).get("labels") or {}).get("kubernetes.io/service-name") == "echo-svc"
                for endpoint in item.get("endpoints") or [] for address in endpoint.get("addresses", [])}

    # The API server lists both sites' endpoints; the wrapper on the site-a node only site a's.
    assert wait_for(lambda: wrapper_endpoints() == {placed[EDGE]}, timeout=90, interval=2), \
        f"application-grid-wrapper on site a lists {wrapper_endpoints()}, not only {placed[EDGE]}"
    every = admin_request(cluster, "/api/v1/namespaces/default/endpoints/echo-svc").body
    assert {a["ip"] for s in every.get("subsets") or [] for a in s.get("addresses", [])} == set(placed.values())

    # A client pod on site a, through the Service's ClusterIP as the edge kube-proxy leads it (from the
    # wrapper's endpoints), gets site a's answer.
    _proxy_service(platform.edge, service["clusterIP"], 80, {placed[EDGE]}, 8080)
    client = _web_pod("client-site-a", EDGE, ["get", service["clusterIP"], "80", "/"], restart="Never")
    assert admin_request(cluster, "/api/v1/namespaces/default/pods", method="POST", body=client).status == 201
    assert wait_for(lambda: admin_request(cluster, "/api/v1/namespaces/default/pods/client-site-a").body
                    .get("status", {}).get("phase") in ("Succeeded", "Failed"), timeout=120, interval=1)
    answer = cluster.kubectl("logs", "-n", "default", "client-site-a", check=False)
    assert answer.stdout.strip() == EDGE, f"the client on site a got {answer.stdout!r} {answer.stderr}"

    # A process on the edge node gets no Secret through the wrapper's port.
    for path in ("/api/v1/namespaces/kube-system/secrets", f"/api/v1/namespaces/{NAMESPACE}/secrets"):
        status, body = _through_wrapper(platform.edge, path)
        assert status == 403, f"{path} through application-grid-wrapper: {status} {body[:300]}"


def test_the_canary_example_gives_each_site_its_template_and_the_status_is_written(platform: Platform) -> None:
    cluster = platform.cluster
    grid = _grid("DeploymentGrid", "canary", {
        "gridUniqKey": GRID_KEY, "defaultTemplateName": "test1",
        "templatePool": {"test1": _deployment_spec("canary", 2, "one"), "test2": _deployment_spec("canary", 3, "two")},
        "templates": {"site-a": "test1", "site-b": "test2"}})
    created = admin_request(cluster, "/apis/superedge.io/v1/namespaces/default/deploymentgrids", method="POST",
                            body=grid)
    assert created.status == 201, created.body
    deployments = wait_for(lambda: _site_deployments(cluster, "canary"), timeout=120, interval=2)
    assert deployments, f"{sorted(_deployments(cluster, 'canary'))}\n{_controller_log(cluster)}"
    for site, replicas, text in (("site-a", 2, "one"), ("site-b", 3, "two")):
        spec = deployments[f"canary-{site}"]["spec"]
        assert spec["replicas"] == replicas
        assert spec["template"]["spec"]["containers"][0]["command"][-1] == text

    def states() -> dict[str, Any] | None:
        body = admin_request(cluster, "/apis/superedge.io/v1/namespaces/default/deploymentgrids/canary").body
        found = (body.get("status") or {}).get("states") or {}
        return found if {k: v.get("readyReplicas") for k, v in found.items()} == {"site-a": 2, "site-b": 3} \
            else None

    assert wait_for(states, timeout=240, interval=3), \
        admin_request(cluster, "/apis/superedge.io/v1/namespaces/default/deploymentgrids/canary").body.get("status")


def test_the_api_server_calls_the_edge_health_webhook(platform: Platform) -> None:
    cluster = platform.cluster
    marker = f"l4.superedge.io/webhook-{int(time.time())}"
    label_node(cluster, EDGE, {marker: "called"})

    def annotations() -> dict[str, str] | None:
        for line in reversed(Path(cluster.audit_log).read_text().splitlines()):
            event = json.loads(line)
            ref = event.get("objectRef") or {}
            if ref.get("resource") == "nodes" and ref.get("name") == EDGE and event.get("verb") == "patch" \
                    and not ref.get("subresource") and event.get("user", {}).get("username") == "kubernetes-admin":
                return dict(event.get("annotations") or {})
        return None

    found = wait_for(annotations, timeout=30, interval=1)
    assert found, "the label patch is in the audit log"
    called = {key: value for key, value in found.items() if "webhook.admission.k8s.io" in key}
    assert any(key.startswith("mutation.webhook.admission.k8s.io/") and "edge-health-admission" in value
               for key, value in called.items()), called
    assert not any(key.startswith("failed-open.") for key in called), f"the webhook call failed: {called}"
