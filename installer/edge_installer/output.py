"""What edgeadm prints: ``[phase] message`` progress on stderr (as kubeadm), data and dry-run plans on stdout."""

from __future__ import annotations

import sys
from typing import Optional, TextIO


class Output:
    """Where progress, warnings, dry-run lines and results go."""

    def __init__(self, verbosity: int = 0, out: Optional[TextIO] = None, err: Optional[TextIO] = None) -> None:
        """Create the printer.

        Args:
            verbosity: ``-v`` level; 4 and more print debug lines.
            out: Data and dry-run plans (default: the current sys.stdout).
            err: Progress, warnings and errors (default: the current sys.stderr).
        """
        self.verbosity = verbosity
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr

    def progress(self, phase: str, message: str) -> None:
        """One progress line, ``[phase] message``."""
        self.err.write(f"[{phase}] {message}\n")
        self.err.flush()

    def warn(self, phase: str, message: str) -> None:
        """A warning line: something the user should know, which does not stop the run."""
        self.err.write(f"[{phase}] WARNING: {message}\n")
        self.err.flush()

    def debug(self, phase: str, message: str) -> None:
        """A line shown only with ``-v 4`` or more."""
        if self.verbosity >= 4:
            self.progress(phase, message)

    def data(self, text: str) -> None:
        """Text on stdout (results, dry-run plans)."""
        self.out.write(text if text.endswith("\n") else text + "\n")
        self.out.flush()
