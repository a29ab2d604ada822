"""Krew packaging candidates measured: start time of ``kubectl edge version`` (it loads the cluster client and
asks a real local cluster) and ``kubectl edge --help``, through kubectl, plus archive and unpacked sizes.

    .venv/bin/python bench/distribution.py DIST_DIR     (DIST_DIR from hack/dist.py: the wheel and the archive)

Candidates: the PyInstaller one-folder archive that hack/dist.py builds; a launcher script with a vendored
site-packages of the same pinned dependencies for this CPython minor (built here, precompiled with
unchecked-hash .pyc as a release would ship it); and, as the reference, the wheel in a virtualenv (pip/pipx).
Each command runs once cold (right after unpacking) and then RUNS times; the median of those is reported.
"""

from __future__ import annotations

import importlib
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "hack"))

import build_binaries  # noqa: E402
import localcluster  # noqa: E402

# hack/dist.py; imported by name at run time, since a dist/ output directory would confuse import sorting.
dist = importlib.import_module("dist")

RUNS = 9
LAUNCHER = """#!/bin/sh
# kubectl-edge with a vendored site-packages: needs python{minor} on PATH.
here=$(dirname "$(readlink -f "$0")")
PYTHONPATH="$here/site-packages" exec python{minor} -s -c \
'import sys; sys.argv[0] = "kubectl-edge"; from kubectl_edge.cli.app import main; main()' "$@"
"""


def du(path: Path) -> int:
    """Bytes of every file under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def measure(label: str, bin_dir: Path, env: dict[str, str], archive_bytes: int | None, unpacked: int) -> None:
    run_env = {**env, "PATH": f"{bin_dir}:{env['PATH']}"}
    figures = []
    for command in (["version"], ["--help"]):
        argv = ["kubectl", "edge", *command]
        cold = timed(argv, run_env)
        warm = statistics.median(timed(argv, run_env) for _ in range(RUNS))
        figures.append(f"`{' '.join(command)}` first {cold * 1000:.0f} ms, then {warm * 1000:.0f} ms")
    size = f"archive {archive_bytes / 1e6:.1f} MB, " if archive_bytes else ""
    print(f"| {label} | {'; '.join(figures)} | {size}unpacked {unpacked / 1e6:.0f} MB |", flush=True)


def vendored(wheel: Path, work: Path, epoch: int) -> tuple[Path, int]:
    """The launcher + site-packages candidate, as a reproducible .tar.gz; returns its unpacked dir and size."""
    python = dist.build_venv(dist.build_env(epoch))
    folder = work / "vendored" / "kubectl-edge"
    requirements = [line for line in dist.REQUIREMENTS.read_text().splitlines()
                    if line and not line.startswith(("#", "pyinstaller", "altgraph", "setuptools"))]
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--only-binary", ":all:",
                    "--no-compile", "--target", str(folder / "site-packages"), *requirements, str(wheel)],
                   check=True, env=dist.build_env(epoch))
    subprocess.run([sys.executable, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash",
                    str(folder / "site-packages")], check=True, capture_output=True, env=dist.build_env(epoch))
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    (folder / "kubectl-edge").write_text(LAUNCHER.format(minor=minor))
    (folder / "kubectl-edge").chmod(0o755)
    archive = work / "vendored.tar.gz"
    dist.write_tar_gz(archive, [("kubectl-edge", folder)], epoch)
    unpacked = work / "vendored-unpacked"
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    return unpacked / "kubectl-edge", archive.stat().st_size


def main() -> int:
    out = Path(sys.argv[1]).absolute()
    archive = next(out.glob("kubectl-edge_v*_linux_amd64.tar.gz"))
    wheel_file = next(out.glob("*.whl"))
    bin_dir = build_binaries.binary_dir()
    with tempfile.TemporaryDirectory(prefix="bench-dist-") as scratch:
        work = Path(scratch)
        cluster = localcluster.start(work / "cluster", bin_dir=bin_dir)
        try:
            tools = work / "tools"
            tools.mkdir()
            (tools / "kubectl").symlink_to(bin_dir / "kubectl")
            env = {"PATH": f"{tools}:/usr/bin:/bin", "HOME": str(work), "KUBECONFIG": cluster.kubeconfig,
                   "NO_COLOR": "1"}
            print("| packaging | start time through kubectl (median of later runs) | size |")
            print("|---|---|---|")
            frozen = work / "frozen"
            with tarfile.open(archive) as tar:
                tar.extractall(frozen, filter="data")
            measure("PyInstaller one-folder (chosen)", frozen / "kubectl-edge", env, archive.stat().st_size,
                    du(frozen))
            folder, size = vendored(wheel_file, work, dist.source_date_epoch())
            measure(f"launcher + vendored site-packages (python{sys.version_info.major}.{sys.version_info.minor})",
                    folder, env, size, du(folder))
            venv = work / "venv"
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
            subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
                            "--quiet", str(wheel_file)], check=True)
            measure("wheel in a virtualenv (pip/pipx; reference)", venv / "bin", env, None, du(venv))
        finally:
            localcluster.stop(work / "cluster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
