"""The static install package: SuperEdge's layout plus ``edge-install/manifest.json`` (SPEC 5).

``kube-linux-<arch>-v<version>.tar.gz`` holds ``edge-install/bin`` (kubelet, and optionally kubectl,
conntrack, lite-apiserver), ``edge-install/cni`` (``cni-plugins-*.tgz``), ``edge-install/container`` and
``edge-install/script``, as SuperEdge's packages do, and ``edge-install/manifest.json``: the architecture,
the Kubernetes version and the SHA-256 of every other regular file. ``kubectl edge package build`` writes
it; ``edgeadm`` checks it. The member-path rules here are what makes extraction safe: nothing may land
outside the target directory.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

from edge_protocol.errors import ProtocolError
from edge_protocol.versions import KubeVersion, VersionError

TOP = "edge-install"
BIN = f"{TOP}/bin"
CNI = f"{TOP}/cni"
CONTAINER = f"{TOP}/container"
SCRIPT = f"{TOP}/script"
MANIFEST = f"{TOP}/manifest.json"
MANIFEST_FORMAT = 1
KUBELET = f"{BIN}/kubelet"
LITE_APISERVER = f"{BIN}/lite-apiserver"
#: The only names under ``edge-install/bin`` that are installed into ``/usr/bin``: SuperEdge's package
#: carries the first four, and crictl is the container runtime's client kubeadm nodes have. Anything else
#: could replace one of the node's own programs (a package's ``bin/sh``).
INSTALLABLE_BINARIES = ("kubelet", "kubectl", "conntrack", "lite-apiserver", "crictl")

_FILE_NAME = re.compile(r"kube-linux-([a-z0-9]+)-v([0-9]+\.[0-9]+\.[0-9]+[0-9A-Za-z.+-]*)\.(?:tar\.gz|tgz)")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_UNSAFE_HINT = "the package is damaged or was made to attack this node; build one with kubectl edge package build"


class PackageFormatError(ProtocolError):
    """An install package or one of its members breaks the format or its safety rules."""


def package_file_name(architecture: str, kubernetes_version: str) -> str:
    """``kube-linux-<arch>-v<version>.tar.gz``, the name SuperEdge gives its packages."""
    return f"kube-linux-{architecture}-v{kubernetes_version.lstrip('v')}.tar.gz"


def parse_package_file_name(name: str) -> Optional[Tuple[str, str]]:
    """``(architecture, "v<version>")`` from a package file name, or None when it is not named that way."""
    match = _FILE_NAME.fullmatch(posixpath.basename(name))
    return (match.group(1), "v" + match.group(2)) if match else None


def normalise_member(name: str) -> str:
    """A member's path without a leading ``./`` or trailing ``/``, checked to stay inside the target.

    Raises:
        PackageFormatError: The path is absolute or has a ``..`` component.
    """
    if name.startswith("/") or re.match(r"[A-Za-z]:[\\/]", name):
        raise PackageFormatError(f"the package member {name!r} has an absolute path", _UNSAFE_HINT)
    parts = [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]
    if ".." in parts:
        raise PackageFormatError(f"the package member {name!r} climbs out of the target directory with '..'",
                                 _UNSAFE_HINT)
    return "/".join(parts)


def check_bin_name(name: str) -> None:
    """Check that a member directly under ``edge-install/bin`` is one of :data:`INSTALLABLE_BINARIES`.

    Raises:
        PackageFormatError: It is another name (it would be installed over a program of the node).
    """
    base = posixpath.basename(normalise_member(name))
    if base not in INSTALLABLE_BINARIES:
        raise PackageFormatError(
            f"the package member {name!r} would be installed as /usr/bin/{base}, which is not one of the package's "
            f"binaries ({', '.join(INSTALLABLE_BINARIES)})",
            "a package carries only these under edge-install/bin; install other programs with the node's package "
            "manager")


def check_link(name: str, target: str, hard: bool) -> str:
    """Check that a link member points inside the target; return the archive path it points to.

    A symbolic link is resolved relative to its own directory; a hard link names an archive path.

    Raises:
        PackageFormatError: The link is absolute or leads out of the target.
    """
    kind = "hard link" if hard else "symbolic link"
    if target.startswith("/"):
        raise PackageFormatError(f"the package member {name!r} is a {kind} to {target!r}, outside the target "
                                 "directory", _UNSAFE_HINT)
    base = normalise_member(name)
    joined = target if hard else posixpath.join(posixpath.dirname(base), target)
    resolved = posixpath.normpath(joined)
    if resolved == ".." or resolved.startswith("../") or resolved == ".":
        raise PackageFormatError(f"the package member {name!r} is a {kind} to {target!r}, outside the target "
                                 "directory", _UNSAFE_HINT)
    return resolved


@dataclass(frozen=True)
class Manifest:
    """``edge-install/manifest.json``.

    Attributes:
        architecture: Go architecture of the binaries (``amd64``, ``arm64``).
        kubernetes_version: The kubelet's version, ``v1.X.Y``.
        files: SHA-256 (hex) of every regular file in the package except the manifest, by archive path.
    """

    architecture: str
    kubernetes_version: str
    files: Dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        """The manifest's text: sorted keys, two-space indent, final newline (deterministic)."""
        document = {"format": MANIFEST_FORMAT, "architecture": self.architecture,
                    "kubernetesVersion": self.kubernetes_version, "files": dict(sorted(self.files.items()))}
        return json.dumps(document, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse and check a manifest.

        Raises:
            PackageFormatError: It is not a manifest of a format this version understands.
        """
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise PackageFormatError(f"{MANIFEST} is not valid JSON ({exc})") from None
        if not isinstance(document, dict) or document.get("format") != MANIFEST_FORMAT:
            raise PackageFormatError(f"{MANIFEST} is not a manifest of format {MANIFEST_FORMAT}",
                                     "build the package with a kubectl-edge of the same release as edgeadm")
        architecture = document.get("architecture")
        version = document.get("kubernetesVersion")
        files = document.get("files")
        if not isinstance(architecture, str) or not isinstance(version, str) or not isinstance(files, dict):
            raise PackageFormatError(f"{MANIFEST} lacks architecture, kubernetesVersion or files")
        try:
            KubeVersion.parse(version)
        except VersionError as exc:
            raise PackageFormatError(exc.message) from None
        for path, digest in files.items():
            if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
                raise PackageFormatError(f"{MANIFEST} has no valid sha256 for {path!r}")
            normalise_member(path)
        return cls(architecture, version, {str(k): str(v) for k, v in files.items()})
