#!/usr/bin/env python3
"""Build kubectl-edge's release artefacts reproducibly: the same commit gives the same bytes.

    hack/dist.py [--out dist] [--platform linux/amd64 | --no-krew] [--release-url TEMPLATE]
    hack/dist.py --manifest-only [--out dist]     (krew-manifest.yaml and SHA256SUMS from the archives there)

Into ``--out``:
- ``kubectl_edge-V.tar.gz`` (sdist) and ``kubectl_edge-V-py3-none-any.whl``, built from the sdist, so the
  wheel needs nothing that the sdist lacks. The wheel carries the chart and the ``edgeadm`` zipapp;
- ``edgeadm``: the zipapp, the very bytes the wheel carries;
- ``kubectl-edge_vV_OS_ARCH.tar.gz``: the krew archive, a PyInstaller one-folder build of the wheel and the
  pinned dependencies in ``hack/dist-requirements.txt`` (why PyInstaller: docs/distribution.md), with
  LICENSE. PyInstaller cannot cross-build, so ``--platform`` must be this machine's; build the other
  platforms on native machines, put their archives into one directory and run ``--manifest-only`` there;
- ``krew-manifest.yaml``, generated from the archives present, with their sha256;
- ``SHA256SUMS`` over all of the above (``sha256sum -c SHA256SUMS`` checks it).

Reproducible: SOURCE_DATE_EPOCH is the last commit's time (unless set), hatchling honours it; tar members are
sorted with fixed mtime, owner and modes, gzip headers carry mtime 0 and no name; PyInstaller runs with
PYTHONHASHSEED=0 from a virtualenv made from the pinned requirements (kept in the cache, keyed by their hash
and the Python version). Run it with the project's virtualenv (``make dist``): it needs hatchling.
Network: PyPI once, to fill that virtualenv; nothing else.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REQUIREMENTS = REPO / "hack" / "dist-requirements.txt"
ENTRY_SCRIPT = REPO / "hack" / "dist_entry.py"
PLUGIN = "edge"
EXECUTABLE = "kubectl-edge"
HOMEPAGE = "https://github.com/kubectl-edge/kubectl-edge"
#: Where a release's archives are downloaded from; {tag} is vX.Y.Z, {archive} the file name.
DEFAULT_RELEASE_URL = HOMEPAGE + "/releases/download/{tag}/{archive}"
MANIFEST = "krew-manifest.yaml"
SUMS = "SHA256SUMS"
WHEEL_EDGEADM = "kubectl_edge/_data/edgeadm"
ARCHIVE_PATTERN = re.compile(r"^kubectl-edge_(v[0-9][^_]*)_([a-z0-9]+)_([a-z0-9]+)\.tar\.gz$")
# Go's names for the machine, as krew's selectors use them.
_GO_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


class DistError(Exception):
    """A build step failed; the message says which and what to do."""


@dataclass(frozen=True)
class Archive:
    """One krew archive: its file and the platform its name declares."""

    path: Path
    tag: str
    os: str
    arch: str

    @property
    def sha256(self) -> str:
        """The archive's SHA-256, lowercase hex (krew's validator insists on lowercase)."""
        return sha256_file(self.path)


def log(message: str) -> None:
    """A progress line on stderr."""
    print(f"dist: {message}", file=sys.stderr, flush=True)


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, lowercase hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def project_version() -> str:
    """The version in ``kubectl_edge/__init__.py`` (what hatch puts into the wheel)."""
    text = (REPO / "kubectl_edge" / "__init__.py").read_text()
    match = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    if not match:
        raise DistError("kubectl_edge/__init__.py has no __version__ line")
    return match.group(1)


def source_date_epoch() -> int:
    """SOURCE_DATE_EPOCH when set, else the last commit's committer time."""
    configured = os.environ.get("SOURCE_DATE_EPOCH")
    if configured:
        return int(configured)
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise DistError("cannot read the last commit's time; set SOURCE_DATE_EPOCH outside a git checkout") from exc
    return int(out)


def host_platform() -> str:
    """This machine as krew names platforms, e.g. ``linux/amd64``."""
    return f"{platform.system().lower()}/{_GO_ARCH.get(platform.machine().lower(), platform.machine().lower())}"


