#!/usr/bin/env python3
"""The edgeadm zipapp: its size, and the cold start of ``edgeadm --help`` under the oldest and newest CPython.

The archive is built from this checkout with installer/build.py. Each interpreter found under pyenv
(``PYENV_ROOT``, default /root/.pyenv) from 3.8 to 3.13 runs ``edgeadm --help`` as a new process several
times; the medians are printed. A zipapp's modules are compiled at every start (nothing is cached in the
archive), which is what this measures.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_RUNS", "15"))
PYENV = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions"


def build(directory: Path) -> Path:
    """Build the zipapp into ``directory`` and return its path."""
    spec = importlib.util.spec_from_file_location("edgeadm_build", REPO / "installer" / "build.py")
    assert spec is not None and spec.loader is not None
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    path = directory / "edgeadm"
    builder.write_executable(path, builder.build_archive(REPO))
    return path


def interpreters() -> dict[tuple[int, int], str]:
    """(major, minor) -> interpreter, for the pyenv CPythons 3.8 to 3.13, plus this one."""
    found = {sys.version_info[:2]: sys.executable}
    for candidate in glob.glob(str(PYENV / "*" / "bin" / "python")):
        match = re.search(r"/(\d+)\.(\d+)\.\d+/", candidate)
        if match and (3, 8) <= (int(match.group(1)), int(match.group(2))) <= (3, 13):
            found[(int(match.group(1)), int(match.group(2)))] = candidate
    return found


def median_seconds(argv: list[str]) -> float:
    """Median wall time of ``argv`` over RUNS fresh processes (one warm-up run first)."""
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        archive = build(Path(scratch))
        data = archive.read_bytes()
        print(f"installer: edgeadm zipapp {len(data)} bytes ({len(data) / 1024:.1f} KiB), "
              f"sha256 {hashlib.sha256(data).hexdigest()[:16]}...")
        found = interpreters()
        chosen = sorted(found)
        chosen = [chosen[0], chosen[-1]] if len(chosen) > 1 else chosen
        for version in chosen:
            python = found[version]
            baseline = median_seconds([python, "-c", "pass"])
            seconds = median_seconds([python, str(archive), "--help"])
            print(f"installer: edgeadm --help, CPython {version[0]}.{version[1]:<3} median {seconds * 1000:6.1f} ms "
                  f"(the bare interpreter starts in {baseline * 1000:5.1f} ms)")
    print(f"installer: {RUNS} runs each, {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
