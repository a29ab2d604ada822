"""L4: SuperEdge's own component binaries, from the directory named by ``SUPEREDGE_BIN``.

The project never builds them: whoever runs ``make l4`` names a directory that holds them. Given that
directory, a missing binary is a failure, never a skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: Every binary the L4 tests run.
BINARIES = ("lite-apiserver", "tunnel", "application-grid-controller", "application-grid-wrapper", "edge-health",
            "edge-health-admission", "edgeadm")


def superedge_bin() -> Path:
    """The directory ``SUPEREDGE_BIN`` names (the tests fail without it)."""
    value = os.environ.get("SUPEREDGE_BIN")
    if not value:
        pytest.fail("SUPEREDGE_BIN is not set: name the directory that holds SuperEdge's binaries "
                    f"({', '.join(BINARIES)})")
    return Path(value)


def superedge_binary(name: str) -> Path:
    """One of SuperEdge's binaries; fails the test when it is missing or not executable."""
    path = superedge_bin() / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{path} is missing or not executable: SUPEREDGE_BIN must hold SuperEdge's {name}")
    return path


def superedge_edgeadm() -> Path:
    """SuperEdge's own ``edgeadm`` (built from superedge/edgeadm by whoever runs ``make l4``, with the fixes it
    needs to start on a current Go), for the adoption test; fails the test when it is missing."""
    return superedge_binary("edgeadm")
