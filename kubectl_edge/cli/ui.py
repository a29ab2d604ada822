"""Progress lines on stderr (data goes to stdout only)."""

from __future__ import annotations

import sys


def progress(phase: str, message: str) -> None:
    """One ``[phase] message`` line on stderr, as kubeadm prints its phases."""
    sys.stderr.write(f"[{phase}] {message}\n")
    sys.stderr.flush()
