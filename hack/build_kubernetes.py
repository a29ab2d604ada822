#!/usr/bin/env python3
"""Build the Kubernetes binaries of another supported version (the oldest minor) from its wrapper module.

    hack/build_kubernetes.py [VERSION]              build if needed, print the directory
    hack/build_kubernetes.py [VERSION] --print-dir  print the directory only (exit 1 when not built)

VERSION defaults to the oldest supported one. The six Kubernetes binaries are built from hack/k8s-vMAJOR.MINOR/
(go.mod and go.sum pin that release) into the same cache as hack/build_binaries.py, in a directory named by
the version and a hash of what decides their bytes (that module, this file, the Go version and platform);
etcd, helm and krew are linked from build_binaries' directory, so a cluster started from it has every tool.
A second run with the same inputs builds nothing.

Standard library only, as build_binaries.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_binaries

#: Supported versions besides build_binaries.KUBERNETES_VERSION (the newest), each with its wrapper module.
MODULES = {"v1.30.14": "k8s-v1.30"}
OLDEST = "v1.30.14"


def module_of(version: str) -> str:
    """The wrapper module directory (under hack/) of a supported version."""
    try:
        return MODULES[version]
    except KeyError:
        raise SystemExit(f"build_kubernetes: no wrapper module for Kubernetes {version} "
                         f"(known: {', '.join(sorted(MODULES))})") from None


def binary_dir(version: str = OLDEST) -> Path:
    """Where that version's binaries live (built or not)."""
    digest = hashlib.sha256()
    digest.update(build_binaries.go_version().encode())
    digest.update(Path(__file__).read_bytes())
    for name in ("go.mod", "go.sum"):
        digest.update((build_binaries.HACK_DIR / module_of(version) / name).read_bytes())
    return build_binaries.cache_root() / "bin" / f"kubernetes-{version}-{digest.hexdigest()[:16]}"


def ldflags(version: str) -> str:
    """The version stamps Kubernetes' own build sets (so ``--version`` and /version tell the truth)."""
    major, minor = version.lstrip("v").split(".")[:2]
    values = {"gitVersion": version, "gitMajor": major, "gitMinor": minor, "gitTreeState": "clean",
              "buildDate": build_binaries.BUILD_DATE}
    flags = [f"-X {package}.{name}={value}"
             for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
             for name, value in values.items()]
    return " ".join([*flags, "-s", "-w"])


def ensure_built(version: str = OLDEST) -> Path:
    """Build that version's binaries unless the cache holds them; return their directory."""
    directory = binary_dir(version)
    if build_binaries.is_built(directory):
        return directory
    tools = build_binaries.ensure_built()
    directory.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f".{directory.name}.", dir=directory.parent) as scratch:
        staging = Path(scratch) / "bin"
        staging.mkdir()
        build_binaries.run_go(["build", "-ldflags", ldflags(version), "-o", f"{staging}/",
                               *(f"k8s.io/kubernetes/cmd/{name}" for name in build_binaries.KUBERNETES_BINARIES)],
                              module_of(version))
        for name in build_binaries.ALL_BINARIES:
            if name not in build_binaries.KUBERNETES_BINARIES:
                (staging / name).symlink_to(tools / name)
        if directory.exists():  # a concurrent run finished first
            shutil.rmtree(directory)
        staging.rename(directory)
    print(f"build_kubernetes: built {version} in {time.monotonic() - started:.0f} s into {directory}",
          file=sys.stderr)
    return directory


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version", nargs="?", default=OLDEST, help=f"one of {', '.join(sorted(MODULES))}")
    parser.add_argument("--print-dir", action="store_true", help="print the binary directory; exit 1 if not built")
    args = parser.parse_args()
    if args.print_dir:
        directory = binary_dir(args.version)
        print(directory)
        return 0 if build_binaries.is_built(directory) else 1
    try:
        print(ensure_built(args.version))
    except subprocess.CalledProcessError as exc:
        print(f"build_kubernetes: the build failed ({exc}); see the go output above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
