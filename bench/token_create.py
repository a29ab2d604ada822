#!/usr/bin/env python3
"""``kubectl edge token create --print-join-command`` beside ``kubeadm token create --print-join-command``.

Both run against the same local kubeadm-flavoured cluster (after ``kubectl edge addon``, so the plugin knows
the controller manager signs), as new processes, interleaved, several times; the medians and their ratio are
printed. Goal: ratio <= 1.0. The plugin's line is checked (TCP, TLS, chain, SANs) and kubeadm's is not, and
``kubectl-edge token --help`` is timed too: the floor of interpreter and CLI start-up under every command.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "hack"))
import build_binaries
import localcluster

RUNS = int(os.environ.get("BENCH_RUNS", "15"))
GOAL = 1.0


def _run(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, env=env, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"token_create: {' '.join(argv)} failed:\n{result.stderr}")
    return elapsed


def main() -> int:
    plugin = shutil.which("kubectl-edge", path=str(Path(sys.executable).parent)) or "kubectl-edge"
    root = Path(tempfile.mkdtemp(prefix="kubectl-edge-bench-"))
    cluster = localcluster.start(root / "cluster", flavour="kubeadm", signer=True,
                                 bin_dir=build_binaries.binary_dir())
    try:
        env = {**os.environ, "KUBECONFIG": cluster.kubeconfig, "NO_COLOR": "1"}
        _run([plugin, "addon"], env)
        commands = {
            "kubeadm token create --print-join-command": [cluster.binary("kubeadm"), "token", "create",
                                                          "--print-join-command", "--kubeconfig", cluster.kubeconfig],
            "kubectl-edge token create --print-join-command": [plugin, "token", "create", "--print-join-command"],
            "kubectl-edge token --help (start-up floor)": [plugin, "token", "--help"],
        }
        samples: dict[str, list[float]] = {label: [] for label in commands}
        for argv in commands.values():
            _run(argv, env)  # warm-up: page cache, Python bytecode
        for _ in range(RUNS):
            for label, argv in commands.items():  # interleaved, so drift hits every command alike
                samples[label].append(_run(argv, env))
        medians = {label: statistics.median(values) for label, values in samples.items()}
        baseline = medians["kubeadm token create --print-join-command"]
        for label, seconds in medians.items():
            if label.startswith("kubeadm"):
                print(f"token_create: {label:<50} median {seconds * 1000:7.1f} ms  (peer)")
                continue
            ratio = seconds / baseline
            verdict = "" if "floor" in label else f"  goal <= {GOAL:.1f}x: {'meets' if ratio <= GOAL else 'MISSES'}"
            print(f"token_create: {label:<50} median {seconds * 1000:7.1f} ms  ratio {ratio:5.2f}x{verdict}")
        print(f"token_create: {RUNS} runs each, interleaved, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    finally:
        localcluster.stop(root / "cluster")
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
