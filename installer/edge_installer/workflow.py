"""The phase runner, after kubeadm's workflow package: select phases, run them in order, name the failing one."""

from __future__ import annotations

import importlib
from typing import Any, FrozenSet, List, Optional

from edge_installer.errors import InstallerError, UsageError
from edge_installer.phases import JOIN_PHASES, PHASE_NAMES


def check_phase_names(names: FrozenSet[str], flag: str) -> None:
    """Refuse unknown phase names, listing the valid ones.

    Raises:
        UsageError: A name is not a phase of join.
    """
    unknown = sorted(names - set(PHASE_NAMES))
    if unknown:
        raise UsageError(f"invalid phase name(s) in {flag}: {', '.join(unknown)}",
                         f"the phases are: {', '.join(PHASE_NAMES)}")


class Runner:
    """Runs the selected phases of join in order."""

    def __init__(self, skip: FrozenSet[str] = frozenset(), only: Optional[str] = None) -> None:
        """Select phases: all but ``skip``, or just ``only`` (``edgeadm join phase NAME``).

        Raises:
            UsageError: A phase name is unknown.
        """
        check_phase_names(skip, "--skip-phases")
        if only is not None:
            check_phase_names(frozenset([only]), "phase")
        self.selected: List[str] = [name for name in PHASE_NAMES
                                    if name not in skip and (only is None or name == only)]

    def run(self, context: Any) -> None:
        """Run each selected phase; an error is tagged with the phase it came from.

        Raises:
            InstallerError: A phase failed; ``phase`` is set on it.
        """
        modules = {name: module for name, module, _ in JOIN_PHASES}
        for name in self.selected:
            phase = importlib.import_module(f"edge_installer.phases.{modules[name]}")
            try:
                phase.run(context)
            except InstallerError as exc:
                if exc.phase is None:
                    exc.phase = name
                raise