def cache_root() -> Path:
    """The per-user cache hack/build_binaries.py uses too."""
    configured = os.environ.get("KUBECTL_EDGE_CACHE")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "kubectl-edge"


def _run(args: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-30:])
        raise DistError(f"{' '.join(args[:4])} ... failed (exit {result.returncode}):\n{tail}")
    return result.stdout


def build_env(epoch: int) -> dict[str, str]:
    """The environment of every build step: fixed time, hash seed and locale; no user site or bytecode."""
    env = dict(os.environ)
    env.update(SOURCE_DATE_EPOCH=str(epoch), PYTHONHASHSEED="0", LC_ALL="C.UTF-8", TZ="UTC",
               PYTHONNOUSERSITE="1", PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)
    return env


# --- sdist, wheel, edgeadm ------------------------------------------------------------------------------

def _hatch_build(kind: str, source: Path, out: Path, env: dict[str, str]) -> Path:
    code = f"import sys, hatchling.build as b; print(b.build_{kind}(sys.argv[1]))"
    name = _run([sys.executable, "-c", code, str(out)], cwd=source, env=env).strip().splitlines()[-1]
    return out / name


def build_python(out: Path, work: Path, env: dict[str, str]) -> tuple[Path, Path]:
    """The sdist from the checkout, then the wheel from the unpacked sdist."""
    try:
        import hatchling  # noqa: F401
    except ImportError as exc:
        raise DistError("hatchling is not installed in this Python; run make dist (it uses .venv)") from exc
    sdist = _hatch_build("sdist", REPO, out, env)
    log(f"sdist {sdist.name}")
    unpacked = work / "sdist"
    with tarfile.open(sdist) as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(unpacked, filter="data")
        else:  # Python < 3.10.12 / 3.11.4; the sdist was made a moment ago, by us
            archive.extractall(unpacked)
    (root,) = unpacked.iterdir()
    wheel = _hatch_build("wheel", root, out, env)
    log(f"wheel {wheel.name} (built from the sdist)")
    return sdist, wheel


def extract_edgeadm(wheel: Path, out: Path) -> Path:
    """Write the edgeadm zipapp the wheel carries to ``out/edgeadm`` (mode 0755)."""
    with zipfile.ZipFile(wheel) as archive:
        try:
            data = archive.read(WHEEL_EDGEADM)
        except KeyError as exc:
            raise DistError(f"{wheel.name} carries no {WHEEL_EDGEADM}") from exc
    target = out / "edgeadm"
    target.write_bytes(data)
    target.chmod(0o755)
    log(f"edgeadm ({len(data)} bytes, from the wheel)")
    return target


# --- the krew archive -----------------------------------------------------------------------------------

def build_venv(env: dict[str, str]) -> Path:
    """A virtualenv with PyInstaller and the pinned run-time dependencies, made once per requirements hash."""
    key = hashlib.sha256(REQUIREMENTS.read_bytes() + f"{sys.version}|{host_platform()}".encode()).hexdigest()[:16]
    venv = cache_root() / "dist-venv" / key
    python = venv / "bin" / "python"
    marker = venv / ".complete"
    if marker.is_file():
        return python
    shutil.rmtree(venv, ignore_errors=True)
    log(f"making the build virtualenv {venv} (PyInstaller and pinned dependencies from PyPI, once)")
    base = getattr(sys, "_base_executable", sys.executable)
    _run([base, "-m", "venv", str(venv)], env=env)
    _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
          "--only-binary", ":all:", "-r", str(REQUIREMENTS)], env=env)
    marker.write_text(REQUIREMENTS.read_text())
    return python


def freeze(wheel: Path, work: Path, env: dict[str, str]) -> Path:
    """PyInstaller one-folder build of the wheel's code; returns the folder (``kubectl-edge/``)."""
    python = build_venv(env)
    code_root = work / "wheel"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(code_root)
    entry = work / "kubectl_edge_entry.py"
    shutil.copyfile(ENTRY_SCRIPT, entry)
    frozen_env = {**env, "PYTHONPATH": str(code_root)}
    _run([str(python), "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN", "--onedir",
          "--name", EXECUTABLE, "--paths", str(code_root),
          "--collect-submodules", "kubectl_edge", "--collect-data", "kubectl_edge",
          "--collect-submodules", "edge_protocol",
          "--distpath", str(work / "frozen"), "--workpath", str(work / "pyinstaller"),
          "--specpath", str(work), str(entry)], cwd=work, env=frozen_env)
    folder = work / "frozen" / EXECUTABLE
    smoke = subprocess.run([str(folder / EXECUTABLE), "version", "--client", "-o", "json"], capture_output=True,
                           text=True, env={**env, "KUBECONFIG": ""})
    if smoke.returncode != 0:
        raise DistError(f"the frozen kubectl-edge does not run: {smoke.stderr.strip()}")
    return folder


