#!/usr/bin/env python3
"""Build the test binaries (Kubernetes, etcd, helm 3 and 4, krew) from the Go modules under hack/.

The binaries land in a cache outside the work tree, in a directory named by a hash of everything that
decides their bytes: the wrapper modules' go.mod/go.sum, this file (it holds the flags), the Go version
and the target platform. A second run with the same inputs finds the directory and builds nothing.

    hack/build_binaries.py            build if needed, print the directory
    hack/build_binaries.py --print-dir   print the directory only (exit 1 when not built)

Standard library only: it runs before the project's virtualenv exists.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HACK_DIR = Path(__file__).resolve().parent
KUBERNETES_VERSION = "v1.37.2"
ETCD_VERSION = "v3.7.3"
HELM3_VERSION = "v3.22.0"
HELM4_VERSION = "v4.3.1"
KREW_VERSION = "v0.5.0"
# Wrapper module directory -> (binaries it builds, main packages).
KUBERNETES_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kubectl", "kubeadm")
# krew and its manifest validator test the plugin's krew archive and manifest (tests/dist).
KREW_BINARIES = ("krew", "validate-krew-manifest")
ALL_BINARIES = (*KUBERNETES_BINARIES, "etcd", "helm3", "helm4", *KREW_BINARIES)
MODULE_DIRS = ("k8s", "etcd", "helm3", "helm4", "krew")
# The build date is fixed so that the same inputs give the same bytes.
BUILD_DATE = "2026-01-01T00:00:00Z"


def cache_root() -> Path:
    """The per-user cache shared by every checkout on this machine."""
    configured = os.environ.get("KUBECTL_EDGE_CACHE")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "kubectl-edge"


def go_environment() -> dict[str, str]:
    """Environment for every go command: local toolchain only, caches outside the work tree."""
    root = cache_root()
    env = dict(os.environ)
    env.update(
        GOTOOLCHAIN="local",
        CGO_ENABLED="0",
        GOFLAGS="-trimpath -mod=readonly",
        GOMODCACHE=str(root / "go" / "mod"),
        GOCACHE=str(root / "go" / "build"),
    )
    return env


def go_version() -> str:
    try:
        out = subprocess.run(["go", "env", "GOVERSION", "GOOS", "GOARCH"], capture_output=True, text=True,
                             check=True, env=go_environment()).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"build_binaries: Go is needed to build the test binaries (Go >= 1.26): {exc}") from exc
    return " ".join(out.split())


def cache_key() -> str:
    """Hash of every input that decides the binaries' bytes."""
    digest = hashlib.sha256()
    digest.update(go_version().encode())
    digest.update(Path(__file__).read_bytes())
    for module in MODULE_DIRS:
        for name in ("go.mod", "go.sum"):
            digest.update(f"{module}/{name}\0".encode())
            digest.update((HACK_DIR / module / name).read_bytes())
    return digest.hexdigest()[:16]


def binary_dir() -> Path:
    """Where the binaries for the current inputs live (built or not)."""
    return cache_root() / "bin" / cache_key()


def is_built(directory: Path) -> bool:
    return all((directory / name).is_file() for name in ALL_BINARIES)


def kubernetes_ldflags() -> str:
    major, minor = KUBERNETES_VERSION.lstrip("v").split(".")[:2]
    values = {
        "gitVersion": KUBERNETES_VERSION,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": BUILD_DATE,
    }
    flags = [
        f"-X {package}.{name}={value}"
        for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
        for name, value in values.items()
    ]
    return " ".join([*flags, "-s", "-w"])


def run_go(args: list[str], module: str) -> None:
    print(f"build_binaries: ({module}) go {' '.join(args)}", file=sys.stderr, flush=True)
    subprocess.run(["go", *args], cwd=HACK_DIR / module, env=go_environment(), check=True)


def build(target: Path) -> None:
    """Build every binary into ``target`` (a fresh directory)."""
    run_go(["build", "-ldflags", kubernetes_ldflags(), "-o", f"{target}/",
            *(f"k8s.io/kubernetes/cmd/{name}" for name in KUBERNETES_BINARIES)], "k8s")
    run_go(["build", "-ldflags", "-s -w", "-o", str(target / "etcd"), "go.etcd.io/etcd/server/v3"], "etcd")
    for module, major, version in (("helm3", "v3", HELM3_VERSION), ("helm4", "v4", HELM4_VERSION)):
        ldflags = f"-s -w -X helm.sh/helm/{major}/internal/version.version={version}"
        run_go(["build", "-ldflags", ldflags, "-o", str(target / module), f"helm.sh/helm/{major}/cmd/helm"], module)
    krew_ldflags = f"-s -w -X sigs.k8s.io/krew/internal/version.gitTag={KREW_VERSION}"
    run_go(["build", "-ldflags", krew_ldflags, "-o", f"{target}/",
            *(f"sigs.k8s.io/krew/cmd/{name}" for name in KREW_BINARIES)], "krew")


def ensure_built() -> Path:
    """Build the binaries unless the cache already holds them; return their directory."""
    directory = binary_dir()
    if is_built(directory):
        return directory
    directory.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f".{directory.name}.", dir=directory.parent) as scratch:
        staging = Path(scratch) / "bin"
        staging.mkdir()
        build(staging)
        if directory.exists():  # a concurrent run finished first
            shutil.rmtree(directory)
        staging.rename(directory)
    print(f"build_binaries: built in {time.monotonic() - started:.0f} s into {directory}", file=sys.stderr)
    return directory


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print-dir", action="store_true", help="print the binary directory; exit 1 if not built")
    args = parser.parse_args()
    if args.print_dir:
        directory = binary_dir()
        print(directory)
        return 0 if is_built(directory) else 1
    if platform.system() != "Linux":
        print("build_binaries: the test binaries are built for Linux only", file=sys.stderr)
        return 2
    try:
        print(ensure_built())
    except subprocess.CalledProcessError as exc:
        print(f"build_binaries: the build failed ({exc}); see the go output above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
