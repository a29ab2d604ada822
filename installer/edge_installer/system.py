"""Everything edgeadm asks of the machine, behind small functions tests can replace.

The clock, the architecture, the hostname, free disk space, and the commands that change the running
system (``systemctl``, ``ip``) go through here. No other module calls ``subprocess`` or reads the clock.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import socket
import subprocess
import time
from typing import List, Optional, Sequence

from edge_installer.errors import InstallerError
from edge_protocol.platforms import go_arch


def now() -> float:
    """Seconds since the epoch, from this node's clock."""
    return time.time()


def machine() -> str:
    """This node's architecture as Kubernetes names it (``amd64``, ``arm64``, ...)."""
    return go_arch(platform.machine())


def operating_system() -> str:
    """``linux``, ``darwin``, ... (lower case)."""
    return platform.system().lower()


def hostname() -> str:
    """This node's host name, lower case, as kubelet would register it."""
    return socket.gethostname().lower()


def is_root() -> bool:
    """Whether edgeadm runs as root."""
    return os.geteuid() == 0


def free_bytes(path: str) -> int:
    """Free bytes on the filesystem holding ``path`` (or its nearest existing parent)."""
    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    return shutil.disk_usage(probe).free


def find_program(name: str) -> Optional[str]:
    """The path of a program on PATH, or None."""
    return shutil.which(name)


def run(argv: Sequence[str], timeout: float = 120.0) -> str:
    """Run a command; return its output, raise InstallerError with its output when it fails.

    Raises:
        InstallerError: The program is missing, or exits non-zero, or runs longer than ``timeout``.
    """
    try:
        result = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                                check=False)
    except FileNotFoundError:
        raise InstallerError(f"cannot run {argv[0]}: it is not installed") from None
    except subprocess.TimeoutExpired:
        raise InstallerError(f"{' '.join(argv)} did not finish within {timeout:.0f} s") from None
    output = result.stdout.decode("utf-8", "replace").strip()
    if result.returncode != 0:
        raise InstallerError(f"{' '.join(argv)} failed with exit code {result.returncode}: {output or 'no output'}")
    return output


def systemctl(args: List[str]) -> str:
    """Run ``systemctl ARGS``: the one seam through which edgeadm starts and stops services.

    Raises:
        InstallerError: systemctl is not installed (the node does not run systemd) or the command failed.
    """
    if find_program("systemctl") is None:
        raise InstallerError(
            "systemctl is not available: edgeadm starts kubelet with systemd, and this machine does not run it",
            "start kubelet another way (the files are written), or skip this phase with --skip-phases start",
        )
    return run(["systemctl", *args])


def _unescape_mount_point(text: str) -> str:
    # /proc/self/mountinfo writes space, tab, newline and backslash as octal escapes.
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), text)


def mounts_below(path: str) -> List[str]:
    """Mount points at or below ``path``, deepest first (the order they can be unmounted in)."""
    prefix = path.rstrip("/")
    found = []
    try:
        with open("/proc/self/mountinfo") as mountinfo:
            for line in mountinfo:
                fields = line.split()
                if len(fields) > 4:
                    point = _unescape_mount_point(fields[4])
                    if point == prefix or point.startswith(prefix + "/"):
                        found.append(point)
    except OSError:
        return []
    return sorted(set(found), key=lambda point: (point.count("/"), point), reverse=True)


def unmount_below(path: str) -> List[str]:
    """Unmount everything mounted at or below ``path`` (pod volumes, kubelet's own bind mount), as kubeadm
    reset does before it removes /var/lib/kubelet; return what was unmounted.

    Raises:
        InstallerError: ``umount`` failed for a mount point.
    """
    unmounted = []
    for point in mounts_below(path):
        run(["umount", point])
        unmounted.append(point)
    return unmounted


def interface_exists(name: str) -> bool:
    """Whether this node's network namespace has an interface ``name`` (asked of iproute2, not /sys, which may
    show another namespace's devices)."""
    try:
        run(["ip", "link", "show", "dev", name], timeout=10)
    except InstallerError:
        return False
    return True


def can_make_dummy_interface() -> Optional[str]:
    """None when this kernel makes dummy interfaces, else why not.

    A probe interface is made and deleted at once: the only reliable test (the dummy driver may be built in,
    a module, or absent).
    """
    if find_program("ip") is None:
        return "iproute2's ip is not installed"
    probe = f"edgeadm{os.getpid() % 100000}"  # interface names have at most 15 characters
    try:
        run(["ip", "link", "add", probe, "type", "dummy"], timeout=10)
    except InstallerError as exc:
        return exc.message
    try:
        run(["ip", "link", "delete", probe], timeout=10)
    except InstallerError as exc:
        return f"the probe interface {probe} was made but could not be deleted: {exc.message}"
    return None
