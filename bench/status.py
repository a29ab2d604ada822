#!/usr/bin/env python3
"""``kubectl edge status -o json`` and ``kubectl edge token list -o json`` on a large cluster.

A local cluster gets 5,000 Nodes (half with the edge labels) and 1,000 bootstrap tokens, created through
the API, and ``kubectl edge addon`` (components skipped: no helm needed). Each command then runs several
times as a new process; every run goes through a fresh wrapper process, so ``getrusage(RUSAGE_CHILDREN)``
in the wrapper is the peak RSS of that one run. Medians are printed with the goals: under 2 s wall time and
under 150 MB peak RSS.

Peers, run the same way and interleaved: ``kubeadm token list -o json`` for ``token list``, and for
``status`` ``kubectl get nodes -l superedge.io/node-edge=enable -o json`` (the largest single read status
makes; status reads much more besides).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "hack"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import bigcluster
import build_binaries
import localcluster

RUNS = int(os.environ.get("BENCH_RUNS", "7"))
NODES = int(os.environ.get("BENCH_STATUS_NODES", "5000"))
TOKENS = int(os.environ.get("BENCH_STATUS_TOKENS", "1000"))
GOAL_SECONDS = 2.0
GOAL_MEGABYTES = 150.0
STATUS_PEER = "kubectl get nodes -l superedge.io/node-edge=enable -o json"
TOKEN_PEER = "kubeadm token list -o json"

# Runs one command as its child and reports the child's wall time and peak RSS (ru_maxrss is in KiB on Linux).
WRAPPER = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
result = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": elapsed, "kib": peak, "rc": result.returncode, "bytes": len(result.stdout),
                  "stderr": result.stderr.decode(errors="replace")[-2000:]}))
"""


def _measure(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Seconds, peak megabytes and output size of one run."""
    answer = subprocess.run([sys.executable, "-c", WRAPPER, *argv], capture_output=True, text=True, env=env,
                            check=True)
    figures = json.loads(answer.stdout)
    if figures["rc"] != 0:
        raise SystemExit(f"status: {' '.join(argv)} failed:\n{figures['stderr']}")
    return figures["seconds"], figures["kib"] / 1024, figures["bytes"]


def main() -> int:
    plugin = shutil.which("kubectl-edge", path=str(Path(sys.executable).parent)) or "kubectl-edge"
    root = Path(tempfile.mkdtemp(prefix="kubectl-edge-bench-status-"))
    cluster = localcluster.start(root / "cluster", flavour="bare", signer=True, bin_dir=build_binaries.binary_dir())
    try:
        started = time.perf_counter()
        bigcluster.populate(cluster, nodes=NODES, tokens=TOKENS)
        print(f"status: created {NODES} Nodes and {TOKENS} bootstrap tokens in {time.perf_counter() - started:.1f} s",
              flush=True)
        env = {**os.environ, "KUBECONFIG": cluster.kubeconfig, "NO_COLOR": "1"}
        subprocess.run([plugin, "addon", "--skip-phases", "components"], env=env, check=True, capture_output=True)
        commands = {
            STATUS_PEER: [cluster.binary("kubectl"), "--kubeconfig", cluster.kubeconfig, "get", "nodes", "-l",
                          "superedge.io/node-edge=enable", "-o", "json"],
            "kubectl edge status -o json": [plugin, "status", "-o", "json"],
            TOKEN_PEER: [cluster.binary("kubeadm"), "token", "list", "--kubeconfig", cluster.kubeconfig, "-o", "json"],
            "kubectl edge token list -o json": [plugin, "token", "list", "-o", "json"],
        }
        peers = {"kubectl edge status -o json": STATUS_PEER, "kubectl edge token list -o json": TOKEN_PEER}
        for argv in commands.values():
            _measure(argv, env)  # warm-up: page cache, bytecode, the API server's caches
        samples: dict[str, list[tuple[float, float, int]]] = {label: [] for label in commands}
        for _ in range(RUNS):
            for label, argv in commands.items():  # interleaved, so drift hits both alike
                samples[label].append(_measure(argv, env))
        medians = {label: statistics.median(run[0] for run in runs) for label, runs in samples.items()}
        for label, runs in samples.items():
            seconds = medians[label]
            megabytes = statistics.median(run[1] for run in runs)
            worst = max(run[1] for run in runs)
            figures = (f"status: {label:<60} median {seconds * 1000:7.1f} ms, peak RSS median {megabytes:6.1f} MB "
                       f"(max {worst:.1f}), output {runs[0][2] // 1024} KiB")
            if label not in peers:
                print(f"{figures}  (peer)")
                continue
            verdict = "meets" if seconds < GOAL_SECONDS and worst < GOAL_MEGABYTES else "MISSES"
            print(f"{figures}; ratio {seconds / medians[peers[label]]:5.2f}x; goal < {GOAL_SECONDS:.0f} s and "
                  f"< {GOAL_MEGABYTES:.0f} MB: {verdict}")
        print(f"status: {RUNS} runs each, {NODES} Nodes ({NODES // 2 + NODES % 2} edge), {TOKENS} tokens, "
              f"{os.cpu_count()} cores, Python {sys.version.split()[0]}; load average {os.getloadavg()[0]:.2f}")
    finally:
        localcluster.stop(root / "cluster")
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
