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
