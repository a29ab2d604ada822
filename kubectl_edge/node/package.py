"""``kubectl edge package build``: the static install package from binaries the admin already has (SPEC 5).

The tarball is deterministic: members sorted by name, every mtime 0, uid/gid 0 (``root``), fixed modes,
GNU tar format, and a gzip header without file name or time, so the same inputs give the same bytes. The
CNI plugins go into ``edge-install/cni/cni-plugins-linux-<arch>.tgz`` (made the same way), as SuperEdge's
packages carry them, and ``edge-install/manifest.json`` lists the SHA-256 of every other file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import platform
import re
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from edge_protocol import package as layout
from edge_protocol.platforms import elf_arch, go_arch
from edge_protocol.versions import release_version
from kubectl_edge.errors import ConfigError

FIXED_MTIME = 0
GZIP_LEVEL = 6
_VERSION_OUTPUT = re.compile(r"Kubernetes (v[0-9]+\.[0-9]+\.[0-9]+\S*)")


@dataclass(frozen=True)
class PackageInputs:
    """The flags of ``kubectl edge package build``."""

    kubelet: Path
    cni_dir: Path
    architecture: str | None = None
    kubernetes_version: str | None = None
    lite_apiserver: Path | None = None
    binaries: tuple[Path, ...] = ()


@dataclass
class BuiltPackage:
    """What was built."""

    path: Path
    architecture: str
    kubernetes_version: str
    sha256: str
    size: int
    files: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        """A JSON-ready summary for ``-o json|yaml``."""
        return {"path": str(self.path), "architecture": self.architecture,
                "kubernetesVersion": self.kubernetes_version, "sha256": self.sha256, "size": self.size,
                "files": self.files}


def _read_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}", f"pass an existing file as {what}") from exc


def detect_architecture(kubelet: bytes, requested: str | None) -> str:
    """The package's architecture: ``--arch``, checked against the kubelet's ELF header when it has one."""
    from_binary = elf_arch(kubelet[:20])
    if requested and from_binary and requested != from_binary:
        raise ConfigError(f"--arch {requested} does not match the kubelet, which is built for {from_binary}",
                          f"pass the {requested} kubelet, or --arch {from_binary}")
    architecture = requested or from_binary
    if not architecture:
        raise ConfigError("cannot tell the kubelet's architecture (it is not an ELF executable)",
                          "pass --arch amd64 or --arch arm64")
    return architecture


def detect_version(kubelet: Path, architecture: str, requested: str | None) -> str:
    """The Kubernetes version: ``--kubernetes-version``, else what the kubelet says when it can run here."""
    if requested:
        version = release_version(requested)
        if version is None:
            raise ConfigError(f"--kubernetes-version {requested!r} is not a version such as v1.31.2")
        return version
    if architecture == go_arch(platform.machine()):
        try:
            result = subprocess.run([str(kubelet.resolve()), "--version"], capture_output=True, text=True, timeout=30,
                                    check=False)
            match = _VERSION_OUTPUT.search(result.stdout + result.stderr)
        except OSError:
            match = None
        if match:
            return match.group(1)
    raise ConfigError("cannot tell the kubelet's version", "pass --kubernetes-version v1.X.Y")


def _info(name: str, size: int = 0, mode: int = 0o644, directory: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.size = 0 if directory else size
    info.mode = 0o755 if directory else mode
    info.mtime = FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def deterministic_tgz(files: dict[str, tuple[bytes, int]], directories: list[str]) -> bytes:
    """A gzipped tar of ``files`` (name -> (content, mode)) and ``directories``, byte-identical for equal input."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as archive:
        entries: list[tuple[str, bytes | None, int]] = [(d, None, 0o755) for d in directories]
        entries += [(name, data, mode) for name, (data, mode) in files.items()]
        for name, data, mode in sorted(entries, key=lambda entry: entry[0]):
            if data is None:
                archive.addfile(_info(name, directory=True))
            else:
                archive.addfile(_info(name, len(data), mode), io.BytesIO(data))
    compressed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0, compresslevel=GZIP_LEVEL) as stream:
        stream.write(raw.getvalue())
    return compressed.getvalue()


def _cni_plugins(cni_dir: Path) -> dict[str, tuple[bytes, int]]:
    if not cni_dir.is_dir():
        raise ConfigError(f"--cni {cni_dir} is not a directory", "pass the directory of CNI plugin binaries, e.g. "
                          "/opt/cni/bin")
    plugins = {}
    for path in sorted(cni_dir.iterdir()):
        if path.is_file():
            plugins[path.name] = (path.read_bytes(), 0o755)
    if not plugins:
        raise ConfigError(f"--cni {cni_dir} holds no files", "pass the directory of CNI plugin binaries")
    return plugins


def build_package(inputs: PackageInputs, output: Path | None) -> BuiltPackage:
    """Build the package; write it to ``output`` (a file, or a directory for the standard name).

    Raises:
        ConfigError: An input is missing or contradicts another.
    """
    kubelet = _read_file(inputs.kubelet, "--kubelet")
    architecture = detect_architecture(kubelet, inputs.architecture)
    version = detect_version(inputs.kubelet, architecture, inputs.kubernetes_version)
    files: dict[str, tuple[bytes, int]] = {layout.KUBELET: (kubelet, 0o755)}
    extra = list(inputs.binaries) + ([inputs.lite_apiserver] if inputs.lite_apiserver else [])
    for binary in extra:
        name = "lite-apiserver" if binary == inputs.lite_apiserver else binary.name
        member = f"{layout.BIN}/{name}"
        if name not in layout.INSTALLABLE_BINARIES:
            raise ConfigError(f"{binary} would be installed as /usr/bin/{name}, which edgeadm does not install",
                              f"a package carries only {', '.join(layout.INSTALLABLE_BINARIES)} (name the file so)")
        if member in files:
            raise ConfigError(f"two binaries are named {name}", "pass each binary once")
        data = _read_file(binary, "a binary")
        found = elf_arch(data[:20])
        if found and found != architecture:
            raise ConfigError(f"{binary} is built for {found}, the package for {architecture}",
                              "pass binaries of one architecture")
        files[member] = (data, 0o755)
    cni = deterministic_tgz(_cni_plugins(inputs.cni_dir), [])
    files[f"{layout.CNI}/cni-plugins-linux-{architecture}.tgz"] = (cni, 0o644)
    hashes = {name: hashlib.sha256(data).hexdigest() for name, (data, _) in files.items()}
    manifest = layout.Manifest(architecture, version, hashes)
    files[layout.MANIFEST] = (manifest.to_json().encode(), 0o644)
    directories = [layout.TOP, layout.BIN, layout.CNI, layout.CONTAINER, layout.SCRIPT]
    data = deterministic_tgz(files, directories)
    name = layout.package_file_name(architecture, version)
    target = (output / name if output is not None and output.is_dir() else output) or Path(name)
    temporary = target.with_name(f".{target.name}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, target)
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {exc.strerror}", "pass -o with a writable path") from exc
    return BuiltPackage(target, architecture, version, hashlib.sha256(data).hexdigest(), len(data), hashes)
