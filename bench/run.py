#!/usr/bin/env python3
"""Run the benchmarks under bench/ and print their figures (``make bench``).

    bench/run.py [NAME ...]     # e.g. bench/run.py startup token_create; default: all of them

Each benchmark starts and stops its own local clusters and prints its figures with their goal and their
ratio to the peer measured in the same run. ``BENCH_RUNS`` changes the number of timed runs of all of them.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import benchkit

#: The order of docs/performance.md.
BENCHMARKS = ["startup", "token_create", "addon_runs", "discovery", "concurrent_joins", "status",
              "installer_startup", "join_ready"]


def main(argv: list[str]) -> int:
    unknown = [name for name in argv if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    here = Path(__file__).resolve().parent
    print(f"machine: {benchkit.machine()}; load average {benchkit.load_average()}", flush=True)
    started = time.monotonic()
    failed = []
    for name in argv or BENCHMARKS:
        print(f"== {name}", flush=True)
        begun = time.monotonic()
        if subprocess.run([sys.executable, str(here / f"{name}.py")]).returncode != 0:
            failed.append(name)
        print(f"   ({time.monotonic() - begun:.0f} s)", flush=True)
    print(f"== {len(argv or BENCHMARKS)} benchmarks in {time.monotonic() - started:.0f} s"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
