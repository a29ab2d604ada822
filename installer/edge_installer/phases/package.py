"""Phase 4, package: install the binaries and CNI plugins of the checked install package, journaled."""

from __future__ import annotations

import functools
import os

from edge_installer.config import KUBELET_BINARY
from edge_installer.join import JoinContext
from edge_installer.package import PackageReader

PHASE = "package"


def run(context: JoinContext) -> None:
    """Install each file of the package that differs from what is on the node."""
    package = context.package()
    if package is None:
        kubelet = context.changes.host(KUBELET_BINARY)
        context.out.progress(PHASE, "no --install-pkg-path: using the kubelet and CNI plugins already on this node")
        if not os.path.exists(kubelet):
            context.out.warn(PHASE, f"{kubelet} does not exist; install kubelet before starting it")
        return
    reader = PackageReader(package)
    installed = 0
    try:
        for item in package.files:
            if context.changes.install_file(PHASE, item.target, functools.partial(reader.open, item), item.sha256,
                                            item.size, item.mode, item.source):
                installed += 1
    finally:
        reader.close()
    if not context.options.dry_run:
        context.out.progress(PHASE, f"installed {installed} file(s) ({len(package.files) - installed} unchanged)")