def _tar_info(name: str, path: Path, epoch: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = epoch
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if path.is_symlink():
        raise DistError(f"{path} is a symlink; krew extracts only files and directories")
    if path.is_dir():
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.size = path.stat().st_size
        info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
    return info


def write_tar_gz(target: Path, members: list[tuple[str, Path]], epoch: int) -> None:
    """A .tar.gz of ``members`` (archive name, path; directories recursively), byte-for-byte reproducible."""
    entries: list[tuple[str, Path]] = []
    for name, path in members:
        entries.append((name, path))
        if path.is_dir():
            entries.extend((f"{name}/{child.relative_to(path).as_posix()}", child) for child in path.rglob("*"))
    entries.sort(key=lambda entry: entry[0])
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, path in entries:
            info = _tar_info(name, path, epoch)
            if info.isdir():
                archive.addfile(info)
            else:
                with path.open("rb") as handle:
                    archive.addfile(info, handle)
    with target.open("wb") as handle, gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0,
                                                     compresslevel=9) as compressed:
        compressed.write(raw.getvalue())


def build_krew_archive(wheel: Path, out: Path, work: Path, version: str, target_platform: str,
                       env: dict[str, str], epoch: int) -> Path:
    """The krew archive for ``target_platform`` (``os/arch``): the frozen folder and LICENSE."""
    os_name, arch = target_platform.split("/")
    folder = freeze(wheel, work, env)
    archive = out / f"kubectl-edge_v{version}_{os_name}_{arch}.tar.gz"
    write_tar_gz(archive, [(EXECUTABLE, folder), ("LICENSE", REPO / "LICENSE")], epoch)
    log(f"krew archive {archive.name} ({archive.stat().st_size} bytes)")
    return archive


# --- manifest and sums ----------------------------------------------------------------------------------

def find_archives(out: Path) -> list[Archive]:
    """The krew archives in ``out``, sorted by platform."""
    found = []
    for path in sorted(out.iterdir()):
        match = ARCHIVE_PATTERN.match(path.name)
        if match:
            found.append(Archive(path, match.group(1), match.group(2), match.group(3)))
    return sorted(found, key=lambda archive: (archive.os, archive.arch))


def render_manifest(archives: list[Archive], version: str, release_url: str) -> str:
    """krew's plugin manifest (krew.googlecontainertools.github.com/v1alpha2) for these archives."""
    tag = f"v{version}"
    stale = [archive.path.name for archive in archives if archive.tag != tag]
    if stale:
        raise DistError(f"archives of another version in the output directory: {', '.join(stale)}")
    if not archives:
        raise DistError("no krew archive to describe (kubectl-edge_vX.Y.Z_OS_ARCH.tar.gz)")
    lines = [
        "apiVersion: krew.googlecontainertools.github.com/v1alpha2",
        "kind: Plugin",
        "metadata:",
        f"  name: {PLUGIN}",
        "spec:",
        f"  version: {tag}",
        f"  homepage: {HOMEPAGE}",
        "  shortDescription: Add SuperEdge's edge capability to an existing cluster",
        "  description: |",
        "    Gives an existing Kubernetes cluster the edge capability SuperEdge calls \"addon\":",
        "    prepares the cluster for kubeadm-style joins without overwriting what its owner made,",
        "    installs SuperEdge's edge components as a Helm release, makes bootstrap tokens with a",
        "    verified join line, writes edgeadm (the edge-node installer), and removes it all again.",
        "  caveats: |",
        "    The components phase runs the helm CLI (3.8 or newer), which must be on PATH.",
        "    Edge nodes run edgeadm, written by: kubectl edge installer -o edgeadm",
        "    Completion of 'kubectl edge <TAB>' (kubectl >= 1.26): kubectl edge completion install",
        "  platforms:",
    ]
    for archive in archives:
        uri = release_url.format(tag=tag, archive=archive.path.name, version=version)
        lines += [
            "  - selector:",
            "      matchLabels:",
            f"        os: {archive.os}",
            f"        arch: {archive.arch}",
            f"    uri: {uri}",
            f"    sha256: {archive.sha256}",
            "    files:",
            f"    - from: {EXECUTABLE}/*",
            "      to: .",
            "    - from: LICENSE",
            "      to: .",
            f"    bin: {EXECUTABLE}",
        ]
    return "\n".join(lines) + "\n"


