"""Phase 2, discovery: find and verify the cluster (see :mod:`edge_installer.discovery`). Changes nothing."""

from __future__ import annotations

from edge_installer.join import JoinContext

PHASE = "discovery"


def run(context: JoinContext) -> None:
    """Run discovery now, so its failures come before any change to the node."""
    found = context.discovery()
    version = found.server_version.get("gitVersion", "unknown version")
    context.out.progress(PHASE, f"the cluster runs Kubernetes {version}; this node will reach it at "
                                f"{context.api_server_url()}")
