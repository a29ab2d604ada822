"""User-facing errors of kubectl-edge: one type per kind of failure, each with an exit code and a hint.

The CLI layer turns these into one ``error:`` line plus a ``hint:`` line on stderr; nothing else in the
program prints errors.
"""

from __future__ import annotations

from edge_protocol import exitcodes


class EdgeError(Exception):
    """A failure the user can act on: ``message`` says what is wrong, ``hint`` what to do."""

    exit_code: int = exitcodes.ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigError(EdgeError):
    """The kubeconfig, context or a global flag cannot be used."""


class ClusterUnreachable(EdgeError):
    """No answer from the API server (connection refused, DNS, TLS, timeout)."""


class ClusterError(EdgeError):
    """The API server answered with an error status."""

    def __init__(self, message: str, hint: str | None = None, *, status: int = 0, reason: str = "") -> None:
        super().__init__(message, hint)
        self.status = status
        self.reason = reason


class NotFound(ClusterError):
    """The object does not exist."""


class AlreadyExists(ClusterError):
    """The object exists already."""


class Conflict(ClusterError):
    """The object changed under us (resourceVersion or a ``test`` operation failed)."""


class Forbidden(ClusterError):
    """The user lacks a permission."""


class Unauthorized(ClusterError):
    """The credentials were not accepted."""


class Invalid(ClusterError):
    """The API server rejected the object as invalid."""


class PreconditionFailed(EdgeError):
    """A check made before any change failed; nothing was changed."""

    exit_code = exitcodes.PRECONDITION


class WaitTimeout(EdgeError):
    """A wait for a condition ran out of time."""

    exit_code = exitcodes.TIMEOUT


class Aborted(EdgeError):
    """The user declined a confirmation or interrupted the command."""

    exit_code = exitcodes.INTERRUPTED
