"""Machine names as Kubernetes and Go spell them (``amd64``, ``arm64``), from ``uname -m`` spellings."""

from __future__ import annotations

_GO_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
            "armv8l": "arm64", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64", "i686": "386",
            "i386": "386"}


def go_arch(machine: str) -> str:
    """The Go/Kubernetes architecture name for a ``platform.machine()`` value (unknown ones unchanged)."""
    return _GO_ARCH.get(machine.lower(), machine.lower())
