"""The ``edgeadm`` zipapp that ``kubectl edge installer`` writes out.

A wheel carries it prebuilt as ``kubectl_edge/_data/edgeadm`` (made at wheel build time by
``installer/hatch_build.py``). A source checkout or an editable install has no prebuilt copy, so it is
built on demand from ``installer/`` next to the package, with the same reproducible builder: the same
sources give the same bytes either way, and the on-demand copy can never be stale.
"""

from __future__ import annotations

import importlib.util
from importlib import resources
from pathlib import Path
from types import ModuleType

from kubectl_edge.errors import PreconditionFailed

PREBUILT = "_data/edgeadm"


def _builder(checkout: Path) -> ModuleType | None:
    script = checkout / "installer" / "build.py"
    if not script.is_file():
        return None
    spec = importlib.util.spec_from_file_location("edgeadm_build", script)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def installer_archive() -> tuple[bytes, str]:
    """The zipapp's bytes, and where they came from (``prebuilt`` or ``built from <dir>``).

    Raises:
        PreconditionFailed: This installation has neither the prebuilt file nor the sources.
    """
    prebuilt = resources.files("kubectl_edge").joinpath(PREBUILT)
    if prebuilt.is_file():
        return prebuilt.read_bytes(), "prebuilt"
    package_dir = Path(str(resources.files("kubectl_edge")))
    checkout = package_dir.parent
    builder = _builder(checkout)
    if builder is None:
        raise PreconditionFailed("this kubectl-edge carries no edgeadm installer (neither the prebuilt file nor "
                                 "the installer/ sources)", "install kubectl-edge from its wheel")
    data: bytes = builder.build_archive(checkout)
    return data, f"built from {checkout / 'installer'}"
