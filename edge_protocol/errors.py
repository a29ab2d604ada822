"""Errors raised by the shared protocol: one type per kind of malformed input.

Every error is a :class:`ValueError`, so callers that only care about "bad input" catch one type, and each
carries a message that says what is wrong and, where one helps, a hint that says what to do.
"""

from __future__ import annotations

from typing import Optional


class ProtocolError(ValueError):
    """Input that does not follow the protocol; ``message`` says what is wrong, ``hint`` what to do."""

    def __init__(self, message: str, hint: Optional[str] = None) -> None:
        """Create the error.

        Args:
            message: What is wrong, in one sentence, without secrets.
            hint: An optional remediation, in one sentence.
        """
        super().__init__(message)
        self.message = message
        self.hint = hint


class TokenError(ProtocolError):
    """A bootstrap token, token ID, usage, group or token Secret is malformed."""


class DurationError(ProtocolError):
    """A duration such as ``--ttl`` is malformed."""


class CertificateError(ProtocolError):
    """PEM or DER data is not a well-formed X.509 certificate."""


class PinError(ProtocolError):
    """A CA pin (``--discovery-token-ca-cert-hash``) is malformed."""


class EndpointError(ProtocolError):
    """An API server address (``HOST[:PORT]``) is malformed."""


class JoinCommandError(ProtocolError):
    """A join command line is malformed."""
