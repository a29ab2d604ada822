#!/usr/bin/env python3
"""Run every benchmark under bench/ and print their figures (``make bench``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = ["startup.py", "token_create.py", "installer_startup.py", "status.py"]


def main() -> int:
    here = Path(__file__).resolve().parent
    failed = 0
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        failed |= subprocess.run([sys.executable, str(here / name)]).returncode
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
