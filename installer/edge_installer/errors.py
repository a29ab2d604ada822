"""Errors edgeadm reports: a message that says what is wrong, a hint that says what to do, an exit code."""

from __future__ import annotations

from typing import Optional

from edge_protocol import exitcodes


class InstallerError(Exception):
    """A failure the user can act on; the CLI prints ``error: <message>`` and ``hint: <hint>``."""

    exit_code = exitcodes.ERROR

    def __init__(self, message: str, hint: Optional[str] = None) -> None:
        """Create the error.

        Args:
            message: What is wrong, in one or two sentences, without secrets.
            hint: What to do about it, in one sentence.
        """
        super().__init__(message)
        self.message = message
        self.hint = hint
        #: The join phase that failed, set by the phase runner.
        self.phase: Optional[str] = None


class UsageError(InstallerError):
    """A flag or argument is wrong."""

    exit_code = exitcodes.USAGE


class PreconditionError(InstallerError):
    """A check made before any change failed: preflight, discovery or the package; nothing was changed."""

    exit_code = exitcodes.PRECONDITION


class DiscoveryError(PreconditionError):
    """Discovery of the cluster failed (SPEC 4.1 phase 2); ``reason`` names which way, for tests and logs."""

    def __init__(self, reason: str, message: str, hint: Optional[str] = None) -> None:
        """Create the error.

        Args:
            reason: A stable short name of the failure (``unreachable``, ``pin-mismatch``, ...).
            message: What is wrong.
            hint: What to do.
        """
        super().__init__(message, hint)
        self.reason = reason


class PackageError(PreconditionError):
    """The install package cannot be used (checksum, unsafe member, wrong architecture, ...)."""


class Aborted(InstallerError):
    """The user declined a confirmation."""

    exit_code = exitcodes.INTERRUPTED


class WaitTimeout(InstallerError):
    """A wait (TLS bootstrap, node registration) ran out of time."""

    exit_code = exitcodes.TIMEOUT
