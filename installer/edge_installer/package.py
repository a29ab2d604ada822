"""The static install package on the node: fetch it, check every member and hash, then read it for install.

Checks, all before anything on the node changes: the whole file against ``--install-pkg-sha256``; every
member path (no absolute paths, no ``..``, no links leading out, no device files, no sparse files, only the
allowed names under ``bin/``), also inside the CNI tarball (which is spooled to a temporary file, never
held in memory); every regular file against ``manifest.json`` (a package without a manifest, in SuperEdge's own
layout, is accepted without per-file hashes, and the user is told); the architecture (manifest, file name
and the kubelet's ELF header) against this node's.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import BinaryIO, Dict, Iterator, List, Optional, Tuple

from edge_installer.errors import PackageError
from edge_installer.fsutil import copy_stream, sha256_file
from edge_installer.output import Output
from edge_protocol import package as layout
from edge_protocol.platforms import elf_arch

PHASE = "package"
_CHUNK = 1 << 20
_REGULAR = (tarfile.REGTYPE, tarfile.AREGTYPE)


@dataclass(frozen=True)
class PackageFile:
    """A file to install: where it comes from and its verified content hash.

    Attributes:
        archive: The outer member (``edge-install/bin/kubelet`` or the CNI tarball).
        inner: The member inside the CNI tarball, or None for a file of the outer archive.
        target: Where it goes on the node.
        sha256: Its verified hash.
        size: Its size in bytes.
        mode: Permission bits to install it with.
    """

    archive: str
    inner: Optional[str]
    target: str
    sha256: str
    size: int
    mode: int

    @property
    def source(self) -> str:
        """A readable name of where it comes from."""
        return f"{self.archive}:{self.inner}" if self.inner else self.archive


@dataclass
class Package:
    """A checked install package.

    Attributes:
        path: The local file (a download lives in a temporary directory).
        architecture: Its architecture, or None when nothing says.
        kubernetes_version: Its kubelet's version, or None when nothing says.
        has_manifest: Whether per-file hashes were checked.
        files: What to install, in archive order.
        notes: Things the user should know (no manifest, skipped directories).
        kubelet_arch: The architecture in the kubelet's ELF header, if it is an ELF binary.
        archive_hashes: The verified SHA-256 of every regular member of the outer archive.
    """

    path: str
    architecture: Optional[str]
    kubernetes_version: Optional[str]
    has_manifest: bool
    files: List[PackageFile] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    kubelet_arch: Optional[str] = None
    archive_hashes: Dict[str, str] = field(default_factory=dict)

    @property
    def install_size(self) -> int:
        """Bytes the installed files take."""
        return sum(item.size for item in self.files)

    def has(self, target: str) -> bool:
        """Whether the package installs a file at this node path."""
        return any(item.target == target for item in self.files)


def _bad(message: str, hint: Optional[str] = None) -> PackageError:
    return PackageError(message, hint or "use a package built with kubectl edge package build, or download it again")


def is_url(location: str) -> bool:
    """Whether ``--install-pkg-path`` is a URL rather than a local file."""
    return urllib.parse.urlsplit(location).scheme.lower() in ("http", "https", "ftp")


def url_problem(location: str, sha256: Optional[str]) -> Optional[str]:
    """Why a package location cannot be used without more, or None.

    A package fetched over http or ftp has nothing that anchors its integrity: anyone on the way can swap
    it, and the manifest inside only vouches for itself. So such a URL needs ``--install-pkg-sha256``;
    https (verified against the system's CAs) stands by itself, as a local file does.
    """
    if not is_url(location):
        return None
    scheme = urllib.parse.urlsplit(location).scheme.lower()
    if scheme != "https" and sha256 is None:
        return (f"--install-pkg-path {location} is fetched over {scheme}, which nothing protects: anyone on the way "
                "could swap the package")
    return None


def fetch(location: str, workdir: str, out: Output, timeout: float = 60.0) -> str:
    """Return a local path of the package: the file itself, or a download into ``workdir`` (with progress).

    Raises:
        PackageError: The file does not exist, or the download fails.
    """
    if not is_url(location):
        if not os.path.isfile(location):
            raise PackageError(f"the install package {location} does not exist or is not a file",
                               "pass --install-pkg-path with a local file or an http(s):// or ftp:// URL")
        return location
    name = posixpath.basename(urllib.parse.urlsplit(location).path) or "package.tar.gz"
    destination = os.path.join(workdir, name)
    out.progress(PHASE, f"downloading {location}")
    try:
        with urllib.request.urlopen(location, timeout=timeout) as response, open(destination, "wb") as handle:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            shown = 0
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                handle.write(chunk)
                done += len(chunk)
                if total and done * 10 // total > shown:
                    shown = done * 10 // total
                    out.progress(PHASE, f"downloaded {done * 100 // total}% ({done / 1e6:.1f} of {total / 1e6:.1f} MB)")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise PackageError(f"cannot download the install package from {location}: {reason}",
                           "check the URL and that this node can reach it, or copy the file here and pass its path"
                           ) from None
    return destination



def _hash_stream(reader: BinaryIO) -> Tuple[str, int, bytes]:
    digest = hashlib.sha256()
    size = 0
    head = b""
    for chunk in iter(lambda: reader.read(_CHUNK), b""):
        if len(head) < 20:
            head += chunk[:20 - len(head)]
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size, head


def _checked_members(archive: tarfile.TarFile, where: str, top: Optional[str]) -> Dict[str, tarfile.TarInfo]:
    """Every member by normalised path, after the path, type and link checks."""
    members: Dict[str, tarfile.TarInfo] = {}
    for member in archive.getmembers():
        try:
            name = layout.normalise_member(member.name)
            if top is not None and name and name != top and not name.startswith(top + "/"):
                raise layout.PackageFormatError(f"the package member {member.name!r} is outside {top}/")
            if member.issym() or member.islnk():
                resolved = layout.check_link(member.name, member.linkname, member.islnk())
                if top is not None and not resolved.startswith(top + "/"):
                    raise layout.PackageFormatError(
                        f"the package member {member.name!r} is a link to {member.linkname!r}, outside the target "
                        "directory")
            elif not (member.isdir() or member.type in _REGULAR):
                raise layout.PackageFormatError(f"the package member {member.name!r} is a device, FIFO or other "
                                                "special file")
            if member.issparse() or member.type == tarfile.GNUTYPE_SPARSE:
                # A few hundred bytes of sparse map can stand for gigabytes of zeros on disk.
                raise layout.PackageFormatError(f"the package member {member.name!r} is a sparse file, which a "
                                                "package never needs")
            if top is not None and posixpath.dirname(name) == layout.BIN and not member.isdir():
                layout.check_bin_name(name)
        except layout.PackageFormatError as exc:
            raise _bad(f"unsafe install package{where}: {exc.message}", exc.hint) from None
        if name:
            members[name] = member
    return members


def _resolve(members: Dict[str, tarfile.TarInfo], name: str) -> tarfile.TarInfo:
    """The regular-file member a (chain of) link(s) leads to."""
    member = members[name]
    for _ in range(16):
        if member.type in _REGULAR:
            return member
        if not (member.issym() or member.islnk()):
            break
        target = layout.check_link(member.name, member.linkname, member.islnk())
        if target not in members:
            raise _bad(f"the package member {member.name!r} links to {member.linkname!r}, which is not in the package")
        member = members[target]
    raise _bad(f"the package member {name!r} is not a file (or its links loop)")


@contextmanager
def _open_tar(path: str, fileobj: Optional[BinaryIO] = None) -> Iterator[tarfile.TarFile]:
    try:
        # Closed below; only opening is guarded, so its errors become package errors.
        archive = tarfile.open(name=None if fileobj else path, fileobj=fileobj, mode="r:*")  # noqa: SIM115
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise _bad(f"{path} is not a readable tar.gz archive ({exc})") from None
    try:
        yield archive
    finally:
        archive.close()


def _extract(archive: tarfile.TarFile, member: tarfile.TarInfo) -> BinaryIO:
    handle = archive.extractfile(member)
    if handle is None:
        raise _bad(f"the package member {member.name!r} cannot be read")
    return handle  # type: ignore[return-value]


def inspect(path: str, node_arch: str, expected_sha256: Optional[str], out: Output) -> Package:
    """Check a package completely and return what it installs.

    Args:
        path: The local package file.
        node_arch: This node's architecture.
        expected_sha256: ``--install-pkg-sha256``, if given.
        out: Progress output.

    Raises:
        PackageError: A check failed; the message says which and what was found.
    """
    if expected_sha256 is not None:
        actual = sha256_file(path)
        if actual != expected_sha256.lower():
            raise _bad(f"the install package's sha256 is {actual}, but --install-pkg-sha256 says {expected_sha256}",
                       "download the package again, or correct --install-pkg-sha256")
        out.progress(PHASE, "the package's sha256 matches --install-pkg-sha256")
    with _open_tar(path) as archive:
        try:
            members = _checked_members(archive, "", layout.TOP)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise _bad(f"{path} is not a readable tar.gz archive ({exc})") from None
        if layout.KUBELET not in members:
            raise _bad(f"the install package has no {layout.KUBELET}",
                       "an install package holds edge-install/bin/kubelet; build one with kubectl edge package build")
        manifest: Optional[layout.Manifest] = None
        if layout.MANIFEST in members:
            text = _extract(archive, _resolve(members, layout.MANIFEST)).read().decode("utf-8", "replace")
            try:
                manifest = layout.Manifest.from_json(text)
            except layout.PackageFormatError as exc:
                raise _bad(f"the install package's manifest cannot be used: {exc.message}", exc.hint) from None
        package = _collect(path, archive, members, manifest)
    _check_architecture(package, path, node_arch)
    if not package.has_manifest:
        package.notes.insert(0, f"the package has no {layout.MANIFEST} (SuperEdge's own layout): its files cannot be "
                                "checked against per-file hashes; only --install-pkg-sha256 protects it")
    return package


def _collect(path: str, archive: tarfile.TarFile, members: Dict[str, tarfile.TarInfo],
             manifest: Optional[layout.Manifest]) -> Package:
    named = layout.parse_package_file_name(path)
    package = Package(path=path, architecture=manifest.architecture if manifest else (named[0] if named else None),
                      kubernetes_version=manifest.kubernetes_version if manifest else (named[1] if named else None),
                      has_manifest=manifest is not None)
    hashes: Dict[str, str] = {}
    kubelet_head = b""
    # The kubelet may be a link: its architecture is read from the file the link leads to.
    kubelet_real = layout.normalise_member(_resolve(members, layout.KUBELET).name)
    for name in sorted(members, key=lambda n: members[n].offset):
        member = members[name]
        if member.type not in _REGULAR or name == layout.MANIFEST:
            continue
        digest, _, head = _hash_stream(_extract(archive, member))
        hashes[name] = digest
        if name == kubelet_real:
            kubelet_head = head
        if manifest is not None:
            listed = manifest.files.get(name)
            if listed is None:
                raise _bad(f"the install package's {name} is not listed in its manifest", "the package was altered "
                           "after it was built; build or download it again")
            if listed != digest:
                raise _bad(f"checksum mismatch: the install package's {name} has sha256 {digest}, its manifest says "
                           f"{listed}", "the package is damaged or was altered; build or download it again")
    if manifest is not None:
        missing = sorted(set(manifest.files) - set(hashes))
        if missing:
            raise _bad(f"the install package lacks {', '.join(missing)}, which its manifest lists")
    package.notes.extend(_skipped_notes(members))
    for name in sorted(members):
        if posixpath.dirname(name) == layout.BIN and not members[name].isdir():
            real = _resolve(members, name)
            real_name = layout.normalise_member(real.name)
            package.files.append(PackageFile(real_name, None, f"/usr/bin/{posixpath.basename(name)}",
                                             hashes[real_name], real.size, 0o755))
    for name in sorted(members):
        if name.startswith(layout.CNI + "/") and members[name].type in _REGULAR and \
                posixpath.basename(name).startswith("cni-plugins") and name.endswith((".tgz", ".tar.gz")):
            package.files.extend(_cni_files(archive, members[name], name, hashes[name]))
    package.kubelet_arch = elf_arch(kubelet_head)
    package.archive_hashes = hashes
    return package


def _skipped_notes(members: Dict[str, tarfile.TarInfo]) -> List[str]:
    notes = []
    for directory, why in ((layout.CONTAINER, "the container runtime is not installed from the package; the node "
                                              "needs containerd (or another CRI runtime) already"),
                           (layout.SCRIPT, "SuperEdge's node scripts are not run")):
        if any(name.startswith(directory + "/") for name in members):
            notes.append(f"{directory}/: {why}")
    return notes


def _spool(archive: tarfile.TarFile, member: tarfile.TarInfo, name: str, sha256: str) -> BinaryIO:
    """The member copied into an anonymous temporary file (on disk, not in memory), checked against ``sha256``."""
    spooled: BinaryIO = tempfile.TemporaryFile(prefix="edgeadm-cni-")  # noqa: SIM115 - the caller closes it
    try:
        if copy_stream(_extract(archive, member), spooled) != sha256:
            raise _bad(f"the install package's {name} changed while it was read")
        spooled.seek(0)
    except BaseException:
        spooled.close()
        raise
    return spooled


def _cni_files(archive: tarfile.TarFile, member: tarfile.TarInfo, name: str, outer_sha256: str) -> List[PackageFile]:
    files = []
    with _spool(archive, member, name, outer_sha256) as spooled, _open_tar(name, spooled) as inner:
        try:
            members = _checked_members(inner, f" (inside {name})", None)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise _bad(f"{name} in the install package is not a readable tar.gz archive ({exc})") from None
        for inner_name in sorted(members):
            if members[inner_name].isdir():
                continue
            real = _resolve(members, inner_name)
            digest, size, _ = _hash_stream(_extract(inner, real))
            files.append(PackageFile(name, layout.normalise_member(real.name), f"/opt/cni/bin/{inner_name}", digest,
                                     size, 0o755))
    return files


def _check_architecture(package: Package, path: str, node_arch: str) -> None:
    claims = []
    if package.architecture:
        claims.append((package.architecture, "its manifest" if package.has_manifest else "its file name"))
    if package.kubelet_arch:
        claims.append((package.kubelet_arch, "its kubelet binary"))
    for architecture, source in claims:
        if architecture != node_arch:
            raise _bad(f"wrong architecture: the install package is for {architecture} (says {source}), this node is "
                       f"{node_arch}", f"use the {node_arch} package (kube-linux-{node_arch}-v<version>.tar.gz)")
    if not claims:
        package.notes.append("nothing in the package states its architecture; make sure it is for " + node_arch)


class PackageReader:
    """The package opened once for installing: files are read in archive order without re-reading it."""

    def __init__(self, package: Package) -> None:
        """Open the package's archive."""
        try:
            self._archive = tarfile.open(package.path, mode="r:*")  # noqa: SIM115 - closed by close()
            self._members = {layout.normalise_member(m.name): m for m in self._archive.getmembers()}
        except (tarfile.TarError, OSError, EOFError, layout.PackageFormatError) as exc:
            raise _bad(f"{package.path} cannot be read again ({exc})") from None
        self._inner: Dict[str, Tuple[tarfile.TarFile, Dict[str, tarfile.TarInfo]]] = {}
        self._spooled: List[BinaryIO] = []
        self._hashes = dict(package.archive_hashes)

    def _member(self, members: Dict[str, tarfile.TarInfo], name: str) -> tarfile.TarInfo:
        if name not in members:
            raise _bad(f"the package member {name!r} disappeared while it was installed")
        return members[name]

    @contextmanager
    def open(self, item: PackageFile) -> Iterator[BinaryIO]:
        """A stream of one file to install (its hash is checked by the caller while copying)."""
        if item.inner is None:
            yield _extract(self._archive, self._member(self._members, item.archive))
            return
        if item.archive not in self._inner:
            member = self._member(self._members, item.archive)
            spooled = _spool(self._archive, member, item.archive, self._hashes.get(item.archive, ""))
            self._spooled.append(spooled)
            inner = tarfile.open(fileobj=spooled, mode="r:*")  # noqa: SIM115 - closed by close()
            self._inner[item.archive] = (inner, {layout.normalise_member(m.name): m for m in inner.getmembers()})
        inner, members = self._inner[item.archive]
        yield _extract(inner, self._member(members, item.inner))

    def close(self) -> None:
        """Close the archive."""
        for inner, _ in self._inner.values():
            inner.close()
        for spooled in self._spooled:
            spooled.close()
        self._archive.close()


class Workdir:
    """A private temporary directory for downloads, removed when join ends."""

    def __init__(self) -> None:
        """Create nothing yet; the directory is made on first use."""
        self._path: Optional[str] = None

    @property
    def path(self) -> str:
        """The directory (created on first use, outside the node root)."""
        if self._path is None:
            self._path = tempfile.mkdtemp(prefix="edgeadm-")
        return self._path

    def remove(self) -> None:
        """Remove the directory and what it holds."""
        if self._path is not None:
            shutil.rmtree(self._path, ignore_errors=True)
            self._path = None
