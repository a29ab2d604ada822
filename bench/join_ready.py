#!/usr/bin/env python3
"""From join to Node Ready: ``edgeadm join`` beside the real ``kubeadm join``, on the same kind of node.

A bare local cluster gets the cluster owner's kubelet configuration and ``kubectl edge addon``. Each run
makes two fresh simulated nodes of one kind (hack/cloudnode.py: their own network and mount namespaces,
containerd, mini_init as systemctl), one after the other, and times, from the start of the join command
until the API server reports the Node Ready:

- the peer: ``kubeadm join`` with a token from ``kubectl edge token create``, on a node where kubeadm's
  packages are installed beforehand (kubeadm, kubelet, crictl, CNI plugins, the unit and its drop-in), as
  the kubeadm workflow has them installed before it joins;
- ``edgeadm join`` with its join line, which installs the kubelet, crictl and the CNI plugins from the
  install package itself, then joins (no lite-apiserver in the package: edge autonomy off).

The join commands' own durations are printed too. Every node is reset and torn down between runs (not
timed). Goal: ratio (edgeadm / kubeadm, medians) <= 1.0. Needs root.
"""

from __future__ import annotations

import json
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import benchkit
import build_binaries
import cloudnode
import edgenode
import images
import node_tools
from clusterkit import admin_request, create_node_kubelet_config, run_plugin, succeeded, wait_for

RUNS = benchkit.runs(3)
GOAL = 1.0
CGROUP_ROOT = "kubectl-edge-bench-join"
READY_TIMEOUT = 180.0


def _ready(cluster: Any, name: str) -> bool:
    node = admin_request(cluster, f"/api/v1/nodes/{name}")
    conditions = {c["type"]: c["status"] for c in ((node.body or {}).get("status") or {}).get("conditions", [])} \
        if node.status == 200 else {}
    return conditions.get("Ready") == "True"


def _until_ready(cluster: Any, name: str, started: float, node: cloudnode.CloudNode) -> float:
    if not wait_for(lambda: _ready(cluster, name), timeout=READY_TIMEOUT, interval=0.1):
        raise SystemExit(f"join_ready: node {name} did not turn Ready:\n{node.kubelet_log()}")
    return time.perf_counter() - started


def _kubeadm(cluster: Any, scratch: Path, index: int, made: list[Path]) -> tuple[float, float]:
    name = f"jr-kadm-{index}"
    created = json.loads(succeeded(run_plugin(cluster.kubeconfig, "token", "create", "--print-join-command",
                                              "-o", "json")).stdout)
    with cloudnode.running_node(name, scratch / name, cluster.api_port, made, index=index,
                                cgroup_root=CGROUP_ROOT) as node:
        node.install_kubeadm(build_binaries.binary_dir(), node_tools.ensure_built() / "crictl")
        started = time.perf_counter()
        joined = node.kubeadm_join(created["token"], created["caCertHashes"][0])
        command = time.perf_counter() - started
        if joined.returncode != 0:
            raise SystemExit(f"join_ready: kubeadm join failed:\n{joined.stdout}\n{joined.stderr[-4000:]}")
        ready = _until_ready(cluster, name, started, node)
        node.kubeadm_reset()
    cluster.kubectl("delete", "node", name)
    return command, ready


def _edgeadm(cluster: Any, scratch: Path, index: int, made: list[Path], package: Path, edgeadm: Path
             ) -> tuple[float, float]:
    name = f"jr-eadm-{index}"
    with cloudnode.running_node(name, scratch / name, cluster.api_port, made, index=index,
                                cgroup_root=CGROUP_ROOT) as node:
        created = json.loads(succeeded(run_plugin(
            cluster.kubeconfig, "token", "create", "--print-join-command", "-o", "json",
            "--public-address", f"{node.host_ip}:{cluster.api_port}", "--install-pkg-path", str(package))).stdout)
        argv = shlex.split(created["joinCommand"])
        started = time.perf_counter()
        joined = node.run([sys.executable, str(edgeadm), *argv[1:], "--node-name", name], check=False)
        command = time.perf_counter() - started
        if joined.returncode != 0:
            raise SystemExit(f"join_ready: edgeadm join failed:\n{joined.stdout}\n{joined.stderr[-4000:]}")
        ready = _until_ready(cluster, name, started, node)
        node.run([sys.executable, str(edgeadm), "reset", "--force"], check=False)
    cluster.kubectl("delete", "node", name)
    return command, ready


def main() -> int:
    edgenode.install_node_packages()
    with benchkit.local_cluster("join-ready") as cluster, tempfile.TemporaryDirectory(prefix="join-ready-") as tmp:
        scratch = Path(tmp)
        made = list(images.build(scratch / "images").values())
        create_node_kubelet_config(cluster, f"cgroupRoot: /{CGROUP_ROOT}\n")
        succeeded(run_plugin(cluster.kubeconfig, "addon", *edgenode.LOCAL_IMAGE_VALUES))
        package = scratch / "kube-linux-amd64.tar.gz"
        succeeded(run_plugin(cluster.kubeconfig, "package", "build", "--kubelet",
                             str(build_binaries.binary_dir() / "kubelet"), "--cni", "/usr/lib/cni", "--binary",
                             str(node_tools.ensure_built() / "crictl"), "-o", str(package)))
        edgeadm = scratch / "edgeadm"
        succeeded(run_plugin(cluster.kubeconfig, "installer", "-o", str(edgeadm)))

        kubeadm: list[tuple[float, float]] = []
        ours: list[tuple[float, float]] = []
        # One warm-up pair (page cache, the API server's caches), then the timed pairs, taking turns. Each node
        # gets addresses of its own: a forwarder's listener can outlive its node for a moment.
        _kubeadm(cluster, scratch, 100, made)
        _edgeadm(cluster, scratch, 150, made, package, edgeadm)
        for run in range(RUNS):
            kubeadm.append(_kubeadm(cluster, scratch, 101 + run, made))
            ours.append(_edgeadm(cluster, scratch, 151 + run, made, package, edgeadm))

    peer_command, peer_ready = (benchkit.median([k[i] for k in kubeadm]) for i in (0, 1))
    our_command, our_ready = (benchkit.median([o[i] for o in ours]) for i in (0, 1))
    ratio = our_ready / peer_ready
    print(f"join_ready: {'kubeadm join -> Node Ready':<34} median {peer_ready:6.2f} s "
          f"(join command {peer_command:5.2f} s)  (peer)")
    print(f"join_ready: {'edgeadm join -> Node Ready':<34} median {our_ready:6.2f} s "
          f"(join command {our_command:5.2f} s)  ratio {ratio:.2f}x  goal <= {GOAL}: {benchkit.verdict(ratio, GOAL)}")
    print(f"join_ready: {RUNS} runs each, interleaved, after one warm-up each; edgeadm's time includes installing "
          f"the package; load average {benchkit.load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
