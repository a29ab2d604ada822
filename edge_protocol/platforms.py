"""Machine names as Kubernetes and Go spell them (``amd64``, ``arm64``), from ``uname -m`` spellings."""

from __future__ import annotations

from typing import Literal, Optional

_GO_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
            "armv8l": "arm64", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64", "i686": "386",
            "i386": "386"}


def go_arch(machine: str) -> str:
    """The Go/Kubernetes architecture name for a ``platform.machine()`` value (unknown ones unchanged)."""
    return _GO_ARCH.get(machine.lower(), machine.lower())


# ELF e_machine values (System V ABI) of the architectures Kubernetes ships binaries for.
_ELF_MACHINES = {0x3E: "amd64", 0xB7: "arm64", 0x28: "arm", 0x03: "386", 0x16: "s390x", 0xF3: "riscv64"}
_EM_PPC64 = 0x15


def elf_arch(header: bytes) -> Optional[str]:
    """The Go architecture of an ELF executable from its first 20 bytes, or None when it is not ELF."""
    if len(header) < 20 or header[:4] != b"\x7fELF" or header[5] not in (1, 2):
        return None
    order: Literal["little", "big"] = "little" if header[5] == 1 else "big"
    machine = int.from_bytes(header[18:20], order)
    if machine == _EM_PPC64:
        return "ppc64le" if order == "little" else "ppc64"
    return _ELF_MACHINES.get(machine, f"elf-machine-{machine}")