def write_sums(out: Path) -> Path:
    """``SHA256SUMS`` over every artefact in ``out``, in ``sha256sum`` format, sorted by name."""
    names = sorted(path.name for path in out.iterdir()
                   if path.is_file() and path.name != SUMS and not path.name.startswith("."))
    target = out / SUMS
    target.write_text("".join(f"{sha256_file(out / name)}  {name}\n" for name in names))
    return target


def write_manifest_and_sums(out: Path, version: str, release_url: str) -> None:
    """Regenerate ``krew-manifest.yaml`` from the archives in ``out``, then ``SHA256SUMS``."""
    archives = find_archives(out)
    (out / MANIFEST).write_text(render_manifest(archives, version, release_url))
    log(f"{MANIFEST} for {', '.join(f'{a.os}/{a.arch}' for a in archives)}")
    write_sums(out)
    log(f"{SUMS} written; {out}")


def _is_artefact(path: Path) -> bool:
    """Whether ``path`` is something a build writes (only such files are removed before a new build)."""
    return path.is_file() and (path.name in (MANIFEST, SUMS, "edgeadm") or bool(ARCHIVE_PATTERN.match(path.name))
                               or bool(re.match(r"^kubectl_edge-[^/]+(\.tar\.gz|-py3-none-any\.whl)$", path.name)))


def build(out: Path, target_platform: str | None, release_url: str) -> None:
    """Every artefact into ``out`` (emptied first)."""
    if target_platform is not None and target_platform != host_platform():
        raise DistError(f"PyInstaller builds for the machine it runs on ({host_platform()}), not {target_platform}; "
                        "build that platform's archive on such a machine")
    version = project_version()
    epoch = source_date_epoch()
    env = build_env(epoch)
    if out.exists():
        foreign = [path.name for path in out.iterdir() if not _is_artefact(path)]
        if foreign:
            raise DistError(f"{out} holds files this build did not make ({', '.join(sorted(foreign)[:5])}); "
                            "pass an empty or new --out directory")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    log(f"kubectl-edge {version}, SOURCE_DATE_EPOCH={epoch}")
    with tempfile.TemporaryDirectory(prefix="kubectl-edge-dist-") as scratch:
        work = Path(scratch)
        _, wheel = build_python(out, work, env)
        extract_edgeadm(wheel, out)
        if target_platform is not None:
            build_krew_archive(wheel, out, work / "krew", version, target_platform, env, epoch)
    if target_platform is not None:
        write_manifest_and_sums(out, version, release_url)
    else:
        write_sums(out)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and build."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="output directory (emptied first)")
    parser.add_argument("--platform", default=host_platform(), metavar="OS/ARCH",
                        help="krew archive platform; must be this machine's (default: %(default)s)")
    parser.add_argument("--no-krew", action="store_true", help="only the sdist, the wheel and edgeadm")
    parser.add_argument("--release-url", default=os.environ.get("KUBECTL_EDGE_RELEASE_URL", DEFAULT_RELEASE_URL),
                        help="URL template of a release archive in the manifest ({tag}, {archive}, {version})")
    parser.add_argument("--manifest-only", action="store_true",
                        help="only regenerate krew-manifest.yaml and SHA256SUMS from the archives in --out")
    args = parser.parse_args(argv)
    try:
        if args.manifest_only:
            write_manifest_and_sums(args.out, project_version(), args.release_url)
        else:
            build(args.out.absolute(), None if args.no_krew else args.platform, args.release_url)
    except DistError as exc:
        print(f"dist: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
