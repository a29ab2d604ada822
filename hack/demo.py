#!/usr/bin/env python3
"""`make demo`: bring up a local cluster, run kubectl-edge's main job on it step by step, tear it down.

    hack/demo.py [--keep] [--dir DIR] [--superedge-bin DIR]

With ``--superedge-bin DIR`` (``make demo SUPEREDGE_BIN=DIR``), DIR's lite-apiserver goes into the install
package and addon gets the cluster CA's key, so the edge node joins with edge autonomy; then the demo cuts the
node's link and shows its pod keep running. Without it, the node joins with autonomy off, and says why.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import localcluster

REPO = Path(__file__).resolve().parent.parent


def step(title: str, argv: list[str], env: dict[str, str]) -> None:
    """Print a step and its command, run it, stop the demo when it fails."""
    shown = " ".join(shlex.quote(a) for a in argv)
    print(f"\n==> {title}\n$ {shown}" if title else f"$ {shown}", flush=True)
    started = time.monotonic()
    result = subprocess.run(argv, env=env)
    print(f"    ({time.monotonic() - started:.1f} s, exit {result.returncode})", flush=True)
    if result.returncode != 0:
        raise SystemExit(f"demo: step failed: {title}")


def edge_node_steps(root: Path, cluster: localcluster.LocalCluster, env: dict[str, str],
                    lite_apiserver: Path | None) -> None:
    """A simulated edge node joins with the printed line, runs a pod, and is reset and removed again."""
    import build_binaries
    import edgenode
    import images
    import node_tools

    edgenode.install_node_packages()
    made = images.build(root / "images")
    package = root / "kube-linux-amd64.tar.gz"
    edgeadm = root / "edgeadm"
    autonomy = ["--lite-apiserver", str(lite_apiserver)] if lite_apiserver else []
    step("the static install package, from the kubelet and crictl built here, Debian's CNI plugins" +
         (f" and {lite_apiserver}" if lite_apiserver else ""),
         ["kubectl", "edge", "package", "build", "--kubelet", str(build_binaries.binary_dir() / "kubelet"),
          "--cni", "/usr/lib/cni", "--binary", str(node_tools.ensure_built() / "crictl"), *autonomy,
          "-o", str(package)], env)
    step("the edge-node installer: one file for any python3 >= 3.8", ["kubectl", "edge", "installer", "-o",
                                                                      str(edgeadm)], env)
    print("\n==> an edge node: network namespace edge1 (198.18.0.2), its own mounts and containerd; it reaches the "
          f"API server at 198.18.0.1:{cluster.api_port}, an address the server's certificate does not name",
          flush=True)
    with edgenode.running_node("edge1", root / "edge1", cluster.api_port, list(made.values())) as node:
        created = subprocess.run(["kubectl", "edge", "token", "create", "--print-join-command", "--public-address",
                                  f"{node.host_ip}:{cluster.api_port}", "--install-pkg-path", str(package)],
                                 env=env, capture_output=True, text=True)
        sys.stderr.write(created.stderr)
        if created.returncode != 0:
            raise SystemExit("demo: step failed: token create")
        line = created.stdout.strip().splitlines()[-1]
        print(f"\n==> the join line kubectl edge printed:\n{line}", flush=True)
        join = [sys.executable, str(edgeadm), *shlex.split(line)[1:], "--node-name", "edge1"]
        step("on the node: edgeadm join (the line above, with a node name)", node.argv(join), node.env())
        step("the edge node is Ready with the edge labels",
             ["kubectl", "wait", "--for=condition=Ready", "node/edge1", "--timeout=120s"], env)
        step("", ["kubectl", "get", "nodes", "-o", "wide", "--show-labels"], env)
        step("a pod for edge nodes", ["kubectl", "run", "hello-edge", "--image", images.HELLO_IMAGE,
                                      "--image-pull-policy=Never", "--restart=Never",
                                      "--overrides", '{"spec":{"nodeSelector":{"superedge.io/edge-node":"enable"}}}',
                                      "--", "hello from the edge"], env)
        step("", ["kubectl", "wait", "--for=condition=Ready", "pod/hello-edge", "--timeout=120s"], env)
        step("its log, read through the API server and the edge node's kubelet", ["kubectl", "logs", "hello-edge"],
             env)
        if lite_apiserver:
            print("\n==> edge autonomy: the node's link to the cloud is cut for 50 s (iptables in its namespace)",
                  flush=True)
            node.cut_off()
            time.sleep(50)
            step("on the node, cut off: its pod's container still runs (crictl)",
                 node.argv([str(node_tools.ensure_built() / "crictl"), "--runtime-endpoint",
                            f"unix://{edgenode.CONTAINERD_SOCKET}", "ps", "--name", "hello"]), node.env())
            node.reconnect()
            step("the link is back: the node is Ready again",
                 ["kubectl", "wait", "--for=condition=Ready", "node/edge1", "--timeout=120s"], env)
        step("the addon at a glance", ["kubectl", "edge", "status"], env)
        step("on the node: edgeadm reset", node.argv([sys.executable, str(edgeadm), "reset", "--force"]),
             node.env())
        step("the cluster side of the node's removal", ["kubectl", "edge", "node", "delete", "edge1", "--yes"], env)
        step("", ["kubectl", "delete", "pod", "hello-edge", "--force", "--grace-period=0"], env)
    print("==> the edge node is gone: no process, mount, namespace, veth or cgroup of it remains", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    parser.add_argument("--dir", type=Path, help="cluster directory (default: a new temporary one)")
    parser.add_argument("--superedge-bin", type=Path, metavar="DIR",
                        help="a directory with SuperEdge's lite-apiserver: the edge node joins with edge autonomy")
    args = parser.parse_args()
    lite_apiserver = args.superedge_bin / "lite-apiserver" if args.superedge_bin else None
    if lite_apiserver and not lite_apiserver.is_file():
        raise SystemExit(f"demo: {lite_apiserver} does not exist: --superedge-bin names a directory holding "
                         "SuperEdge's lite-apiserver")
    if lite_apiserver is None:
        print("==> no SUPEREDGE_BIN given, so no lite-apiserver: the edge node joins with edge autonomy off "
              "(make demo SUPEREDGE_BIN=DIR turns it on)", flush=True)
    root = (args.dir or Path(tempfile.mkdtemp(prefix="kubectl-edge-demo-"))).resolve()
    print(f"==> starting a local control plane (etcd, kube-apiserver, controller manager, scheduler) in {root}",
          flush=True)
    started = time.monotonic()
    cluster = localcluster.start(root, flavour="bare", signer=True)
    print(f"    up at {cluster.server} in {time.monotonic() - started:.1f} s", flush=True)
    env = cluster.env()
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    try:
        step("the plugin as kubectl finds it", ["kubectl", "plugin", "list", "--name-only"], env)
        step("client and server versions", ["kubectl", "edge", "version"], env)
        import edgenode

        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as kubelet_config:
            kubelet_config.write(edgenode.NODE_KUBELET_CONFIG)
            kubelet_config.flush()
            step("the cluster owner's kubelet settings for nodes of this kind of machine (addon keeps them)",
                 ["kubectl", "create", "configmap", "kubelet-config", "-n", "kube-system",
                  f"--from-file=kubelet={kubelet_config.name}"], env)
        ca = ["--ca-cert", str(root / "pki" / "ca.crt"), "--ca-key", str(root / "pki" / "ca.key")] \
            if lite_apiserver else []
        step("prepare the cluster for edge nodes (preflight, prerequisites, components; no registry here, so the "
             "edge components' images point at the nodes' loopback)" +
             ("; the CA key signs lite-apiserver's certificate" if ca else ""),
             ["kubectl", "edge", "addon", *ca, *edgenode.LOCAL_IMAGE_VALUES], env)
        step("a second addon finds everything in place and changes nothing",
             ["kubectl", "edge", "addon", *ca, *edgenode.LOCAL_IMAGE_VALUES], env)
        step("a join line for an edge node, its address checked from here",
             ["kubectl", "edge", "token", "create", "--print-join-command"], env)
        edge_node_steps(root, cluster, env, lite_apiserver)
        if not args.keep:
            step("undo addon exactly", ["kubectl", "edge", "detach"], env)
    finally:
        if args.keep:
            print(f"\nThe cluster keeps running. Use it with:\n    eval \"$({sys.executable} "
                  f"{REPO / 'hack' / 'localcluster.py'} env --dir {root})\"\n    kubectl edge version\n"
                  f"Stop it with:\n    {sys.executable} {REPO / 'hack' / 'localcluster.py'} down --dir {root}")
        else:
            localcluster.stop(root)
            print("\n==> cluster stopped and removed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
