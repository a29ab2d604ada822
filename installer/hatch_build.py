"""Hatch build hook: put the edgeadm zipapp into the wheel as ``kubectl_edge/_data/edgeadm``.

It is built into a temporary directory and force-included, so the source tree never holds a copy that
could go stale. Editable installs skip it: there ``kubectl edge installer`` builds from ``installer/``.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface  # type: ignore[import-not-found]

TARGET = "kubectl_edge/_data/edgeadm"


class EdgeadmBuildHook(BuildHookInterface):  # type: ignore[misc]
    """Builds edgeadm with installer/build.py and adds it to the wheel."""

    PLUGIN_NAME = "edgeadm"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Build the archive for a regular (not editable) wheel."""
        if self.target_name != "wheel" or version == "editable":
            return
        root = Path(self.root)
        spec = importlib.util.spec_from_file_location("edgeadm_build", root / "installer" / "build.py")
        assert spec is not None and spec.loader is not None
        builder = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(builder)
        self._workdir = tempfile.mkdtemp(prefix="edgeadm-wheel-")
        archive = Path(self._workdir) / "edgeadm"
        builder.write_executable(archive, builder.build_archive(root))
        build_data["force_include"][str(archive)] = TARGET

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        """Remove the temporary build directory."""
        workdir = getattr(self, "_workdir", None)
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)
