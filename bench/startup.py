#!/usr/bin/env python3
"""Cold start of ``kubectl-edge --help`` and ``kubectl-edge version --client`` beside ``kubectl version --client``.

Each command runs as a new process, several times; the medians and their ratio to kubectl are printed.
Goal: ratio <= 2.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "hack"))
import build_binaries

RUNS = int(os.environ.get("BENCH_RUNS", "15"))
GOAL = 2.0


def median_seconds(argv: list[str]) -> float:
    """Median wall time of ``argv`` over RUNS fresh processes (one warm-up run first)."""
    env = {**os.environ, "NO_COLOR": "1"}
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> int:
    plugin = shutil.which("kubectl-edge", path=str(Path(sys.executable).parent)) or "kubectl-edge"
    kubectl = str(build_binaries.binary_dir() / "kubectl")
    baseline = median_seconds([kubectl, "version", "--client"])
    print(f"startup: kubectl version --client            median {baseline * 1000:7.1f} ms  (peer)")
    for label, argv in (("kubectl-edge --help", [plugin, "--help"]),
                        ("kubectl-edge version --client", [plugin, "version", "--client"])):
        seconds = median_seconds(argv)
        ratio = seconds / baseline
        verdict = "meets" if ratio <= GOAL else "MISSES"
        print(f"startup: {label:<36} median {seconds * 1000:7.1f} ms  ratio {ratio:4.2f}x  "
              f"goal <= {GOAL:.0f}x: {verdict}")
    print(f"startup: {RUNS} runs each, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
