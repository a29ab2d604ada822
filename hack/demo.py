#!/usr/bin/env python3
"""`make demo`: bring up a local cluster, run kubectl-edge's main job on it step by step, tear it down.

    hack/demo.py [--keep] [--dir DIR]
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
    print(f"\n==> {title}\n$ {shown}", flush=True)
    started = time.monotonic()
    result = subprocess.run(argv, env=env)
    print(f"    ({time.monotonic() - started:.1f} s, exit {result.returncode})", flush=True)
    if result.returncode != 0:
        raise SystemExit(f"demo: step failed: {title}")


def edge_node_steps(root: Path, env: dict[str, str]) -> None:
    """edgeadm joins a scratch node root to the cluster (kubelet not started: no systemd here), then resets it."""
    edgeadm = root / "edgeadm"
    node = root / "edge-node"
    (node / "etc").mkdir(parents=True, exist_ok=True)
    (node / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    step("the edge-node installer: one file for any python3 >= 3.8", ["kubectl", "edge", "installer", "-o",
                                                                      str(edgeadm)], env)
    created = subprocess.run(["kubectl", "edge", "token", "create", "--print-join-command"], env=env,
                             capture_output=True, text=True)
    if created.returncode != 0:
        raise SystemExit(f"demo: cannot create a token for the join: {created.stderr.strip()}")
    join = shlex.split(created.stdout.strip().splitlines()[-1])
    step(f"edgeadm joins a scratch node root {node} (files only: kubelet is not started)",
         [str(edgeadm), *join[1:], "--root", str(node), "--skip-phases", "start"], env)
    step("edgeadm reset puts the node root back as it was", [str(edgeadm), "reset", "--root", str(node), "--force"],
         env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    parser.add_argument("--dir", type=Path, help="cluster directory (default: a new temporary one)")
    args = parser.parse_args()
    root = (args.dir or Path(tempfile.mkdtemp(prefix="kubectl-edge-demo-"))).resolve()
    print(f"==> starting a local control plane (etcd, kube-apiserver, kube-controller-manager) in {root}", flush=True)
    started = time.monotonic()
    cluster = localcluster.start(root, flavour="bare", signer=True)
    print(f"    up at {cluster.server} in {time.monotonic() - started:.1f} s", flush=True)
    env = cluster.env()
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    try:
        step("the plugin as kubectl finds it", ["kubectl", "plugin", "list", "--name-only"], env)
        step("client and server versions", ["kubectl", "edge", "version"], env)
        step("prepare the cluster for edge nodes (preflight, prerequisites, components)",
             ["kubectl", "edge", "addon"], env)
        step("a second addon finds everything in place and changes nothing", ["kubectl", "edge", "addon"], env)
        step("a join line for an edge node, its address checked from here",
             ["kubectl", "edge", "token", "create", "--print-join-command"], env)
        edge_node_steps(root, env)
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
