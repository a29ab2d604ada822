#!/usr/bin/env python3
"""Build the node-side tools the simulated edge nodes need and Debian does not ship: crictl (cri-tools).

edgeadm reset removes the pods kubelet started through the CRI with crictl, as kubeadm reset does, and the
tests put crictl into the install package. It is built from the Go module under ``hack/cri-tools`` into the
same cache as the other test binaries, in a directory of its own keyed by its inputs (the module's go.mod and
go.sum, this file, the Go version), so a change here does not rebuild Kubernetes.

    hack/node_tools.py               build if needed, print the directory
    hack/node_tools.py --print-dir   print the directory only (exit 1 when not built)

Standard library only: it runs before the project's virtualenv exists.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

HACK_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(HACK_DIR))
import build_binaries  # noqa: E402

CRI_TOOLS_VERSION = "v1.37.0"
MODULE = "cri-tools"
BINARIES = ("crictl",)


def cache_key() -> str:
    """Hash of every input that decides the tools' bytes."""
    digest = hashlib.sha256()
    digest.update(build_binaries.go_version().encode())
    digest.update(Path(__file__).read_bytes())
    for name in ("go.mod", "go.sum"):
        digest.update(f"{MODULE}/{name}\0".encode())
        digest.update((HACK_DIR / MODULE / name).read_bytes())
    return digest.hexdigest()[:16]


def tools_dir() -> Path:
    """Where the tools for the current inputs live (built or not)."""
    return build_binaries.cache_root() / "node-tools" / cache_key()


def is_built(directory: Path) -> bool:
    return all((directory / name).is_file() for name in BINARIES)


def ensure_built() -> Path:
    """Build the tools unless the cache holds them; return their directory."""
    directory = tools_dir()
    if is_built(directory):
        return directory
    directory.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f".{directory.name}.", dir=directory.parent) as scratch:
        staging = Path(scratch) / "bin"
        staging.mkdir()
        ldflags = f"-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version={CRI_TOOLS_VERSION}"
        build_binaries.run_go(["build", "-ldflags", ldflags, "-o", str(staging / "crictl"),
                               "sigs.k8s.io/cri-tools/cmd/crictl"], MODULE)
        if directory.exists():  # a concurrent run finished first
            shutil.rmtree(directory)
        staging.rename(directory)
    print(f"node_tools: built in {time.monotonic() - started:.0f} s into {directory}", file=sys.stderr)
    return directory


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print-dir", action="store_true", help="print the directory; exit 1 when not built")
    args = parser.parse_args()
    if args.print_dir:
        directory = tools_dir()
        print(directory)
        return 0 if is_built(directory) else 1
    print(ensure_built())
    return 0


if __name__ == "__main__":
    sys.exit(main())
